"""The `appprofile` command: the bot (`serve`) and offline tools for profiles."""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from bot import catalog_files, main
from bot import compose as composition
from bot.core import model, plan, policy, validate
from bot.core.errors import OperatorError, UserError

log = logging.getLogger("appprofile.cli")


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None


def cmd_validate(args: argparse.Namespace) -> int:
    profile = validate.profile(model.parse_mapping(_read(args.file)), catalog_files.load())
    print(f"{profile.ref}: valid ({len(profile.tiers)} tiers)")
    return 0


def _offline_guard(args: argparse.Namespace) -> plan.Guard | None:
    """`--config FILE`: the cluster's guardrails, checked as a deploy would, with the scope of
    every built-in kind from the official client (a live cluster's discovery decides CRDs)."""
    if not args.config:
        return None
    from bot.core import guardrails
    from bot.kube import kinds

    cluster = policy.load(_read(args.config), source=args.config).cluster(args.cluster)
    return plan.Guard(
        rails=cluster.guardrails,
        scope=kinds.scope,
        owner=lambda _ns: guardrails.Ownership(exists=False),
    )


def _deployment_name(value: str | None, profile: model.Profile) -> str:
    name = value or profile.name
    if not model.NAME_RE.match(name):
        raise UserError(
            f"`{name}` is not a valid deployment name: lowercase letters, digits and '-', at most 40 characters",
            "pick another --name (the same rule as `deploy … as NAME`)",
        )
    return name


def cmd_render(args: argparse.Namespace) -> int:
    settings = main.settings_from_env()
    catalog = catalog_files.load()
    profile = validate.profile(model.parse_mapping(_read(args.file)), catalog)
    target = plan.Target(cluster=args.cluster, deployment=_deployment_name(args.name, profile), user="cli")
    from bot.kube import schema

    p = plan.build(
        profile,
        catalog,
        target,
        charts=composition.chart_renderer(settings.clusters),
        sets=_sets(args.set),
        check=schema.problems,
        guard=_offline_guard(args),
    )
    docs = [obj for tier in p.tiers for obj in tier.objects]
    sys.stdout.write(yaml.safe_dump_all(docs, sort_keys=False, explicit_start=True))
    print(f"# plan {p.short_fingerprint}: {p.summary()}", file=sys.stderr)
    return 0


def _sets(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"--set {item}: write it as tier.key=value")
        out[key] = value
    return out


def _service() -> Any:
    return composition.compose_offline(main.settings_from_env())


def _actor() -> Any:
    from bot.core.records import Actor

    return Actor(user="cli", channel="cli", user_name="cli")


def cmd_import(args: argparse.Namespace) -> int:
    rec = _service().import_yaml(_actor(), _read(args.file))
    print(f"imported {rec.name}@{rec.version}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    name, _, version = args.ref.partition("@")
    sys.stdout.write(_service().export(_actor(), name, version or None))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    rows = _service().list_profiles()
    if not rows:
        print("no profiles yet: `appprofile import FILE`")
    for r in rows:
        print(f"{r.name:<40} {r.latest_version:<10} {r.version_count:>3} versions  {r.description}")
    return 0


def cmd_versions(args: argparse.Namespace) -> int:
    for r in _service().versions(_actor(), args.name):
        src = f" from {r.source}" if r.source else ""
        print(f"{r.version:<10} {r.created_at}  {r.kind}{src}  by {r.created_by}")
    return 0


def cmd_services(args: argparse.Namespace) -> int:
    cat = catalog_files.load()
    types = [cat.get(args.type)] if args.type else list(cat.services.values())
    for svc in types:
        print(f"{svc.type}: {svc.title}")
        if args.type:
            print(f"  {svc.description}")
            for p in svc.params:
                flags = " (required)" if p.required else ""
                flags += " (secret)" if p.secret else ""
                default = "" if p.default in (None, "", [], {}) else f" = {p.default!r}"
                print(f"  - {p.name}: {p.kind}{default}{flags}  {p.description}")
            print("  outputs: " + ", ".join(o.name + ("*" if o.secret else "") for o in svc.outputs))
    return 0


def _rails_lines(rails: policy.Guardrails) -> list[str]:
    own = "the deployment's own tier namespaces (<deployment>-<tier>-ns)"
    return [
        f"  namespaces: {', '.join(rails.namespaces) or own}; never {', '.join(policy.RESERVED_NAMESPACES)}",
        f"  cluster_scoped: {', '.join(rails.cluster_scoped) or 'none'}",
        f"  forbidden_kinds: {', '.join(rails.forbidden_kinds) or 'none'}",
        f"  pod_security: {rails.pod_security}",
        "  charts: "
        + (", ".join(rails.charts) or "the bot's own charts, https:// and oci:// on public addresses"),
        f"  images: {', '.join(rails.images) if rails.images is not None else 'any'}",
    ]


def _windows_lines(c: policy.ClusterConfig) -> list[str]:
    from bot.core import windows

    if not c.windows:
        return ["  windows: none (deploys at any time)"]
    if c.approval is None:
        override = "no approval rule, so --override-window cannot open them"
    else:
        needed = c.approval.required + windows.OVERRIDE_EXTRA
        override = f"--override-window needs {needed} approvals instead of {c.approval.required}"
    lines = [f"  windows: deploys refused inside; {override}"]
    lines += [f"    [{i}] {w.label}" for i, w in enumerate(c.windows)]
    return lines


def cmd_config_check(args: argparse.Namespace) -> int:
    from bot import clock

    cfg = policy.load(_read(args.file), source=args.file, known_timezone=clock.known_timezone)
    for name, c in cfg.clusters.items():
        gate = (
            f"{c.approval.required} approval{'s' if c.approval.required != 1 else ''}"
            if c.approval
            else "no approval"
        )
        print(f"{name}: {gate}" + (f", channels {', '.join(c.channels)}" if c.channels else ""))
        print("\n".join(_rails_lines(c.guardrails)))
        print("\n".join(_windows_lines(c)))
        drift = (
            f"every {c.drift_check // 60} min, announced in each deployment's channel"
            if c.drift_check
            else "on `status` only"
        )
        print(f"  drift check: {drift}")
    if not cfg.access:
        print("access: no `access` section, so everyone may create, version, clone, delete and deploy")
    for action in policy.ACTIONS:
        if cfg.access:
            ids = cfg.access.get(action)
            print(f"access.{action}: " + (", ".join(ids) if ids else "nobody (not listed)"))
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    rows = _service().audit(_actor(), args.limit, args.profile, args.cluster)
    for r in rows:
        print(json.dumps(r.model_dump(mode="json"), ensure_ascii=False))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    return main.serve(main.settings_from_env())


def cmd_db_migrate(args: argparse.Namespace) -> int:
    from bot.store.db import store_from_url

    store = store_from_url(main.settings_from_env().store.location, migrate=False)
    try:
        before, after = store.migrate()
    finally:
        store.dispose()
    state = "up to date" if before == after else "migrated"
    print(f"{store.path}: schema version {before} -> {after} ({state})")
    return 0


def cmd_db_copy(args: argparse.Namespace) -> int:
    from bot.store import copy
    from bot.store.db import is_postgres_url, store_from_url

    if not is_postgres_url(args.to):
        raise UserError(
            "--to takes a PostgreSQL URL: the copy goes from this install's SQLite file into PostgreSQL",
            "write it as postgresql://USER:PASSWORD@HOST:5432/DATABASE",
        )
    # The source is the SQLite file of this install (APPPROFILE_DB), whatever else is configured.
    source = store_from_url(main.settings_from_env().store.db)
    target = store_from_url(args.to)
    try:
        counts = copy.copy_store(source, target)
    finally:
        source.dispose()
        target.dispose()
    for table, rows in counts.items():
        print(f"{table:<18} {rows:>8} rows")
    print(
        f"copied {sum(counts.values())} rows from {source.path} to {target.path}; its ids continue after the largest"
    )
    print("next: set APPPROFILE_DATABASE_URL to that URL and restart the bot")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="appprofile", description="App Profiles from Slack, and offline tools")
    sub = p.add_subparsers(dest="command", required=True)
    p.set_defaults(commands=sub.choices)  # the subcommands, for hints that name one
    sub.add_parser("serve", help="run the Slack bot").set_defaults(fn=cmd_serve)
    s = sub.add_parser("validate", help="check a profile YAML file")
    s.add_argument("file")
    s.set_defaults(fn=cmd_validate)
    s = sub.add_parser("render", help="print the Kubernetes objects a profile deploys")
    s.add_argument("file")
    s.add_argument("--name", help="deployment name (default: the profile name)")
    s.add_argument(
        "--cluster", default="local", help="cluster name (system macros; with --config, its guardrails)"
    )
    s.add_argument(
        "--config", help="an APPPROFILE_CONFIG file: check the cluster's guardrails as a deploy would"
    )
    s.add_argument("--set", action="append", metavar="TIER.KEY=VALUE")
    s.set_defaults(fn=cmd_render)
    s = sub.add_parser("import", help="store a profile version from a YAML file")
    s.add_argument("file")
    s.set_defaults(fn=cmd_import)
    s = sub.add_parser("export", help="print a stored profile version as YAML")
    s.add_argument("ref", metavar="NAME@VERSION")
    s.set_defaults(fn=cmd_export)
    sub.add_parser("list", help="list stored profiles").set_defaults(fn=cmd_list)
    s = sub.add_parser("versions", help="list a profile's versions")
    s.add_argument("name")
    s.set_defaults(fn=cmd_versions)
    s = sub.add_parser("services", help="tier types, their parameters and outputs")
    s.add_argument("type", nargs="?")
    s.set_defaults(fn=cmd_services)
    s = sub.add_parser("config", help="configuration tools")
    csub = s.add_subparsers(dest="config_command", required=True)
    c = csub.add_parser("check", help="validate an APPPROFILE_CONFIG file")
    c.add_argument("file")
    c.set_defaults(fn=cmd_config_check)
    s = sub.add_parser("audit", help="the audit log as JSON lines")
    s.add_argument("--limit", type=int, default=100)
    s.add_argument("--profile")
    s.add_argument("--cluster")
    s.set_defaults(fn=cmd_audit)
    s = sub.add_parser("db", help="database tools")
    dsub = s.add_subparsers(dest="db_command", required=True)
    d = dsub.add_parser("migrate", help="bring the database schema up to date (the bot also does at start)")
    d.set_defaults(fn=cmd_db_migrate)
    d = dsub.add_parser("copy", help="copy this install's SQLite database into an empty PostgreSQL one")
    d.add_argument(
        "--to", required=True, metavar="URL", help="postgresql://USER:PASSWORD@HOST:5432/DATABASE (empty)"
    )
    d.set_defaults(fn=cmd_db_copy)
    return p


_SLASH = re.compile(r"`/appprofile (\w+)([^`]*)`")


def cli_text(text: str) -> str:
    """Errors speak Slack (`/appprofile versions X`); here a command the CLI has is written as the
    CLI spells it, and one it lacks is marked as a Slack command."""
    names = set(parser().get_default("commands"))

    def say(m: re.Match[str]) -> str:
        if m.group(1) in names:
            return f"`appprofile {m.group(1)}{m.group(2)}`"
        return f"`/appprofile {m.group(1)}{m.group(2)}` (in Slack)"

    return _SLASH.sub(say, text)


def main_cli(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    main.setup_logging()
    try:
        return int(args.fn(args))
    except (UserError, OperatorError) as exc:
        # At the CLI the person is the operator: an operator error is theirs to fix, said in full.
        print(f"error: {cli_text(exc.message)}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {cli_text(exc.hint)}", file=sys.stderr)
        return 2
    except Exception:
        import uuid

        incident = uuid.uuid4().hex[:8]
        log.exception("unexpected error", extra={"incident": incident})
        print(f"error: something went wrong on our side (incident {incident}); see the log", file=sys.stderr)
        return 1


def entry() -> None:
    sys.exit(main_cli())


if __name__ == "__main__":
    entry()
