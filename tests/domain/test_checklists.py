"""Checklist templates: the shipped files, offset parsing, strict validation and the template library."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.domain.checklists import (
    MAX_ITEMS,
    TemplateError,
    TemplateLibrary,
    builtin_templates_dir,
    load_template,
    load_template_text,
    parse_offset,
)
from bot.domain.errors import InvalidInput, NotFound, UserError
from bot.domain.model import SignOffRule

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "checklists"

GO_LIVE = [
    (
        "Code Review and Approval",
        "Ensure all code has been thoroughly reviewed and approved "
        "for standards compliance and best practices.",
    ),
    (
        "Performance Testing",
        "Conduct performance testing to verify the system meets speed and scalability requirements.",
    ),
    (
        "Security Testing",
        "Complete security assessments to identify vulnerabilities and enforce data protection measures.",
    ),
    (
        "Functionality Testing",
        "Verify that all features function according to specifications and user requirements.",
    ),
    ("Database Backup", "Create recent backups of all databases to prevent data loss."),
    (
        "Data Migration Plan",
        "Outline a detailed plan for migrating existing data to the new system safely.",
    ),
    ("Rollback Plan", "Develop a contingency plan to revert changes in case of deployment failure."),
    ("Dependency Check", "Ensure all system dependencies are correctly installed and configured."),
    (
        "Configuration Management",
        "Document and manage system configurations for consistency and recovery purposes.",
    ),
    ("User Access Control", "Set up appropriate access controls and permissions for different user roles."),
    ("Documentation Update", "Update all relevant documentation to reflect changes in the system."),
    (
        "Training for End-Users and Support Staff",
        "Organize training sessions to familiarize users and support staff with the new system.",
    ),
    (
        "Monitoring and Alerting Systems",
        "Implement systems for real-time monitoring and alerts for system health and performance issues.",
    ),
    (
        "Legal and Compliance Checks",
        "Ensure the system complies with all relevant legal and regulatory requirements.",
    ),
    ("Announcement Plan", "Prepare communication strategies to inform stakeholders about the deployment."),
    ("Support Plan", "Establish a support framework to assist users post-deployment."),
    ("Live Deployment Date", "Schedule and confirm the date and time for the system to go live."),
    (
        "User Communication for Release",
        "Send out notifications to users about the upcoming release, detailing possible system downtime, "
        "interruptions, or changes. Ensure communication regarding the release is clear and comprehensive.",
    ),
]

GO_LIVE_DUE = {
    "code_review": "-5d",
    "performance_testing": "-4d",
    "security_testing": "-4d",
    "functionality_testing": "-3d",
    "database_backup": "-4h",
    "data_migration_plan": "-3d",
    "rollback_plan": "-2d",
    "dependency_check": "-2d",
    "configuration_management": "-2d",
    "user_access_control": "-2d",
    "documentation_update": "-1d",
    "training": "-1d",
    "monitoring_alerting": "-1d",
    "legal_compliance": "-5d",
    "announcement_plan": "-3d",
    "support_plan": "-2d",
    "live_deployment_date": "-7d",
    "user_communication": "-2d",
}

GO_LIVE_EVIDENCE = {
    "code_review",
    "performance_testing",
    "security_testing",
    "functionality_testing",
    "database_backup",
    "data_migration_plan",
    "rollback_plan",
    "legal_compliance",
}


# --- the shipped templates ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def go_live():
    return load_template(builtin_templates_dir() / "go-live.yml")


def test_go_live_has_the_18_items_in_order_with_exact_text(go_live):
    assert (go_live.name, go_live.title) == ("go-live", "Go-live checklist")
    assert [(i.title, i.description) for i in go_live.items] == GO_LIVE


def test_go_live_keys_are_unique_slugs_and_sections_few(go_live):
    keys = [i.key for i in go_live.items]
    assert len(set(keys)) == len(keys) == 18
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", k) for k in keys)
    sections = list(dict.fromkeys(i.section for i in go_live.items))
    assert sections[:3] == ["Quality", "Data", "Operations"]
    assert len(sections) <= 6


def test_go_live_offsets_evidence_and_roles(go_live):
    assert {i.key: i.offset for i in go_live.items} == {k: parse_offset(v) for k, v in GO_LIVE_DUE.items()}
    assert {i.key for i in go_live.items if i.evidence_required} == GO_LIVE_EVIDENCE
    assert all(i.role for i in go_live.items)
    assert all(i.offset <= timedelta(0) for i in go_live.items)
    by_key = {i.key: i for i in go_live.items}
    assert by_key["legal_compliance"].sign_off is SignOffRule.ALL
    assert by_key["code_review"].sign_off is SignOffRule.ANY


def test_hotfix_template_is_short_and_loads():
    hotfix = load_template(builtin_templates_dir() / "hotfix.yml")
    assert hotfix.name == "hotfix"
    assert 5 <= len(hotfix.items) <= 8
    assert all(abs(i.offset) <= timedelta(hours=4) for i in hotfix.items)


def test_builtin_library_loads_cleanly():
    library = TemplateLibrary.from_dirs(builtin_templates_dir())
    assert library.errors() == []
    assert library.names() == ["go-live", "hotfix"]


# --- offsets -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-5d", timedelta(days=-5)),
        ("-4h", timedelta(hours=-4)),
        ("-90m", timedelta(minutes=-90)),
        ("-1w", timedelta(weeks=-1)),
        ("0h", timedelta(0)),
        ("-0d", timedelta(0)),
        ("+1h", timedelta(hours=1)),
        ("+2d", timedelta(days=2)),
        ("-1d12h", timedelta(days=-1, hours=-12)),
        ("-1w2d3h4m", -timedelta(weeks=1, days=2, hours=3, minutes=4)),
        (" -3d ", timedelta(days=-3)),
        ("-365d", timedelta(days=-365)),
    ],
)
def test_parse_offset_accepts(text, expected):
    assert parse_offset(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("soon", '"soon" is not an offset'),
        ("", '"" is not an offset'),
        ("-", '"-" is not an offset'),
        ("-5", '"-5" is not an offset'),
        ("-5 d", '"-5 d" is not an offset'),
        ("-5D", '"-5D" is not an offset'),
        ("-12h1d", '"-12h1d" is not an offset'),  # units must run from weeks down to minutes
        ("-1.5d", '"-1.5d" is not an offset'),
        ("-5s", '"-5s" is not an offset'),
        ("--5d", '"--5d" is not an offset'),
        ("-٣d", "is not an offset"),  # Arabic-Indic digit
        ("5d", 'needs a sign: "-5d" is before launch, "+5d" after'),
        ("-366d", "more than 365 days"),
        ("-53w", "more than 365 days"),
    ],
)
def test_parse_offset_rejects_with_a_clear_message(text, message):
    with pytest.raises(InvalidInput) as caught:
        parse_offset(text)
    assert message in caught.value.message
    assert "-4h" in str(caught.value)  # the hint shows the accepted forms


# --- validation ----------------------------------------------------------------------------------------

_DROP = object()


def item(name: str = "a", **fields: Any) -> dict[str, Any]:
    """A valid item keyed `name`, with fields replaced (or dropped with _DROP)."""
    base: dict[str, Any] = {"key": name, "section": "Quality", "title": f"Title {name}", "due": "-1d"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not _DROP}


def template_yaml(*items: dict[str, Any], **top: Any) -> str:
    """Template text with the given items and top-level fields replaced (or dropped)."""
    data: dict[str, Any] = {"name": "demo", "title": "Demo", "items": list(items) or [item()]}
    data.update(top)
    return yaml.safe_dump({k: v for k, v in data.items() if v is not _DROP}, sort_keys=False)


def problems_of(text: str) -> TemplateError:
    with pytest.raises(TemplateError) as caught:
        load_template_text(text, source="demo.yml")
    return caught.value


def test_valid_template_round_trips_every_field():
    text = template_yaml(
        item("a", description="  Why it matters.  ", evidence=True, role="qa", sign_off="all", due="+1h"),
        item("b", due="-1d12h"),
    )
    template = load_template_text(text, source="demo.yml")
    first, second = template.items
    assert (first.key, first.section, first.title, first.description) == (
        "a",
        "Quality",
        "Title a",
        "Why it matters.",
    )
    assert (first.offset, first.evidence_required, first.role, first.sign_off) == (
        timedelta(hours=1),
        True,
        "qa",
        SignOffRule.ALL,
    )
    assert (second.description, second.evidence_required, second.role, second.sign_off) == (
        "",
        False,
        None,
        SignOffRule.ANY,
    )
    assert second.offset == timedelta(days=-1, hours=-12)
    assert template.source == "demo.yml"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # missing fields
        (template_yaml(item("a"), item("b", due=_DROP)), 'demo.yml: item 2 (b): "due" is missing'),
        (template_yaml(item("a", key=_DROP)), 'demo.yml: item 1 (Title a): "key" is missing'),
        (template_yaml(item("a", key=_DROP, title=_DROP)), 'demo.yml: item 1: "title" is missing'),
        (template_yaml(name=_DROP), 'demo.yml: "name" is missing'),
        (template_yaml(items=_DROP), 'demo.yml: "items" is missing'),
        # unknown fields
        (
            template_yaml(item("a", dua="-1d")),
            'demo.yml: item 1 (a): unknown field "dua" (did you mean "due"?)',
        ),
        (
            template_yaml(item("a", owner="U123")),
            'demo.yml: item 1 (a): unknown field "owner"; allowed fields are key, title, section, due',
        ),
        (template_yaml(itmes=[]), 'demo.yml: unknown field "itmes" (did you mean "items"?)'),
        # offsets
        (
            template_yaml(item("a"), item("database_backup", due="soon")),
            'demo.yml: item 2 (database_backup): "due" must be an offset like -4h or -3d, not "soon"',
        ),
        (template_yaml(item("a", due="5d")), 'item 1 (a): "due" needs a sign: "-5d" is before launch'),
        (template_yaml(item("a", due=0)), 'item 1 (a): "due" must be an offset like -4h or -3d, not 0'),
        (template_yaml(item("a", due="-400d")), 'item 1 (a): "due" must be within 365 days of launch'),
        # duplicates
        (
            template_yaml(item("a"), item("a", title="Other")),
            'demo.yml: item 2 (a): "key" "a" is already used by item 1',
        ),
        (
            template_yaml(item("a", title="Backup"), item("b", title="backup ")),
            'demo.yml: item 2 (b): "title" "backup" is already used by item 1',
        ),
        # items list
        (template_yaml(items=[]), 'demo.yml: "items" must be a non-empty list of items, not a list'),
        (template_yaml(items="none"), 'demo.yml: "items" must be a non-empty list of items, not "none"'),
        (template_yaml(items=None), '"items" must be a non-empty list of items, not nothing'),
        (
            template_yaml(*[item(f"k{n}") for n in range(MAX_ITEMS + 1)]),
            f'demo.yml: "items" has {MAX_ITEMS + 1} items; the limit is {MAX_ITEMS}',
        ),
        (
            template_yaml(items=["just text"]),
            'demo.yml: item 1: must be a mapping with key, title, section and due, not "just text"',
        ),
        # wrong types and values
        (template_yaml(item("a", evidence="yes")), 'item 1 (a): "evidence" must be true or false, not "yes"'),
        (template_yaml(item("a", title=["x"])), 'item 1 (a): "title" must be text, not a list'),
        (template_yaml(item("a", title="  ")), 'item 1 (a): "title" must not be empty'),
        (
            template_yaml(item("a", title="x" * 151)),
            'item 1 (a): "title" must be at most 150 characters, not 151',
        ),
        (template_yaml(item("a", section="x" * 51)), 'item 1 (a): "section" must be at most 50 characters'),
        (template_yaml(item("a", section=3)), 'item 1 (a): "section" must be text, not 3'),
        (template_yaml(item("a", description="x" * 2001)), '"description" must be at most 2000 characters'),
        (
            template_yaml(item("a", sign_off="some")),
            'item 1 (a): "sign_off" must be "any" or "all", not "some"',
        ),
        (template_yaml(item("a", role=5)), 'item 1 (a): "role" must be a lowercase name'),
        (template_yaml(item("Database Backup")), 'item 1 (Database Backup): "key" must be a lowercase name'),
        (template_yaml(item(key=True)), 'item 1 (Title a): "key" must be a lowercase name'),
        (
            template_yaml(name="Go Live"),
            'demo.yml: "name" must be a lowercase name of letters, digits, - and _',
        ),
        (template_yaml(version=0), 'demo.yml: "version" must be a whole number from 1 up, not 0'),
        (template_yaml(version=True), '"version" must be a whole number from 1 up, not true'),
        # the file as a whole
        ("- a\n- b\n", "demo.yml: must be a mapping with name, title and items, not a list"),
        ("", "demo.yml: must be a mapping with name, title and items, not nothing"),
        ("# only a comment\n", "demo.yml: must be a mapping with name, title and items, not nothing"),
    ],
)
def test_each_validation_error_names_file_item_and_field(text, expected):
    assert expected in problems_of(text).message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: demo\ntitle: Demo\nitems:\n  - key: a\n   title: b\n",
            "demo.yml: line 5, column 4: YAML syntax error",
        ),
        ("name: demo\ntitle: [Demo\nitems: []\n", "demo.yml: line 3, column 6: YAML syntax error"),
        (
            "name: demo\ntitle: Demo\nitems:\n  - key: a\n    key: b\n",
            'demo.yml: line 5, column 5: YAML syntax error: key "key" appears twice in this mapping',
        ),
        ("name: demo\n---\nname: other\n", "demo.yml: line 2, column 1: YAML syntax error"),
        ("name: !!python/object:os.system x\n", "demo.yml: line 1, column 7: YAML syntax error"),
    ],
)
def test_yaml_errors_report_the_line(text, expected):
    assert problems_of(text).message.startswith(expected)


def test_yaml_merge_keys_may_be_overridden():
    text = (
        "name: demo\ntitle: Demo\nitems:\n"
        "  - &base {key: a, title: A, section: S, due: -1d}\n"
        "  - <<: *base\n    key: b\n    title: B\n"
    )
    assert [i.key for i in load_template_text(text, source="demo.yml").items] == ["a", "b"]


def test_all_problems_are_reported_at_once():
    error = problems_of(
        template_yaml(
            item("a", due="soon", evidence="yes"), item("a", section=_DROP), item("c", colour="red")
        )
    )
    assert len(error.problems) == 6  # item 2 repeats item 1's key and its default title
    assert error.message.splitlines()[0] == "demo.yml has 6 problems:"
    assert all(p.startswith("demo.yml: item ") for p in error.problems)
    assert 'item 2 (a): "key" "a" is already used by item 1' in error.message


def test_template_error_is_a_user_error():
    error = problems_of(template_yaml(items=[]))
    assert isinstance(error, InvalidInput)
    assert isinstance(error, UserError)
    assert error.source == "demo.yml"
    assert error.path is None


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "bad-offset.yml",
            'bad-offset.yml: item 2 (database_backup): "due" must be an offset like -4h or -3d, not "soon"',
        ),
        (
            "unknown-field.yml",
            'unknown-field.yml: item 1 (code_review): unknown field "evidance" (did you mean "evidence"?)',
        ),
        ("syntax-error.yml", "syntax-error.yml: line 9, column 1: YAML syntax error"),
        ("no-items.yml", 'no-items.yml: "items" must be a non-empty list of items'),
        ("many-problems.yml", "many-problems.yml has 7 problems:"),
    ],
)
def test_fixture_files_report_by_base_name(fixture, expected):
    with pytest.raises(TemplateError) as caught:
        load_template(FIXTURES / fixture)
    assert expected in caught.value.message
    assert caught.value.path == FIXTURES / fixture


def test_many_problems_fixture_lists_each_problem_in_file_order():
    with pytest.raises(TemplateError) as caught:
        load_template(FIXTURES / "many-problems.yml")
    assert all(p.startswith("many-problems.yml: ") for p in caught.value.problems)
    assert [p.removeprefix("many-problems.yml: ") for p in caught.value.problems] == [
        '"name" must be a lowercase name of letters, digits, - and _ (like database_backup), '
        'at most 64 characters, not "Many Problems"',
        '"title" must not be empty',
        'item 1 (code_review): "due" needs a sign: "-5d" is before launch, "+5d" after',
        'item 1 (code_review): "sign_off" must be "any" or "all", not "some"',
        'item 2 (code_review): "section" is missing',
        'item 2 (code_review): "key" "code_review" is already used by item 1',
        'item 3: must be a mapping with key, title, section and due, not "just a string"',
    ]


def test_unreadable_and_non_utf8_files_are_template_errors(tmp_path):
    latin = tmp_path / "latin.yml"
    latin.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(TemplateError, match=r"latin\.yml: is not UTF-8 text"):
        load_template(latin)
    with pytest.raises(TemplateError, match=r"missing\.yml: cannot be read"):
        load_template(tmp_path / "missing.yml")


# --- the library -----------------------------------------------------------------------------------------


def write(directory: Path, filename: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / filename
    path.write_text(text, encoding="utf-8")
    return path


def test_extra_dir_overrides_builtin_by_name(tmp_path):
    write(tmp_path / "extra", "our-go-live.yml", template_yaml(item("ours"), name="go-live", title="Ours"))
    write(tmp_path / "extra", "canary.yaml", template_yaml(name="canary"))
    library = TemplateLibrary.from_dirs(builtin_templates_dir(), tmp_path / "extra")
    assert library.errors() == []
    assert library.names() == ["canary", "go-live", "hotfix"]
    assert library.get("go-live").title == "Ours"
    assert library.get("go-live").source.endswith("our-go-live.yml")
    assert library.get("hotfix").source == str(builtin_templates_dir() / "hotfix.yml")
    assert library.overridden() == ["go-live"]


def test_bad_file_in_extra_dir_is_reported_and_the_rest_still_load(tmp_path):
    extra = tmp_path / "extra"
    write(extra, "canary.yml", template_yaml(name="canary"))
    shutil.copy(FIXTURES / "bad-offset.yml", extra / "bad-offset.yml")
    write(extra, "notes.txt", "not a template")
    write(extra, ".#canary.yml", "editor lock file")
    library = TemplateLibrary.from_dirs(builtin_templates_dir(), extra)
    assert library.names() == ["canary", "go-live", "hotfix"]
    [error] = library.errors()
    assert error.path == extra / "bad-offset.yml"
    assert 'bad-offset.yml: item 2 (database_backup): "due"' in error.message
    assert "bad-offset" not in library


def test_bad_builtin_file_is_reported_not_raised(tmp_path):
    builtin = tmp_path / "builtin"
    write(builtin, "go-live.yml", template_yaml(name="go-live"))
    write(builtin, "broken.yml", "name: [\n")
    library = TemplateLibrary.from_dirs(builtin, None)
    assert library.names() == ["go-live"]
    assert [e.source for e in library.errors()] == ["broken.yml"]


def test_missing_dirs_and_duplicate_names_in_one_dir_are_reported(tmp_path):
    builtin = tmp_path / "builtin"
    write(builtin, "a.yml", template_yaml(item("first"), name="same"))
    write(builtin, "b.yml", template_yaml(item("second"), name="same"))
    library = TemplateLibrary.from_dirs(builtin, tmp_path / "nowhere")
    assert [i.key for i in library.get("same").items] == ["first"]
    messages = [e.message for e in library.errors()]
    assert messages == [
        'b.yml: template name "same" is already used by a.yml',
        f"{tmp_path / 'nowhere'}: template folder does not exist",
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("go-lvie", 'There is no checklist template called "go-lvie". Did you mean "go-live"?'),
        ("hotfx", 'Did you mean "hotfix"?'),
        ("zzz", 'There is no checklist template called "zzz".'),
    ],
)
def test_unknown_name_suggests_and_lists_available(name, message):
    library = TemplateLibrary.from_dirs(builtin_templates_dir())
    with pytest.raises(NotFound) as caught:
        library.get(name)
    assert message in caught.value.message
    assert caught.value.hint == "Available templates: go-live, hotfix"


def test_get_ignores_case_and_spaces_and_an_empty_library_says_so():
    library = TemplateLibrary.from_dirs(builtin_templates_dir())
    assert library.get("  Go-Live ").name == "go-live"
    assert "GO-LIVE" in library and len(library) == 2
    with pytest.raises(NotFound) as caught:
        TemplateLibrary().get("go-live")
    assert caught.value.hint == "Available templates: none"


def test_a_template_can_set_its_own_reminder_timing() -> None:
    from datetime import timedelta

    from bot.domain.checklists import load_template_text

    text = """
name: careful
title: Careful
reminders:
  heads_up: 2
  overdue: once
  escalate_after: 16h
  final_call: "off"
  summary: [24h, 72h]
items:
  - {key: a, section: S, title: A, due: -1d}
"""
    reminders = load_template_text(text, source="careful.yml").reminders
    assert reminders.heads_up_days == 2 and reminders.overdue_daily is False
    assert reminders.escalate_after_hours == 16 and reminders.final_call < timedelta(0)
    assert reminders.summary == (timedelta(hours=72), timedelta(hours=24))


def test_reminder_timing_mistakes_name_the_field() -> None:
    import pytest

    from bot.domain.checklists import TemplateError, load_template_text

    text = (
        "name: x\ntitle: X\nreminders: {heads_up: 99, overdue: weekly, summry: [1h]}\n"
        "items:\n  - {key: a, section: S, title: A, due: -1d}\n"
    )
    with pytest.raises(TemplateError) as caught:
        load_template_text(text, source="x.yml")
    message = str(caught.value)
    assert "heads_up" in message and "overdue" in message and 'did you mean "summary"' in message
