"""manifest.yml is valid for Slack and agrees with what the code registers and calls."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource

from bot.slack import ids

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
SCHEMA_BASE = "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/"


@pytest.fixture(scope="module")
def manifest() -> dict:
    return yaml.safe_load((ROOT / "manifest.yml").read_text())


def _validator() -> Draft7Validator:
    registry = Registry()
    for version in ("1.0.0", "2.0.0"):
        schema = json.loads((DATA / f"manifest.schema.{version}.json").read_text())
        registry = registry.with_resource(
            f"{SCHEMA_BASE}manifest.schema.{version}.json", Resource.from_contents(schema)
        )
    top = json.loads((DATA / "manifest.schema.json").read_text())
    return Draft7Validator(top, registry=registry)


def test_manifest_is_valid_for_slack(manifest: dict) -> None:
    errors = sorted(_validator().iter_errors(manifest), key=str)
    assert not errors, "\n".join(e.message for e in errors)


def test_schema_catches_a_typo(manifest: dict) -> None:
    broken = json.loads(json.dumps(manifest))
    broken["features"]["slash_commands"][0]["should_escpe"] = True
    assert list(_validator().iter_errors(broken))


def test_slash_command_matches_code(manifest: dict) -> None:
    commands = {c["command"]: c for c in manifest["features"]["slash_commands"]}
    assert set(commands) == {ids.COMMAND}
    # The parser expects mentions as <@U…|name>, which only escaped commands deliver.
    assert commands[ids.COMMAND]["should_escape"] is True


def test_events_match_code(manifest: dict) -> None:
    declared = set(manifest.get("settings", {}).get("event_subscriptions", {}).get("bot_events", []))
    assert declared == set(ids.EVENTS)


def test_interactivity_enabled_for_actions_and_views(manifest: dict) -> None:
    # The app acknowledges every action and view (fallbacks), so Slack must be able to send them.
    assert manifest["settings"]["interactivity"]["is_enabled"] is True


# slack_sdk helpers that are not Web API methods themselves, and the methods they call.
_SDK_HELPERS = {"files.upload.v2": ("files.getUploadURLExternal", "files.completeUploadExternal")}


def _methods_called() -> set[str]:
    pattern = re.compile(
        r"\.\b(auth|chat|conversations|users|usergroups|reactions|views|files)_([A-Za-z_0-9]+)\("
    )
    found = set()
    for path in (ROOT / "bot").rglob("*.py"):
        if "sandbox" in path.parts:
            continue
        for family, rest in pattern.findall(path.read_text()):
            method = f"{family}.{rest.replace('_', '.')}"
            found.update(_SDK_HELPERS.get(method, (method,)))
    return found


def test_sdk_helpers_are_read_as_the_methods_they_call() -> None:
    # files_upload_v2 is no Web API method: the scope check must see the two methods it calls instead.
    called = _methods_called()
    assert {"files.getUploadURLExternal", "files.completeUploadExternal"} <= called
    assert "files.upload.v2" not in called


def test_scopes_cover_every_method_the_bot_calls(manifest: dict) -> None:
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    known = json.loads((DATA / "method_scopes.json").read_text())
    called = _methods_called()
    assert called, "the scan found no Slack calls; the pattern is broken"
    for method in sorted(called):
        assert method in known, f"{method} is called but not in tests/contracts/data/method_scopes.json"
        needed = known[method]["bot_scopes"]
        assert not needed or scopes.intersection(needed), f"{method} needs one of {needed}"


def test_scopes_cover_every_event(manifest: dict) -> None:
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    known = json.loads((DATA / "event_scopes.json").read_text())
    for event in ids.EVENTS:
        assert event in known, f"{event} is not in tests/contracts/data/event_scopes.json"
        assert not known[event] or scopes.intersection(known[event]), f"{event} needs one of {known[event]}"


def test_no_unused_scopes(manifest: dict) -> None:
    scopes = set(manifest["oauth_config"]["scopes"]["bot"]) - {"commands"}
    methods = json.loads((DATA / "method_scopes.json").read_text())
    events = json.loads((DATA / "event_scopes.json").read_text())
    used = {s for m in _methods_called() for s in methods.get(m, {}).get("bot_scopes", [])}
    used |= {s for e in ids.EVENTS for s in events.get(e, [])}
    assert scopes <= used, f"scopes nothing uses: {sorted(scopes - used)}"
