"""`python -m lab ...`: up, down, scenarios, status, gc, push, and the operator's actions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lab import actions, deploy, scenario

# the actions a scenario's `then:` may name
ACTIONS = ("import", "finish-import", "set-read-only", "enable-registry", "setup-metadata-db",
           "setup-geo", "configure-replication", "move-db", "push", "wait-sync")


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line of `python -m lab`."""
    return _parser().parse_args(argv)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lab",
                                     description="A local GitLab Geo + registry lab.")
    sub = parser.add_subparsers(dest="cmd", required=True)

    def cmd(name: str, text: str, site: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=text)
        p.add_argument("--dir", required=True)
        if site:
            p.add_argument("--site", required=True)
        return p

    p = sub.add_parser("up", help="start a lab and write DIR/inventory.yml and DIR/env")
    p.add_argument("--scenario", required=True, help="a built-in name or a YAML file")
    p.add_argument("--dir", required=True)
    p.add_argument("--ssh", action="store_true",
                   help="run an sshd and read the host roots over SSH as a sudo user")
    cmd("down", "stop everything a lab runs", site=False)
    sub.add_parser("scenarios", help="list the built-in scenarios")
    sub.add_parser("gc", help="take down every lab whose directory is gone")
    cmd("status", "what a lab runs and the state of each site", site=False)
    p = cmd("import", "gitlab-ctl registry-database import [--step-one|two|three], one site")
    p.add_argument("--step", choices=("one", "two", "three"),
                   help="a step of the three-step import (default: the one-step import)")
    p.add_argument("--interrupt", action="store_true",
                   help="stop the tag import after the first repository")
    p.add_argument("--skip-half", action="store_true",
                   help="a defect: skip every other repository, finish and swap the lockfiles")
    p.add_argument("--rate", type=float, metavar="REPOS_PER_S",
                   help="slow the import to at most this many repositories a second")
    p.add_argument("--freeze-after", type=int, metavar="N",
                   help="hang after N repositories (alive, writing nothing): a stalled import")
    cmd("finish-import", "database enabled, read-only off, reconfigure")
    p = cmd("set-read-only", "read-only maintenance mode on or off, reconfigure")
    p.add_argument("state", choices=("on", "off"))
    cmd("enable-registry", "enable the container registry on a site")
    cmd("setup-metadata-db", "migrate a new registry's database and enable it")
    cmd("setup-geo", "make the primary the Geo primary and the others its secondaries",
        site=False)
    cmd("configure-replication", "the primary's geo_event endpoint, the secondaries' "
        "registry replication", site=False)
    p = cmd("move-db", "move a bundled registry database to a new external PostgreSQL")
    p.add_argument("--half", action="store_true", help="leave it half restored (no tags)")
    p = cmd("push", "push a tiny image to a site's registry")
    p.add_argument("image", help="IMAGE[:TAG]")
    p = cmd("wait-sync", "wait until a secondary's replicator handled a pushed image")
    p.add_argument("image", help="IMAGE:TAG")
    return parser


def act(args: argparse.Namespace) -> None:
    """Run one operator action (`import`, `move-db`, ...)."""
    d = Path(args.dir)
    if args.cmd == "import":
        actions.import_(d, args.site, args.step, args.interrupt, skip_half=args.skip_half,
                        rate=args.rate, freeze_after=args.freeze_after)
    elif args.cmd == "finish-import":
        actions.finish_import(d, args.site)
    elif args.cmd == "set-read-only":
        actions.set_read_only(d, args.site, args.state == "on")
    elif args.cmd == "enable-registry":
        actions.enable_registry(d, args.site)
    elif args.cmd == "setup-metadata-db":
        actions.setup_metadata_db(d, args.site)
    elif args.cmd == "setup-geo":
        actions.setup_geo(d)
    elif args.cmd == "configure-replication":
        actions.configure_replication(d)
    elif args.cmd == "move-db":
        actions.move_db(d, args.site, args.half)
    elif args.cmd == "wait-sync":
        actions.wait_sync(d, args.site, args.image)
    elif args.cmd == "push":
        print(deploy.push(d, args.site, args.image))


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        if args.cmd == "scenarios":
            for name in scenario.builtin_names():
                print(f"{name:32} {scenario.load(name)['description']}")
        elif args.cmd == "up":
            lab = deploy.up(args.scenario, Path(args.dir), ssh=args.ssh)
            d = Path(lab["dir"])
            print(f"lab {lab['scenario']} up in {lab['up_seconds']}s")
            for s in lab["sites"]:
                print(f"  {s['name']:14} {s['role']:9} gitlab {s['external_url']}  "
                      f"registry {s['registry_url']}  db {s['db']['kind']} :{s['db']['port']}")
            print(f"inventory: {d / 'inventory.yml'}\nsecrets:   source {d / 'env'}")
        elif args.cmd == "gc":
            for d in deploy.gc(quiet=False):
                print(f"took down the lab of {d} (directory gone)")
        elif args.cmd == "status":
            print("\n".join(deploy.status(Path(args.dir))))
        elif args.cmd == "down":
            deploy.down(Path(args.dir))
        else:
            act(args)
    except (deploy.LabError, scenario.ScenarioError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
