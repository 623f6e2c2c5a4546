"""`python -m lab ...`: up, down, scenarios, status, gc, push, and the operator's actions.

The top of the lab's modules: it imports deploy, teardown, actions, scenario and model, and
nothing in lab/ imports it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lab import actions, deploy, model, scenario, teardown


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line of `python -m lab`."""
    return _parser().parse_args(argv)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lab",
                                     description="A local GitLab Geo + registry lab.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("up", help="start a lab and write DIR/inventory.yml and DIR/env")
    p.add_argument("--scenario", required=True, help="a built-in name or a YAML file")
    p.add_argument("--dir", required=True)
    p.add_argument("--ssh", action="store_true",
                   help="run an sshd and read the host roots over SSH as a sudo user")
    p.add_argument("--owner", type=int, metavar="PID",
                   help="the process the lab lives with: once it is gone, the next up or gc "
                        "takes the lab down (default: none, the lab stays until down)")
    actions.command(sub, "down", "stop everything a lab runs", site=False)
    sub.add_parser("scenarios", help="list the built-in scenarios")
    sub.add_parser("gc", help="take down every lab whose directory or owner process is gone")
    actions.command(sub, "status", "what a lab runs and the state of each site", site=False)
    actions.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        if args.cmd == "scenarios":
            for name in scenario.builtin_names():
                print(f"{name:32} {scenario.load(name)['description']}")
        elif args.cmd == "up":
            lab = deploy.up(args.scenario, Path(args.dir), owner=args.owner, ssh=args.ssh)
            d = Path(lab["dir"])
            print(f"lab {lab['scenario']} up in {lab['up_seconds']}s")
            for s in lab["sites"]:
                print(f"  {s['name']:14} {s['role']:9} gitlab {s['external_url']}  "
                      f"registry {s['registry_url']}  db {s['db']['kind']} :{s['db']['port']}")
            print(f"inventory: {d / 'inventory.yml'}\nsecrets:   source {d / 'env'}")
        elif args.cmd == "gc":
            for d, why in teardown.gc(quiet=False).items():
                print(f"took down the lab of {d} ({why})")
        elif args.cmd == "status":
            print("\n".join(model.status(Path(args.dir))))
        elif args.cmd == "down":
            teardown.down(Path(args.dir))
        else:
            actions.act(args)
    except (model.LabError, scenario.ScenarioError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
