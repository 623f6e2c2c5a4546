"""What `up` hands to the checker: `inventory.yml` (the design's format) and `env`."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import yaml


def env_vars(lab: dict[str, Any]) -> dict[str, str]:
    """The secrets the inventory names, by variable."""
    out: dict[str, str] = {}
    for s in lab["sites"]:
        out[s["token_env"]] = s["token"]
        out[s["dsn_env"]] = s["db"].get("inventory_dsn") or s["db"]["dsn"]
        if s["db"].get("moved_from"):
            out[_old_password_env(s)] = s["db"]["moved_from"]["password"]
        if s.get("s3"):
            out[f"{s['slug']}_S3_KEY"] = s["s3"]["accesskey"]
            out[f"{s['slug']}_S3_SECRET"] = s["s3"]["secretkey"]
    return out


def _old_password_env(s: dict[str, Any]) -> str:
    return f"{s['slug']}_OLD_REGISTRY_DB_PASSWORD"


def _metadata_db(s: dict[str, Any]) -> dict[str, Any]:
    """`metadata_db`, with `moved_from` (the bundled PostgreSQL it left, in discrete keys
    and a password variable) for a site whose database `move-db` moved."""
    old = s["db"].get("moved_from")
    if not old:
        return {"dsn_env": s["dsn_env"]}
    return {"dsn_env": s["dsn_env"],
            "moved_from": {"host": old["host"], "port": old["port"], "dbname": old["dbname"],
                           "user": old["user"], "password_env": _old_password_env(s)}}


def _host(lab: dict[str, Any], root: str) -> dict[str, Any]:
    """A host entry: the root read locally, or over the lab's sshd as its sudo user."""
    ssh = lab.get("ssh")
    if not ssh:
        return {"target": "local://", "root": root}
    return {"target": ssh["target"], "root": root, "ssh_config": ssh["config"],
            "ssh_identity_file": ssh["identity"], "sudo": True}


def hosts(lab: dict[str, Any], s: dict[str, Any]) -> dict[str, Any]:
    """`host:` for a one-node site; `hosts:` (the main node and the others) for several."""
    if not s.get("nodes"):
        return {"host": _host(lab, s["root"])}
    return {"hosts": [{"name": "main", **_host(lab, s["root"])}] + [
        {"name": n["name"], **_host(lab, n["root"]), "roles": n["roles"]}
        for n in s["nodes"]]}


def _storage(lab: dict[str, Any], s: dict[str, Any]) -> dict[str, Any]:
    """`registry.storage` for a site on the lab's S3, unless the scenario leaves it out
    (`inventory_storage: false`: the checker then has no read access to the bucket)."""
    if not s.get("s3") or lab.get("inventory_storage") is False:
        return {}
    return {"storage": {"s3": {"endpoint": s["s3"]["endpoint"], "bucket": s["s3"]["bucket"],
                               "region": s["s3"]["region"],
                               "access_key_env": f"{s['slug']}_S3_KEY",
                               "secret_key_env": f"{s['slug']}_S3_SECRET"}}}


def _ca(lab: dict[str, Any]) -> dict[str, Any]:
    """`gitlab.ca_bundle`: the lab's CA when it serves HTTPS, unless the scenario leaves it
    out (`inventory_ca: false`: the checker then cannot verify the certificates)."""
    if not lab.get("tls") or lab.get("inventory_ca") is False:
        return {}
    return {"ca_bundle": str(Path(lab["dir"]) / "keys" / "tls-ca.pem")}


def inventory(lab: dict[str, Any]) -> dict[str, Any]:
    sites = []
    for s in lab["sites"]:
        if s["name"] in lab.get("inventory_omit", []):
            continue
        sites.append({
            "name": s["name"],
            "role": s["role"],
            "gitlab": {"url": s["external_url"], "token_env": s["token_env"],
                       "username": s["username"], **_ca(lab)},
            "registry": {"url": s["registry_url"], **_storage(lab, s)},
            "metadata_db": _metadata_db(s),
            **hosts(lab, s),
        })
    return {"deployment": lab["deployment"], "sites": sites,
            "timeouts": {"connect_s": 5, "read_s": 10}}


def write(lab: dict[str, Any], lab_dir: Path) -> None:
    head = (f"# geopreflight lab: scenario {lab['scenario']} ({lab['description']})\n"
            f"# secrets: source {lab_dir / 'env'}\n")
    (lab_dir / "inventory.yml").write_text(head + yaml.safe_dump(inventory(lab), sort_keys=False))
    lines = [f"export {k}={shlex.quote(v)}" for k, v in env_vars(lab).items()]
    env = lab_dir / "env"
    env.write_text("# geopreflight lab secrets (random per run)\n" + "\n".join(lines) + "\n")
    env.chmod(0o600)
