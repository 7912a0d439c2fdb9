"""manifest.yml is a valid Slack app manifest and asks for exactly the scopes the code uses."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
# Slack's manifest schema (MIT) lives in the team's shared reference folder beside the repository,
# not in the repository itself; CI has it there and sets APPPROFILE_REQUIRE_SHARED=1 so it never skips.
SCHEMA = REPO.parent / "shared" / "reference" / "slack" / "manifest.schema.1.0.0.json"


def _schema() -> dict[str, Any]:
    if not SCHEMA.exists():
        if os.environ.get("APPPROFILE_REQUIRE_SHARED") == "1":
            pytest.fail(f"{SCHEMA} is missing, and this run requires it (APPPROFILE_REQUIRE_SHARED=1)")
        pytest.skip(
            f"Slack's manifest schema is not here: it comes from ../shared/reference/slack/ beside the "
            f"repository ({SCHEMA}); a clone without that folder cannot check manifest.yml against it"
        )
    data = json.loads(SCHEMA.read_text())
    assert isinstance(data, dict)
    return data


# Web API methods (as slack_sdk spells them) → the bot scope they need. Methods that need none
# (views.*, auth.test, apps.connections.open with the app token) are not listed.
METHOD_SCOPES = {
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    "chat_postEphemeral": "chat:write",
    "chat_delete": "chat:write",
    "users_info": "users:read",
    "users_list": "users:read",
    "usergroups_users_list": "usergroups:read",
    "usergroups_list": "usergroups:read",
    "conversations_info": "channels:read",
    "reactions_add": "reactions:write",
    "files_upload_v2": "files:write",
}
# Declared on purpose beyond a method call: the slash command itself, and posting into public
# channels the bot was not invited to (chat:write's companion).
FEATURE_SCOPES = {"commands", "chat:write.public"}


def _manifest() -> dict[str, Any]:
    data = yaml.safe_load((REPO / "manifest.yml").read_text())
    assert isinstance(data, dict)
    return data


def test_manifest_validates_against_slacks_schema() -> None:
    schema = _schema()
    jsonschema.validate(_manifest(), schema)


def test_the_schema_catches_a_broken_manifest() -> None:
    # The check above can fail: a typo'd key and a bad command name are both rejected.
    schema = _schema()
    broken = _manifest()
    broken["settings"]["socket_mode"] = True
    broken["features"]["slash_commands"][0]["command"] = "appprofile"
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(broken))
    assert len(errors) >= 2


def test_scopes_are_exactly_those_the_code_uses() -> None:
    used: set[str] = set()
    for path in (REPO / "bot").rglob("*.py"):
        if "sandbox" in path.parts:
            continue  # the fake server is not the bot
        source = path.read_text()
        for method, scope in METHOD_SCOPES.items():
            if re.search(rf"\.{method}\(", source):
                used.add(scope)
    declared = set(_manifest()["oauth_config"]["scopes"]["bot"])
    assert declared == used | FEATURE_SCOPES


def test_slash_command_and_interactivity_match_the_app() -> None:
    m = _manifest()
    (command,) = m["features"]["slash_commands"]
    assert command["command"] == "/appprofile"
    assert command["url"].endswith("/slack/events")
    assert m["settings"]["interactivity"]["is_enabled"] is True


def test_the_home_tab_is_enabled_and_its_event_subscribed() -> None:
    m = _manifest()
    assert m["features"]["app_home"] == {
        "home_tab_enabled": True,
        "messages_tab_enabled": True,  # where answers to clicks on the Home tab go
        "messages_tab_read_only_enabled": True,
    }
    events = m["settings"]["event_subscriptions"]
    assert events["bot_events"] == ["app_home_opened"]
    assert events["request_url"] == m["settings"]["interactivity"]["request_url"]
