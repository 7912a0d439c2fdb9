"""The `/appprofile` grammar, form by form, with what Slack does to typed text."""

from __future__ import annotations

import pytest

from bot.core import commands
from bot.core.errors import UserError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", commands.Help()),
        ("help", commands.Help()),
        ("HELP deploy", commands.Help(topic="deploy")),
        ("list", commands.List()),
        ("show", commands.Show()),
        ("show counter-app", commands.Show(name="counter-app")),
        ("show counter-app@v1", commands.Show(name="counter-app", version="1.0.0")),
        ("show counter-app@1.1", commands.Show(name="counter-app", version="1.1.0")),
        ("versions", commands.Versions()),
        ("versions counter-app", commands.Versions(name="counter-app")),
        ("services", commands.Services()),
        ("services PostgreSQL", commands.Services(type="postgresql")),
        ("use counter-app", commands.Use(name="counter-app")),
        ("version counter-app 1.1.0", commands.Version(name="counter-app", new="1.1.0")),
        (
            "version counter-app v2 --from 1",
            commands.Version(name="counter-app", new="2.0.0", from_version="1.0.0"),
        ),
        ("version counter-app", commands.Version(name="counter-app")),
        ("version 2", commands.Version(new="2.0.0")),
        ("version", commands.Version()),
        ("clone v2", commands.Clone(source_version="2.0.0")),
        ("clone 2.0.0", commands.Clone(source_version="2.0.0")),
        ("clone 2", commands.Clone(source_version="2.0.0")),
        ("clone 2.0 copy", commands.Clone(source_version="2.0.0", new_name="copy")),
        ("clone a@1 b", commands.Clone(source="a", source_version="1.0.0", new_name="b")),
        ("clone a b --version 3", commands.Clone(source="a", new_name="b", new_version="3.0.0")),
        ("clone a", commands.Clone(source="a")),
        ("clone", commands.Clone()),
        ("diff app 1.0.0 v2", commands.Diff(name="app", v1="1.0.0", v2="2.0.0")),
        ("export app@1.0.0", commands.Export(name="app", version="1.0.0")),
        ("export app", commands.Export(name="app")),
        ("delete app", commands.Delete(name="app")),
        ("delete app@2 --purge", commands.Delete(name="app", version="2.0.0", purge=True)),
        ("delete shop from prod", commands.Delete(name="shop", cluster="prod")),
        ("delete shop FROM prod --purge", commands.Delete(name="shop", cluster="prod", purge=True)),
        ("status", commands.Status()),
        ("status shop", commands.Status(name="shop")),
        ("status shop on prod", commands.Status(name="shop", cluster="prod")),
        ("deployments", commands.Deployments()),
        ("outputs shop", commands.Outputs(name="shop")),
        ("outputs shop on prod", commands.Outputs(name="shop", cluster="prod")),
        ("audit", commands.Audit()),
        ("audit 5 --profile app --cluster prod", commands.Audit(limit=5, profile="app", cluster="prod")),
        ("audit --cluster=dev-cluster", commands.Audit(cluster="dev-cluster")),
        (
            "promote shop from staging to prod",
            commands.Promote(name="shop", from_cluster="staging", to_cluster="prod"),
        ),
        (
            "promote shop FROM staging TO prod as shop2",
            commands.Promote(name="shop", from_cluster="staging", to_cluster="prod", new_name="shop2"),
        ),
        (
            "promote shop to prod from staging --override-window",
            commands.Promote(name="shop", from_cluster="staging", to_cluster="prod", override_window=True),
        ),
    ],
)
def test_each_form_parses(text: str, expected: commands.Command) -> None:
    assert commands.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "profile", "version", "cluster", "name"),
    [
        ("deploy dev-cluster", None, None, "dev-cluster", None),
        ("deploy to dev-cluster", None, None, "dev-cluster", None),
        ("deploy counter-app dev-cluster", "counter-app", None, "dev-cluster", None),
        ("deploy counter-app@1.1.0 to prod as shop", "counter-app", "1.1.0", "prod", "shop"),
        ("deploy counter-app@v2 prod as shop", "counter-app", "2.0.0", "prod", "shop"),
        ("deploy as shop to prod", None, None, "prod", "shop"),
    ],
)
def test_deploy_forms(
    text: str, profile: str | None, version: str | None, cluster: str, name: str | None
) -> None:
    cmd = commands.parse(text)
    assert isinstance(cmd, commands.Deploy)
    assert cmd.request == commands.DeployRequest(profile=profile, version=version, cluster=cluster, name=name)


def test_deploy_sets_with_quotes_smart_quotes_and_equals_in_value() -> None:
    cmd = commands.parse(
        "deploy app to prod --set api.image=\u201cghcr.io/x/api:1.1 b\u201d --set=api.replicas=3 "
        "--set web.values.url=http://a?x=1"
    )
    assert isinstance(cmd, commands.Deploy)
    assert cmd.request.sets == {
        "api.image": "ghcr.io/x/api:1.1 b",
        "api.replicas": "3",
        "web.values.url": "http://a?x=1",
    }


@pytest.mark.parametrize(
    "text",
    [
        "deploy app to prod --override-window",
        "deploy --override-window app@1 prod as shop",
        "deploy app to prod --OVERRIDE-WINDOW --set api.replicas=3",
        "deploy app to prod --override-window --override-window",
    ],
)
def test_deploy_override_window_flag(text: str) -> None:
    cmd = commands.parse(text)
    assert isinstance(cmd, commands.Deploy)
    assert cmd.request.override_window is True
    assert cmd.request.cluster == "prod"


def test_deploy_without_the_flag_keeps_the_window() -> None:
    cmd = commands.parse("deploy app to prod")
    assert isinstance(cmd, commands.Deploy)
    assert cmd.request.override_window is False
    assert "[--override-window]" in commands.USAGE["deploy"]


def test_slack_markup_and_nbsp_are_undone() -> None:
    assert commands.parse("show\u00a0counter-app@v1") == commands.Show(name="counter-app", version="1.0.0")
    assert commands.clean("hi <@U123|bob> in <#C123|general> see <https://x.io|x.io> &amp; &lt;b&gt;") == (
        "hi @bob in #general see https://x.io & <b>"
    )
    assert commands.clean("<!here> <mailto:a@b.c|a@b.c>") == "@here a@b.c"


def test_create_takes_yaml_with_or_without_a_code_block() -> None:
    yaml_text = "name: app\ntiers:\n  - name: api\n    type: container\n"
    for text in (
        f"create ```yaml\n{yaml_text}```",
        f"create\n```\n{yaml_text}```",
        f"create ```{yaml_text}```",
        f"create\n{yaml_text}",
    ):
        cmd = commands.parse(text)
        assert isinstance(cmd, commands.Create)
        assert cmd.yaml == yaml_text, text


def test_create_undoes_slack_escapes_and_links_in_yaml() -> None:
    cmd = commands.parse(
        "create ```name: app\ndescription: a &amp; b &lt;c&gt;\nurl: <http://x.io/a|x.io/a>\u00a0\n```"
    )
    assert isinstance(cmd, commands.Create)
    assert cmd.yaml == "name: app\ndescription: a & b <c>\nurl: http://x.io/a \n"


@pytest.mark.parametrize("text", ["create", "create   ", "create ``````", "create ```\n```"])
def test_create_without_yaml_means_form(text: str) -> None:
    assert commands.parse(text) == commands.Create()


@pytest.mark.parametrize(
    ("text", "in_message", "in_hint"),
    [
        ("lsit", "`lsit` is not an appprofile command", "did you mean `list`"),
        ("deplyo prod", "not an appprofile command", "did you mean `deploy`"),
        ("approve", "is a button", "Approve / Reject"),
        ("show Counter", "not a valid profile name", "usage: `/appprofile show"),
        ("show app@x1", "`x1` is not a version", "usage: `/appprofile show"),
        ("use", "needs a profile name", "/appprofile use NAME"),
        ("diff app 1.0.0", "needs a profile name and two versions", "/appprofile diff"),
        ("deploy", "needs at least a cluster", "/appprofile deploy"),
        ("deploy app to", "needs exactly one cluster", "/appprofile deploy"),
        ("delete shop from", "`from` needs a cluster name", "/appprofile delete"),
        ("delete shop@1 from prod", "lives on no cluster", "/appprofile delete"),
        ("status shop at prod", "does not take `at prod`", "/appprofile status"),
        ("outputs shop on", "`on` needs a cluster name", "/appprofile outputs"),
        ("outputs shop on prod!", "not a cluster name", "/appprofile outputs"),
        ("deploy a b c", "takes one profile", "/appprofile deploy"),
        ("deploy app to prod --set api", "is not `tier.key=value`", "--set api.replicas=3"),
        ("deploy app to prod --set a.b=1 --set a.b=2", "given twice", "/appprofile deploy"),
        ("deploy app to prod --set", "needs a value", "/appprofile deploy"),
        ("deploy app to prod as", "`as` needs a deployment name", "/appprofile deploy"),
        ("deploy app to prod --override", "no option `--override`", "did you mean `--override-window`"),
        (
            "deploy app to prod --override-window=yes",
            "`--override-window` takes no value",
            "/appprofile deploy",
        ),
        ("delete app --purge=1", "`--purge` takes no value", "/appprofile delete"),
        ("status shop --override-window", "no option `--override-window`", "/appprofile status"),
        ("delete app --prune", "no option `--prune`", "did you mean `--purge`"),
        ('show "app', "a quote is not closed", "/appprofile show"),
        ("list extra", "does not take `extra`", "/appprofile list"),
        ("audit 0", "between 1 and 200", "/appprofile audit"),
        ("audit lots", "between 1 and 200", "/appprofile audit"),
        ("export", "needs NAME@VERSION", "/appprofile export"),
        ("clone a b c", "does not take `c`", "/appprofile clone"),
        ("promote shop to prod", "needs `from CLUSTER`", "/appprofile promote NAME from CLUSTER_A"),
        ("promote shop from staging", "needs `to CLUSTER`", "/appprofile promote"),
        ("promote shop from staging to staging", "two different clusters", "/appprofile promote"),
        ("promote shop from staging to", "`to` needs a cluster name", "/appprofile promote"),
        ("promote shop from to prod", "`from` needs a cluster name", "/appprofile promote"),
        ("promote shop from a to b as", "`as` needs a deployment name", "/appprofile promote"),
        ("promote shop from a to b from c", "`from` is given twice", "/appprofile promote"),
        (
            "promote shop@1.0.0 from a to b",
            "takes a deployment name, not `shop@1.0.0`",
            "/appprofile promote",
        ),
        ("promote shop from a to b now", "does not take `now`", "/appprofile promote"),
        ("promote shop from a to b --set api.replicas=3", "no option `--set`", "/appprofile promote"),
    ],
)
def test_errors_say_what_and_how(text: str, in_message: str, in_hint: str) -> None:
    with pytest.raises(UserError) as info:
        commands.parse(text)
    assert in_message in info.value.message
    assert info.value.hint is not None
    assert in_hint in info.value.hint


@pytest.mark.parametrize(
    "text", ["use", "outputs", "diff", "diff app 1.0.0", "export", "delete", "deploy", "promote"]
)
def test_missing_required_arguments_answer_with_usage_and_offer_help(text: str) -> None:
    """Commands without a form say what to type; the Slack side adds a Help button for these."""
    sub = text.split()[0]
    with pytest.raises(commands.MissingArguments) as info:
        commands.parse(text)
    assert info.value.hint == f"usage: `{commands.USAGE[sub]}`"


@pytest.mark.parametrize("text", ["create", "version", "version app", "clone", "clone v2", "status"])
def test_commands_with_a_form_or_a_default_do_not_fail_when_arguments_are_missing(text: str) -> None:
    commands.parse(text)


def test_help_text_says_what_usage_says() -> None:
    from bot.usecases.queries import HELP

    for sub, usage in commands.USAGE.items():
        assert f"`{usage}`" in HELP, sub
