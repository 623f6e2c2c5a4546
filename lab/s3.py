"""A real S3 API on loopback for sites whose registry runs on object storage.

`moto[server]` (a test extra) serves the S3 API on 127.0.0.1 at the lab's port, one bucket
per such site (`registry.storage: s3` in the scenario). The registry process uses its own
`s3` storage driver against it (path-style, SigV4), and the lab writes the storage lockfiles
into the bucket where the registry's driver keeps them; the checker reads them with
`registry.storage` in the inventory. State lives in the server's memory, gone with the lab.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from lab import procs

REGION = "us-east-1"
LOCKFILES = "docker/registry/lockfiles"


def start(run_dir: Path, port: int, timeout: float = 20.0) -> int:
    """Start the S3 server and wait until it listens."""
    return procs.spawn_listening("s3", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                                        "-p", str(port)], run_dir, port, "the S3 server",
                                 timeout)


def client(s3: dict[str, Any]) -> Any:
    """A boto3 client for the lab's own set-up (the checker never uses this)."""
    import boto3

    return boto3.client("s3", endpoint_url=s3["endpoint"], region_name=s3["region"],
                        aws_access_key_id=s3["accesskey"],
                        aws_secret_access_key=s3["secretkey"])


def create_bucket(s3: dict[str, Any]) -> None:
    client(s3).create_bucket(Bucket=s3["bucket"])


def set_lockfile(s3: dict[str, Any], which: str | None) -> None:
    """Leave exactly `which` (`filesystem-in-use`, `database-in-use`) or no lockfile."""
    c = client(s3)
    for name in ("filesystem-in-use", "database-in-use"):
        if name != which:
            c.delete_object(Bucket=s3["bucket"], Key=f"{LOCKFILES}/{name}")
    if which:
        c.put_object(Bucket=s3["bucket"], Key=f"{LOCKFILES}/{which}", Body=b"")


def has_repositories(s3: dict[str, Any]) -> bool:
    """Whether the registry wrote any repository into the bucket."""
    got = client(s3).list_objects_v2(Bucket=s3["bucket"], MaxKeys=1,
                                     Prefix="docker/registry/v2/repositories/")
    return bool(got.get("KeyCount"))


def driver_config(s3: dict[str, Any]) -> dict[str, Any]:
    """The registry's `storage.s3` section for the bucket (distribution's s3 driver)."""
    return {"accesskey": s3["accesskey"], "secretkey": s3["secretkey"],
            "region": s3["region"], "regionendpoint": s3["endpoint"], "bucket": s3["bucket"],
            "secure": False, "v4auth": True, "rootdirectory": "/"}
