"""`python -m lab ...`: up, down, scenarios, import, finish-import, push, status, gc."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lab import deploy, scenario


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab",
                                     description="A local two-site GitLab Geo + registry lab.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("up", help="start a lab and write DIR/inventory.yml and DIR/env")
    p.add_argument("--scenario", required=True, help="a built-in name or a YAML file")
    p.add_argument("--dir", required=True)
    p = sub.add_parser("down", help="stop everything a lab runs")
    p.add_argument("--dir", required=True)
    sub.add_parser("scenarios", help="list the built-in scenarios")
    sub.add_parser("gc", help="take down every lab whose directory is gone")
    p = sub.add_parser("status", help="what a lab runs and the state of each site")
    p.add_argument("--dir", required=True)
    for name, text in (("import", "gitlab-ctl registry-database import, on one site"),
                       ("finish-import", "database enabled, read-only off, reconfigure")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--dir", required=True)
        p.add_argument("--site", required=True)
    p = sub.add_parser("push", help="push a tiny image to a site's registry")
    p.add_argument("--dir", required=True)
    p.add_argument("--site", required=True)
    p.add_argument("image", help="IMAGE[:TAG]")
    args = parser.parse_args(argv)

    try:
        if args.cmd == "scenarios":
            for name in scenario.builtin_names():
                print(f"{name:32} {scenario.load(name)['description']}")
        elif args.cmd == "up":
            lab = deploy.up(args.scenario, Path(args.dir))
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
        elif args.cmd == "import":
            deploy.import_(Path(args.dir), args.site)
        elif args.cmd == "finish-import":
            deploy.finish_import(Path(args.dir), args.site)
        elif args.cmd == "push":
            print(deploy.push(Path(args.dir), args.site, args.image))
    except (deploy.LabError, scenario.ScenarioError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
