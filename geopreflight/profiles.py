"""Load and validate `profile_files/<name>.yml`, and turn a step into its rows.

A profile maps one scenario of GitLab's page to ordered steps. Each step lists the checks that
must pass before it starts (`requires`, blocking), those worth reporting (`advises`), those
that show it is complete (`completes`), those that show its action has begun (`started`), and
those that must hold while it is under way (`during`). An entry is a check id,
`{check: ID, roles: [primary|secondary], method: one-step|three-step}` or `{group: NAME}`, a
named list declared once: in `profile_files/groups.yml`, the groups every profile may use (the
baseline every step after Geo repeats), or under the profile's own `groups:` where one profile
differs. A profile's group never redefines a shared one: the same name meaning two lists would
let an edit of groups.yml silently miss a profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .catalog import CATALOG, ROLES, CheckMeta
from .errors import UsageError
from .inventory import Inventory, Site
from .schema import Reader
from .yamlfile import LineDict, LineList, load

PROFILE_DIR = Path(__file__).resolve().parent / "profile_files"
GROUPS_FILE = "groups.yml"  # the groups the profiles share, beside them; not a profile
KINDS = ("requires", "advises", "completes", "started", "during")
METHODS = ("one-step", "three-step")


@dataclass(frozen=True)
class Entry:
    check: CheckMeta
    roles: tuple[str, ...]
    methods: tuple[str, ...] = METHODS  # the import methods the entry applies to


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    requires: tuple[Entry, ...]
    advises: tuple[Entry, ...]
    completes: tuple[Entry, ...]
    started: tuple[Entry, ...] = ()
    during: tuple[Entry, ...] = ()


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    doc: str
    steps: tuple[Step, ...]
    path: str
    # the named lists its steps share: the shared ones it uses, then its own
    groups: tuple[tuple[str, tuple[Entry, ...]], ...] = ()

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.id == step_id)

    def index(self, step_id: str) -> int:
        return [s.id for s in self.steps].index(step_id)


@dataclass(frozen=True)
class Row:
    """One row of a plan: a check for one site, or for the deployment (`site` None)."""

    check: CheckMeta
    site: Site | None
    blocking: bool
    kind: str = "requires"  # the step's list it came from; "during" rows decide IN PROGRESS
    host: str | None = None  # the node of the site's `hosts:` a per-host check judges

    @property
    def key(self) -> tuple[str, str | None, str | None]:
        return (self.check.id, self.site.name if self.site else None, self.host)

    @property
    def test_id(self) -> str:
        where = self.site.name if self.site else "deployment"
        return f"{self.check.id}@{where}" + (f"/{self.host}" if self.host else "")


def available(directory: Path = PROFILE_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.yml") if p.name != GROUPS_FILE)


def listing(directory: Path = PROFILE_DIR) -> str:
    """`name  title` lines for `--profile=help` and unknown names."""
    lines = []
    for name in available(directory):
        doc = load(directory / f"{name}.yml")
        title = doc.get("title", "") if isinstance(doc, dict) else ""
        lines.append(f"  {name:<22} {title}")
    return "\n".join(lines)


def load_profile(name: str, directory: Path = PROFILE_DIR) -> Profile:
    """Load one profile; the catalog must already hold every check it names."""
    path = directory / f"{name}.yml"
    if name not in available(directory):
        raise UsageError(f"unknown profile {name!r}; the profiles are:\n{listing(directory)}")
    r = Reader(str(path))
    top = r.mapping(load(path), "profile")
    r.only(top, {"profile", "title", "doc", "groups", "steps"}, "")
    if r.get(top, "profile", str, "") != name:
        raise r.error(f"profile: expected {name!r} (the file's name)", top, "profile")
    doc = r.get(top, "doc", str, "")
    if not doc.startswith("https://docs.gitlab.com/"):
        raise r.error("doc: expected a link to GitLab's page (https://docs.gitlab.com/...)",
                      top, "doc")
    shared = shared_groups(directory)
    used: set[str] = set()
    own = _groups(r, top, shared, used)
    groups = {**shared, **own}
    steps_node = r.get(top, "steps", LineList, "")
    steps: list[Step] = []
    for i, node in enumerate(steps_node):
        where = f"steps[{i}]"
        node = r.mapping(node, where)
        r.only(node, {"id", "title", *KINDS}, where)
        step_id = r.get(node, "id", str, where)
        if any(s.id == step_id for s in steps):
            raise r.error(f"{where}.id: duplicate step {step_id!r}", node, "id")
        entries = {kind: _entries(r, node, kind, f"{where}.{kind}", groups, used)
                   for kind in KINDS}
        steps.append(Step(step_id, r.get(node, "title", str, where), **entries))
    if not steps:
        raise r.error("steps: expected at least one step", top, "steps")
    listed = [(n, g) for n, g in shared.items() if n in used] + list(own.items())
    return Profile(name, r.get(top, "title", str, ""), doc, tuple(steps), str(path),
                   tuple(listed))


def shared_groups(directory: Path = PROFILE_DIR) -> dict[str, tuple[Entry, ...]]:
    """The groups of `groups.yml` beside the profiles, which every profile may use (none when
    the directory has no such file)."""
    path = directory / GROUPS_FILE
    if not path.exists():
        return {}
    r = Reader(str(path))
    top = r.mapping(load(path), "groups file")
    r.only(top, {"groups"}, "")
    return _groups(r, top, {}, set())


def _groups(r: Reader, top: LineDict, shared: dict[str, tuple[Entry, ...]], used: set[str]
            ) -> dict[str, tuple[Entry, ...]]:
    """A file's `groups:`, each expanded; a group may use the shared ones and those above it."""
    groups: dict[str, tuple[Entry, ...]] = {}
    node = r.get(top, "groups", LineDict, "", required=False, default=LineDict())
    for group in node:
        if not isinstance(group, str):
            raise r.error("groups: expected group names", node, group)
        if group in shared:
            raise r.error(f"groups.{group}: {group!r} is a shared group ({GROUPS_FILE}); name "
                          "this profile's own group differently", node, group)
        groups[group] = _entries(r, node, group, f"groups.{group}", {**shared, **groups}, used)
    return groups


def _entries(r: Reader, parent: LineDict, kind: str, where: str,
             groups: dict[str, tuple[Entry, ...]], used: set[str]) -> tuple[Entry, ...]:
    """One list's entries, its `{group: NAME}` expanded in place (and NAME added to `used`)."""
    node = r.get(parent, kind, LineList, where.rsplit(".", 1)[0], required=False, default=[])
    entries: list[Entry] = []
    for i, item in enumerate(node):
        here = f"{where}[{i}]"
        if isinstance(item, LineDict) and "group" in item:
            r.only(item, {"group"}, here)
            name = r.get(item, "group", str, here)
            if name not in groups:
                raise r.error(f"{here}: unknown group {name!r} (declare it in {GROUPS_FILE} "
                              "or under groups:, above where it is used)", node, i)
            used.add(name)
            new = list(groups[name])
        else:
            new = [_entry(r, node, i, item, here)]
        for entry in new:
            twin = next((e for e in entries if e.check.id == entry.check.id
                         and set(e.roles) & set(entry.roles)
                         and set(e.methods) & set(entry.methods)), None)
            if twin is not None:
                raise r.error(f"{here}: {entry.check.id} is listed twice in {where} (for "
                              f"{', '.join(sorted(set(twin.roles) & set(entry.roles)))})",
                              node, i)
            entries.append(entry)
    return tuple(entries)


def _entry(r: Reader, node: LineList, i: int, item: object, where: str) -> Entry:
    roles: tuple[str, ...] = ROLES
    methods: tuple[str, ...] = METHODS
    if isinstance(item, LineDict):
        r.only(item, {"check", "roles", "method"}, where)
        check_id = r.get(item, "check", str, where)
        raw_roles = r.get(item, "roles", LineList, where, required=False, default=list(ROLES))
        for j, role in enumerate(raw_roles):
            if role not in ROLES:
                raise r.error(f"{where}.roles[{j}]: unknown role {role!r} (expected primary or "
                              "secondary)", raw_roles, j)
        roles = tuple(raw_roles)
        method = r.get(item, "method", str, where, required=False, choices=METHODS)
        methods = (method,) if method else METHODS
    elif isinstance(item, str):
        check_id = item
    else:
        raise r.error(f"{where}: expected a check id, {{check: ID, roles: [...]}} or "
                      "{group: NAME}", node, i)
    meta = CATALOG.get(check_id)
    if meta is None:
        raise r.error(f"{where}: unknown check id {check_id!r}", node, i)
    roles = tuple(x for x in roles if x in meta.roles)
    if not roles:
        raise r.error(f"{where}: {check_id} applies to {', '.join(meta.roles)} only", node, i)
    return Entry(meta, roles, methods)


def rows(entries: tuple[Entry, ...], inventory: Inventory, *, blocking: bool,
         only_site: str | None = None, method: str | None = None, kind: str = "requires"
         ) -> list[Row]:
    """The rows a list of entries makes for this inventory and import method.

    A site check makes one row per site of a matching role; a deployment-wide check one row
    with no site; a pairwise check one row per non-reference (non-primary) site.
    `--site` narrows the per-site rows and keeps the deployment-wide ones.
    """
    out: list[Row] = []
    for entry in entries:
        if method and method not in entry.methods:
            continue
        if entry.check.scope == "deployment":
            out.append(Row(entry.check, None, blocking, kind))
            continue
        for site in inventory.sites:
            if site.role not in entry.roles or (only_site and site.name != only_site):
                continue
            if entry.check.scope == "pair" and site.role == "primary":
                continue
            out += [Row(entry.check, site, blocking, kind, host)
                    for host in _row_hosts(entry.check, site)]
    return out


def _row_hosts(check: CheckMeta, site: Site) -> list[str | None]:
    """The nodes a site check judges: each named node (`hosts:`) running one of the check's
    host roles; the site itself (None) for a check read from one node, or for `host:`."""
    named = [h.name for h in site.nodes(check.host_roles) if h.name] if check.host_roles else []
    return list(named) or [None]


def plan(step: Step, inventory: Inventory, only_site: str | None = None,
         method: str | None = None) -> list[Row]:
    """A step's plan: its `requires` rows (blocking), then its `advises` rows."""
    blocking = rows(step.requires, inventory, blocking=True, only_site=only_site, method=method)
    keys = {r.key for r in blocking}
    advisory = [r for r in rows(step.advises, inventory, blocking=False, only_site=only_site,
                                method=method, kind="advises") if r.key not in keys]
    return blocking + advisory
