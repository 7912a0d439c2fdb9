"""The `/appprofile` command grammar: text in, one typed `Command` out (DESIGN §1).

Pure: any text either parses or raises a `UserError` with the usage of the subcommand. Slack's
own markup (`<@U1|bob>`, `<https://x|x>`, `&amp;`), smart quotes and non-breaking spaces are
undone first, because that is what a person typing in Slack actually sends.
"""

from __future__ import annotations

import re
import shlex
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.core import model
from bot.core.errors import UserError, did_you_mean

USAGE: dict[str, str] = {
    "help": "/appprofile help",
    "list": "/appprofile list",
    "show": "/appprofile show [NAME[@VERSION]]",
    "versions": "/appprofile versions [NAME]",
    "services": "/appprofile services [TYPE]",
    "use": "/appprofile use NAME",
    "create": "/appprofile create [YAML]",
    "version": "/appprofile version [NAME] [NEW] [--from VERSION]",
    "clone": "/appprofile clone SOURCE[@VERSION] NEW [--version V]   or   /appprofile clone v2",
    "diff": "/appprofile diff NAME V1 V2",
    "export": "/appprofile export NAME@VERSION",
    "delete": "/appprofile delete NAME[@VERSION] [from CLUSTER] [--purge] [--override-window]",
    "deploy": (
        "/appprofile deploy [PROFILE[@VERSION]] [to] CLUSTER [as NAME] [--set tier.key=value ...]"
        " [--override-window]"
    ),
    "promote": "/appprofile promote NAME from CLUSTER_A to CLUSTER_B [as NAME2] [--override-window]",
    "status": "/appprofile status [NAME [on CLUSTER]]",
    "deployments": "/appprofile deployments",
    "outputs": "/appprofile outputs NAME [on CLUSTER]",
    "logs": "/appprofile logs NAME TIER [on CLUSTER] [--lines N]",
    "audit": "/appprofile audit [N] [--profile P] [--cluster C]",
}

MAX_AUDIT = 200
CLUSTER_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")
SET_KEY_RE = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)\.([A-Za-z_][A-Za-z0-9_.-]{0,127})$")


class UnknownCommand(UserError):
    """The first word is no subcommand; the Slack side offers a Help button with it."""


class MissingArguments(UserError):
    """A command without what it needs and no form to ask for it: its usage and a Help button."""


class _Cmd(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Help(_Cmd):
    kind: Literal["help"] = "help"
    topic: str | None = None


class List(_Cmd):
    kind: Literal["list"] = "list"


class Show(_Cmd):
    kind: Literal["show"] = "show"
    name: str | None = None
    version: str | None = None


class Versions(_Cmd):
    kind: Literal["versions"] = "versions"
    name: str | None = None


class Services(_Cmd):
    kind: Literal["services"] = "services"
    type: str | None = None


class Use(_Cmd):
    kind: Literal["use"] = "use"
    name: str


class Create(_Cmd):
    """`yaml` None means: open the form."""

    kind: Literal["create"] = "create"
    yaml: str | None = None


class Version(_Cmd):
    """`name` None means the channel's current profile; `new` None means: open the form."""

    kind: Literal["version"] = "version"
    name: str | None = None
    new: str | None = None
    from_version: str | None = None


class Clone(_Cmd):
    """`source` None means the channel's current profile; `new_name` None means: open the form."""

    kind: Literal["clone"] = "clone"
    source: str | None = None
    source_version: str | None = None
    new_name: str | None = None
    new_version: str | None = None


class Diff(_Cmd):
    kind: Literal["diff"] = "diff"
    name: str
    v1: str
    v2: str


class Export(_Cmd):
    kind: Literal["export"] = "export"
    name: str
    version: str | None = None


class Delete(_Cmd):
    """`version` given: a profile version; `cluster` given: the deployment on that cluster."""

    kind: Literal["delete"] = "delete"
    name: str
    version: str | None = None
    cluster: str | None = None
    purge: bool = False
    # `--override-window`: tear a deployment down inside a change window (one more approver).
    override_window: bool = False


class DeployRequest(BaseModel):
    """What `deploy` asks for; the service resolves profile/version/name defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: str | None = None
    version: str | None = None
    cluster: str
    name: str | None = None
    sets: dict[str, str] = Field(default_factory=dict)
    # `--override-window`: deploy inside a change window; the approval needs one more approver.
    override_window: bool = False


class Deploy(_Cmd):
    kind: Literal["deploy"] = "deploy"
    request: DeployRequest


class Promote(_Cmd):
    """Deploy to `to_cluster` exactly what succeeded as `name` on `from_cluster` (its version and
    `--set` values), as `new_name` (default `name`), through that cluster's checks and approval."""

    kind: Literal["promote"] = "promote"
    name: str
    from_cluster: str
    to_cluster: str
    new_name: str | None = None
    override_window: bool = False


class Status(_Cmd):
    kind: Literal["status"] = "status"
    name: str | None = None
    cluster: str | None = None


class Deployments(_Cmd):
    kind: Literal["deployments"] = "deployments"


class Outputs(_Cmd):
    kind: Literal["outputs"] = "outputs"
    name: str
    cluster: str | None = None


class Logs(_Cmd):
    """The last `lines` lines of each container of tier `tier`'s pods (the use case bounds it)."""

    kind: Literal["logs"] = "logs"
    name: str
    tier: str
    cluster: str | None = None
    lines: int = 50


class Audit(_Cmd):
    kind: Literal["audit"] = "audit"
    limit: int = 20
    profile: str | None = None
    cluster: str | None = None


Command = Annotated[
    Help
    | List
    | Show
    | Versions
    | Services
    | Use
    | Create
    | Version
    | Clone
    | Diff
    | Export
    | Delete
    | Deploy
    | Promote
    | Status
    | Deployments
    | Outputs
    | Logs
    | Audit,
    Field(discriminator="kind"),
]

SUBCOMMANDS: tuple[str, ...] = (*USAGE, "approve", "reject")

_SMART = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "‚": "'"})
# Slack wraps mentions, channels and links in <...>; keep what a person would have typed.
_MARKUP = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_FENCE = "```"


def _unmarkup(m: re.Match[str]) -> str:
    target, label = m.group(1), m.group(2)
    if target.startswith("@"):
        return "@" + (label or target[1:])
    if target.startswith("#"):
        return "#" + (label or target[1:])
    if target.startswith("!"):
        return "@" + (label or target[1:].split("^")[0])
    if target.startswith("mailto:"):
        return label or target.removeprefix("mailto:")
    # A link: the URL is what was typed (Slack adds the label itself for bare URLs).
    return target


def clean(text: str) -> str:
    """Undo what Slack does to typed text; keeps newlines (YAML needs them)."""
    text = _MARKUP.sub(_unmarkup, text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    text = text.translate(_SMART)
    # Non-breaking and other exotic spaces break YAML indentation and shlex splitting.
    text = re.sub(r"[^\S\n\r\t]", " ", text)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _fail(sub: str, message: str) -> UserError:
    return UserError(message, f"usage: `{USAGE[sub]}`")


def _missing(sub: str, message: str) -> MissingArguments:
    return MissingArguments(message, f"usage: `{USAGE[sub]}`")


def _tokens(sub: str, rest: str) -> list[str]:
    try:
        return shlex.split(rest, posix=True)
    except ValueError as exc:
        raise _fail(sub, f"`{sub}`: {exc} (a quote is not closed)") from None


def _name(sub: str, value: str, what: str = "profile name") -> str:
    if not model.NAME_RE.match(value):
        raise _fail(
            sub,
            f"`{value}` is not a valid {what}: lowercase letters, digits and '-', at most 40 characters",
        )
    return value


def _version(sub: str, value: str) -> str:
    try:
        return model.normalize_version(value)
    except UserError as exc:
        raise UserError(exc.message, f"{exc.hint}; usage: `{USAGE[sub]}`", field="version") from None


def _ref(sub: str, value: str) -> tuple[str, str | None]:
    """NAME or NAME@VERSION."""
    if "@" in value:
        name, _, version = value.rpartition("@")
        return _name(sub, name), _version(sub, version)
    return _name(sub, value), None


def _cluster(sub: str, value: str) -> str:
    if not CLUSTER_RE.match(value):
        raise _fail(sub, f"`{value}` is not a cluster name (letters, digits, '.', '_' and '-')")
    return value


def _looks_like_version(value: str) -> bool:
    try:
        model.normalize_version(value)
    except UserError:
        return False
    return True


class _Args:
    """Positional words and `--flag [value]` options of one subcommand."""

    def __init__(self, sub: str, words: list[str], *, valued: set[str], flags: set[str]) -> None:
        self.sub = sub
        self.positional: list[str] = []
        self.options: dict[str, str] = {}
        self.flags: set[str] = set()
        self.sets: list[str] = []
        i = 0
        while i < len(words):
            word = words[i]
            if word.startswith("--") and len(word) > 2:
                key, eq, inline = word[2:].partition("=")
                key = key.lower()
                if key in flags and not eq:
                    self.flags.add(key)
                elif key in flags:
                    raise _fail(sub, f"`--{key}` takes no value")
                elif key in valued:
                    if eq:
                        value = inline
                    elif i + 1 < len(words):
                        i += 1
                        value = words[i]
                    else:
                        raise _fail(sub, f"`--{key}` needs a value")
                    if key == "set":
                        self.sets.append(value)
                    elif key in self.options:
                        raise _fail(sub, f"`--{key}` is given twice")
                    else:
                        self.options[key] = value
                else:
                    known = sorted({f"--{k}" for k in valued | flags})
                    hint = did_you_mean(f"--{key}", known, what="options") if known else "no options"
                    raise UserError(f"`{sub}` has no option `--{key}`", f"{hint}; usage: `{USAGE[sub]}`")
            else:
                self.positional.append(word)
            i += 1

    def at_most(self, n: int) -> None:
        if len(self.positional) > n:
            extra = " ".join(self.positional[n:])
            raise _fail(self.sub, f"`{self.sub}` does not take `{extra}`")


def _parse_create(rest: str) -> Create:
    body = rest.strip()
    if not body:
        return Create()
    if _FENCE in body:
        start = body.index(_FENCE) + len(_FENCE)
        end = body.rfind(_FENCE)
        inner = body[start:end] if end >= start else body[start:]
        first, nl, after = inner.partition("\n")
        if nl and first.strip().lower() in ("yaml", "yml", ""):
            inner = after
        body = inner
    body = body.strip("\n")
    if not body.strip():
        return Create()
    return Create(yaml=body + "\n")


def _parse_deploy(args: _Args) -> Deploy:
    sub = "deploy"
    words = list(args.positional)
    name: str | None = None
    lowered = [w.lower() for w in words]
    if "as" in lowered:
        i = lowered.index("as")
        if i + 1 >= len(words):
            raise _fail(sub, "`as` needs a deployment name after it")
        name = _name(sub, words[i + 1], "deployment name")
        del words[i : i + 2]
        lowered = [w.lower() for w in words]
    profile: str | None = None
    version: str | None = None
    if "to" in lowered:
        i = lowered.index("to")
        before, after = words[:i], words[i + 1 :]
    elif len(words) >= 2:
        before, after = words[:-1], words[-1:]
    else:
        before, after = [], words
    if len(before) > 1:
        raise _fail(sub, f"`deploy` takes one profile, got `{' '.join(before)}`")
    if len(after) != 1:
        what = "no cluster" if not after else f"`{' '.join(after)}` as the cluster"
        raise _fail(sub, f"`deploy` needs exactly one cluster, got {what}")
    if before:
        profile, version = _ref(sub, before[0])
    sets: dict[str, str] = {}
    for item in args.sets:
        key, eq, value = item.partition("=")
        if not eq or not SET_KEY_RE.match(key):
            # Only the key is repeated back: the value may be a secret.
            shown = f"{key[:40]}=…" if eq else "…"
            raise UserError(
                f"`--set {shown}` is not `tier.key=value`",
                'e.g. `--set api.replicas=3` or `--set api.image="ghcr.io/x/api:1.1"`',
            )
        if key in sets:
            raise _fail(sub, f"`--set {key}` is given twice")
        sets[key] = value
    request = DeployRequest(
        profile=profile,
        version=version,
        cluster=_cluster(sub, after[0]),
        name=name,
        sets=sets,
        override_window="override-window" in args.flags,
    )
    return Deploy(request=request)


def _parse_promote(args: _Args) -> Promote:
    """`NAME from A to B [as NAME2]`; the three keyword pairs in any order after NAME."""
    sub = "promote"
    pos = args.positional
    if not pos:
        raise _missing(sub, "`promote` needs a deployment name, `from CLUSTER` and `to CLUSTER`")
    if "@" in pos[0]:
        raise _fail(
            sub,
            f"`promote` takes a deployment name, not `{pos[0]}`: it deploys the version that "
            "succeeded on the `from` cluster",
        )
    name = _name(sub, pos[0], "deployment name")
    given: dict[str, str] = {}
    i = 1
    while i < len(pos):
        word = pos[i].lower()
        if word not in ("from", "to", "as"):
            raise _fail(sub, f"`promote` does not take `{' '.join(pos[i:])}`")
        if word in given:
            raise _fail(sub, f"`{word}` is given twice")
        if i + 1 >= len(pos) or pos[i + 1].lower() in ("from", "to", "as"):
            what = "a deployment name" if word == "as" else "a cluster name"
            raise _fail(sub, f"`{word}` needs {what} after it")
        given[word] = pos[i + 1]
        i += 2
    if "from" not in given:
        raise _fail(sub, f"`promote` needs `from CLUSTER`: the cluster where `{name}` succeeded")
    if "to" not in given:
        raise _fail(sub, f"`promote` needs `to CLUSTER`: the cluster to promote `{name}` to")
    source, target = _cluster(sub, given["from"]), _cluster(sub, given["to"])
    if source == target:
        raise _fail(
            sub,
            f"`promote` needs two different clusters: `{source}` is both `from` and `to` "
            f"(to deploy again on {source}, use `/appprofile deploy`)",
        )
    new_name = _name(sub, given["as"], "deployment name") if "as" in given else None
    return Promote(
        name=name,
        from_cluster=source,
        to_cluster=target,
        new_name=new_name,
        override_window="override-window" in args.flags,
    )


def _parse_clone(args: _Args) -> Clone:
    sub = "clone"
    args.at_most(2)
    new_version = _version(sub, args.options["version"]) if "version" in args.options else None
    source: str | None = None
    source_version: str | None = None
    new_name: str | None = None
    if args.positional:
        first = args.positional[0]
        if "@" not in first and _looks_like_version(first):
            # `clone v2`: version 2.0.0 of the channel's current profile.
            source_version = _version(sub, first)
        else:
            source, source_version = _ref(sub, first)
    if len(args.positional) == 2:
        new_name = _name(sub, args.positional[1], "new profile name")
    return Clone(source=source, source_version=source_version, new_name=new_name, new_version=new_version)


def _parse_audit(args: _Args) -> Audit:
    sub = "audit"
    args.at_most(1)
    limit = 20
    if args.positional:
        raw = args.positional[0]
        if not raw.isdecimal() or not 1 <= int(raw) <= MAX_AUDIT:
            raise _fail(sub, f"`{raw}` is not a number of entries between 1 and {MAX_AUDIT}")
        limit = int(raw)
    profile = _name(sub, args.options["profile"]) if "profile" in args.options else None
    cluster = _cluster(sub, args.options["cluster"]) if "cluster" in args.options else None
    return Audit(limit=limit, profile=profile, cluster=cluster)


_OPTIONS: dict[str, tuple[set[str], set[str]]] = {
    "version": ({"from"}, set()),
    "clone": ({"version"}, set()),
    "delete": (set(), {"purge", "override-window"}),
    "deploy": ({"set"}, {"override-window"}),
    "promote": (set(), {"override-window"}),
    "audit": ({"profile", "cluster"}, set()),
    "logs": ({"lines"}, set()),
}


def _where(sub: str, args: _Args, word: str) -> tuple[str, str | None]:
    """`NAME [WORD CLUSTER]` (WORD is `on` or `from`): the name and the cluster, if given."""
    pos = args.positional
    if not pos:
        raise _missing(sub, f"`{sub}` needs a deployment name")
    if len(pos) == 1:
        return pos[0], None
    if len(pos) == 3 and pos[1].lower() == word:
        return pos[0], _cluster(sub, pos[2])
    if len(pos) == 2 and pos[1].lower() == word:
        raise _fail(sub, f"`{word}` needs a cluster name after it")
    raise _fail(sub, f"`{sub}` does not take `{' '.join(pos[1:])}`")


def _parse_status(args: _Args) -> Status:
    if not args.positional:
        return Status()
    name, cluster = _where("status", args, "on")
    return Status(name=_name("status", name, "deployment name"), cluster=cluster)


def _parse_outputs(args: _Args) -> Outputs:
    name, cluster = _where("outputs", args, "on")
    return Outputs(name=_name("outputs", name, "deployment name"), cluster=cluster)


def _parse_logs(args: _Args) -> Logs:
    """`logs NAME TIER [on CLUSTER] [--lines N]`."""
    sub = "logs"
    pos = args.positional
    if len(pos) < 2:
        raise _missing(sub, "`logs` needs a deployment name and a tier")
    name = _name(sub, pos[0], "deployment name")
    tier = pos[1]
    if not model.TIER_RE.match(tier):
        raise _fail(sub, f"`{tier[:64]}` is not a tier name: lowercase letters, digits and '-'")
    cluster: str | None = None
    rest = pos[2:]
    if len(rest) == 2 and rest[0].lower() == "on":
        cluster = _cluster(sub, rest[1])
    elif len(rest) == 1 and rest[0].lower() == "on":
        raise _fail(sub, "`on` needs a cluster name after it")
    elif rest:
        raise _fail(sub, f"`logs` does not take `{' '.join(rest)}`")
    lines = 50
    if "lines" in args.options:
        raw = args.options["lines"]
        if not re.fullmatch(r"-?[0-9]{1,9}", raw):
            raise _fail(sub, f"`--lines {raw[:20]}` is not a number of lines")
        lines = int(raw)
    return Logs(name=name, tier=tier, cluster=cluster, lines=lines)


def _parse_delete(args: _Args) -> Delete:
    sub = "delete"
    if not args.positional:
        raise _missing(sub, "`delete` needs a profile or deployment name")
    first, cluster = _where(sub, args, "from")
    name, version = _ref(sub, first)
    if version is not None and cluster is not None:
        raise _fail(
            sub,
            f"`delete {name}@{version}` deletes a profile version, which lives on no cluster",
        )
    override = "override-window" in args.flags
    if version is not None and override:
        raise _fail(
            sub,
            f"`--override-window` is for tearing down a deployment inside a change window; "
            f"`delete {name}@{version}` deletes a profile version, which lives on no cluster",
        )
    return Delete(
        name=name, version=version, cluster=cluster, purge="purge" in args.flags, override_window=override
    )


def _parse_version(args: _Args) -> Version:
    sub = "version"
    pos = args.positional
    args.at_most(2)
    from_version = _version(sub, args.options["from"]) if "from" in args.options else None
    if len(pos) == 1 and _looks_like_version(pos[0]):
        # `version 1.1.0`: a new version of the channel's current profile.
        return Version(new=_version(sub, pos[0]), from_version=from_version)
    profile = _name(sub, pos[0]) if pos else None
    new = _version(sub, pos[1]) if len(pos) == 2 else None
    return Version(name=profile, new=new, from_version=from_version)


def _parse_reading(sub: str, args: _Args) -> Command:
    """help, list, deployments, show, versions, services: nothing required."""
    pos = args.positional
    if sub == "help":
        args.at_most(1)
        return Help(topic=pos[0].lower() if pos else None)
    if sub in ("list", "deployments"):
        args.at_most(0)
        return List() if sub == "list" else Deployments()
    if sub == "show":
        args.at_most(1)
        if not pos:
            return Show()
        name, version = _ref(sub, pos[0])
        return Show(name=name, version=version)
    if sub == "versions":
        args.at_most(1)
        return Versions(name=_name(sub, pos[0]) if pos else None)
    args.at_most(1)
    return Services(type=pos[0].lower() if pos else None)


def _parse_words(sub: str, args: _Args) -> Command:
    pos = args.positional
    if sub in ("help", "list", "deployments", "show", "versions", "services"):
        return _parse_reading(sub, args)
    if sub == "status":
        return _parse_status(args)
    if sub == "outputs":
        return _parse_outputs(args)
    if sub == "logs":
        return _parse_logs(args)
    if sub == "use":
        args.at_most(1)
        if not pos:
            raise _missing(sub, "`use` needs a profile name")
        return Use(name=_name(sub, pos[0]))
    if sub == "version":
        return _parse_version(args)
    if sub == "clone":
        return _parse_clone(args)
    if sub == "diff":
        args.at_most(3)
        if len(pos) != 3:
            raise _missing(sub, "`diff` needs a profile name and two versions")
        return Diff(name=_name(sub, pos[0]), v1=_version(sub, pos[1]), v2=_version(sub, pos[2]))
    if sub == "export":
        args.at_most(1)
        if not pos:
            raise _missing(sub, "`export` needs NAME@VERSION")
        name, version = _ref(sub, pos[0])
        return Export(name=name, version=version)
    if sub == "delete":
        return _parse_delete(args)
    if sub == "promote":
        return _parse_promote(args)
    if sub == "deploy":
        if not pos:
            raise _missing(sub, "`deploy` needs at least a cluster")
        return _parse_deploy(args)
    return _parse_audit(args)


def parse(text: str) -> Command:
    """Parse the text after `/appprofile`. Raises `UserError` for anything it cannot use."""
    cleaned = clean(text)
    match = re.match(r"\s*(\S*)(.*)", cleaned, flags=re.DOTALL)
    word, rest = (match.group(1), match.group(2)) if match else ("", "")
    sub = word.lower()
    if not sub:
        return Help()
    if sub in ("approve", "reject"):
        raise UserError(
            f"`{sub}` is a button, not a command",
            "use the Approve / Reject buttons on the approval card in the channel",
        )
    if sub not in USAGE:
        shown = word if len(word) <= 40 else word[:40] + "…"
        raise UnknownCommand(
            f"`{shown}` is not an appprofile command",
            did_you_mean(sub, USAGE, what="commands") + " — `/appprofile help` explains them",
        )
    if sub == "create":
        return _parse_create(rest)
    valued, flags = _OPTIONS.get(sub, (set(), set()))
    args = _Args(sub, _tokens(sub, rest), valued=valued, flags=flags)
    return _parse_words(sub, args)
