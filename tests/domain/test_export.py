"""Checklist export: an exact CSV round trip that spreadsheets can't run, and Markdown rows that hold."""

from __future__ import annotations

import csv
import io
import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.errors import InvalidInput
from bot.domain.export import (
    COLUMNS,
    ExportAudit,
    ExportItem,
    ExportRelease,
    filename,
    from_csv,
    to_csv,
    to_markdown,
)

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")

BACKUP = ExportItem(
    position=5,
    section="Data",
    title="Database Backup",
    state="done",
    owners=("U123", "S777"),
    due_at=datetime(2026, 12, 9, 9, 0, tzinfo=UTC),
    signed_off_by="U123",
    signed_off_at=datetime(2026, 12, 8, 16, 2, 30, 123456, tzinfo=UTC),
    reason=None,
    evidence="backup-2026-12-08-1600",
)
PEN_TEST = ExportItem(
    position=9,
    section="Quality",
    title="Security | Pen test",
    state="blocked",
    owners=(),
    due_at=datetime(2026, 12, 8, 10, 0, tzinfo=BERLIN),  # any zone in, UTC out
    signed_off_by=None,
    signed_off_at=None,
    reason='=HYPERLINK("http://evil.example","click")',
    evidence="",
)
AUDIT = (
    ExportAudit(
        at=datetime(2026, 12, 8, 16, 2, tzinfo=UTC),
        actor="U123",
        action="sign_off",
        source="reaction",
        outcome="applied",
        item="Database Backup",
        before="open",
        after="done",
        detail=None,
    ),
    ExportAudit(
        at=datetime(2026, 12, 8, 17, 0, tzinfo=UTC),
        actor="U456",
        action="block",
        source="command",
        outcome="applied",
        item="Security | Pen test",
        before="open",
        after="blocked",
        detail='pen-test report pending\nfrom vendor, "Acme" <a|b>\r\n-2 days',
    ),
)
RELEASE = ExportRelease(
    name="Payments 2.4",
    channel_id="C42",
    state="planning",
    launch_at=datetime(2026, 12, 10, 13, 0, tzinfo=UTC),
    timezone="Europe/Berlin",
    items=(BACKUP, PEN_TEST),
    audit=AUDIT,
    people={"U123": "Ana", "U456": "Lee | ops", "S777": "@release-team"},
)


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


# --- CSV ----------------------------------------------------------------------------------------


def test_round_trip_of_the_example() -> None:
    assert from_csv(to_csv(RELEASE)) == (list(RELEASE.items), list(RELEASE.audit))


@pytest.mark.parametrize("fold", [0, 1])
def test_times_come_back_in_utc(fold: int) -> None:
    # 02:30 on 25 Oct 2026 happens twice in Berlin: 00:30 UTC (CEST) and 01:30 UTC (CET).
    ambiguous = datetime(2026, 10, 25, 2, 30, fold=fold, tzinfo=BERLIN)
    item = ExportItem(1, "S", "T", "open", (), ambiguous, None, None, None, None)
    release = ExportRelease("R", "C1", "planning", ambiguous, "UTC", (item,), ())
    (back,), _ = from_csv(to_csv(release))
    assert back.due_at == datetime(2026, 10, 25, 0 + fold, 30, tzinfo=UTC)
    assert back.due_at.tzinfo is not None and back.due_at.utcoffset() == timedelta(0)


def test_csv_layout() -> None:
    text = to_csv(RELEASE)
    assert text.splitlines()[0] == ",".join(COLUMNS)
    got = rows(text)
    assert [r["record"] for r in got] == ["item", "item", "audit", "audit"]
    backup = got[0]
    assert backup["owners"] == "U123 S777"
    assert backup["due_at"] == "2026-12-09T09:00:00Z"
    assert backup["signed_off_at"] == "2026-12-08T16:02:30.123456Z"
    assert backup["owner_names"] == "Ana, @release-team"
    assert backup["signed_off_by_name"] == "Ana"
    assert backup["at"] == backup["actor"] == backup["actor_name"] == ""  # the audit columns stay empty
    assert got[1]["due_at"] == "2026-12-08T09:00:00Z"  # 10:00 CET
    assert got[3]["actor_name"] == "Lee | ops"
    assert got[2]["position"] == got[2]["title"] == ""


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-2 days", "'-2 days"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'quoted", "''quoted"),  # a real leading quote is kept, so reading back stays exact
        ("", "'"),  # empty text, distinct from a missing value
        ("a=b", "a=b"),
        ("plain", "plain"),
    ],
)
def test_formula_guard(value: str, cell: str) -> None:
    item = ExportItem(1, "S", "T", "open", (), BACKUP.due_at, None, None, value, None)
    release = ExportRelease("R", "C1", "planning", BACKUP.due_at, "UTC", (item,), ())
    written = rows(to_csv(release))[0]
    assert written["reason"] == cell
    assert written["evidence"] == ""  # None is an empty cell
    assert from_csv(to_csv(release))[0] == [item]


def test_display_names_are_guarded_too() -> None:
    item = ExportItem(1, "S", "T", "open", ("S777",), BACKUP.due_at, None, None, None, None)
    release = ExportRelease("R", "C1", "planning", BACKUP.due_at, "UTC", (item,), (), {"S777": "@team"})
    assert rows(to_csv(release))[0]["owner_names"] == "'@team"


def test_no_cell_starts_a_formula() -> None:
    for row in rows(to_csv(RELEASE)):
        for column, cell in row.items():
            assert not cell[:1] or cell[0] not in "=+-@\t\r", (column, cell)


def test_ids_with_spaces_cannot_be_written() -> None:
    item = ExportItem(1, "S", "T", "open", ("U1 U2",), BACKUP.due_at, None, None, None, None)
    release = ExportRelease("R", "C1", "planning", BACKUP.due_at, "UTC", (item,), ())
    with pytest.raises(ValueError, match="owner ids"):
        to_csv(release)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "header row"),
        ("a,b,c\r\n", "header row"),
        (",".join(COLUMNS) + "\r\nitem,1\r\n", "wrong number of cells"),
        (",".join(COLUMNS) + "\r\nrelease" + "," * (len(COLUMNS) - 1) + "\r\n", "neither item nor audit"),
        (",".join(COLUMNS) + "\r\nitem,x" + "," * (len(COLUMNS) - 2) + "\r\n", "position"),
        (",".join(COLUMNS) + '\r\nitem,"1\r\n', "Record 1 .*unexpected end of data"),
        (to_csv(RELEASE) + "audit,1\r\n", "Record 5 .*wrong number of cells"),
    ],
)
def test_from_csv_refuses_what_to_csv_did_not_write(text: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        from_csv(text)


def test_from_csv_refuses_a_timestamp_without_zone() -> None:
    good = to_csv(RELEASE)
    with pytest.raises(InvalidInput, match="without a zone"):
        from_csv(good.replace("2026-12-09T09:00:00Z", "2026-12-09T09:00:00"))


# Arbitrary text, including commas, quotes, line breaks, NUL and a leading =; no lone surrogates,
# which no stored text can hold (clean_name / clean_note refuse them).
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=30) | st.sampled_from(
    ["=cmd|' /C calc'!A0", "'", "''x", '"', "a,b", "line\r\nbreak", "\r", "-", "@", "+1", "\t"]
)
ids = st.from_regex(r"[USW][A-Z0-9]{2,10}", fullmatch=True)
# UTC, as the database hands them over. (A local time in a DST fold with fold=1 never compares equal to
# any other zone's datetime, PEP 495, so zoned inputs are checked by instant in test_times_come_back_in_utc.)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
items = st.builds(
    ExportItem,
    position=st.integers(1, 500),
    section=texts,
    title=texts,
    state=texts,
    owners=st.lists(ids, max_size=3).map(tuple),
    due_at=instants,
    signed_off_by=st.none() | ids,
    signed_off_at=st.none() | instants,
    reason=st.none() | texts,
    evidence=st.none() | texts,
)
audits = st.builds(
    ExportAudit,
    at=instants,
    actor=ids,
    action=texts,
    source=texts,
    outcome=texts,
    item=st.none() | texts,
    before=st.none() | texts,
    after=st.none() | texts,
    detail=st.none() | texts,
)
releases = st.builds(
    ExportRelease,
    name=texts,
    channel_id=ids,
    state=texts,
    launch_at=instants,
    timezone=st.just("Europe/Berlin"),
    items=st.lists(items, max_size=4).map(tuple),
    audit=st.lists(audits, max_size=4).map(tuple),
    people=st.dictionaries(ids, texts, max_size=4),
)


@settings(max_examples=300)
@given(releases)
def test_round_trip_is_exact(release: ExportRelease) -> None:
    assert from_csv(to_csv(release)) == (list(release.items), list(release.audit))


# --- Markdown -----------------------------------------------------------------------------------


def table_rows(markdown: str, heading: str) -> list[str]:
    """The lines of the table under a heading: from its header row to the first blank line."""
    lines = markdown.split("\n")
    start = lines.index(heading) + 2
    end = lines.index("", start) if "" in lines[start:] else len(lines)
    return lines[start:end]


def cells(row: str) -> list[str]:
    """Split a table row on unescaped pipes (a backslash escapes the next character)."""
    out, current, escaped = [], "", False
    for c in row.strip()[1:-1]:
        if escaped:
            current, escaped = current + c, False
        elif c == "\\":
            current, escaped = current + c, True
        elif c == "|":
            out.append(current.strip())
            current = ""
        else:
            current += c
    return [*out, current.strip()]


def test_markdown_report() -> None:
    md = to_markdown(RELEASE)
    assert md.startswith("# Payments 2.4 — release checklist\n")
    assert "- **Launch:** 2026-12-10 13:00 UTC (Thu 10 Dec 2026, 14:00 CET, Europe/Berlin)" in md
    checklist = table_rows(md, "## Checklist")
    assert cells(checklist[0]) == [
        "#", "Section", "Item", "State", "Owners", "Due (UTC)", "Signed off", "Reason", "Evidence",
    ]  # fmt: skip
    assert checklist[1] == "|---|---|---|---|---|---|---|---|---|"
    assert cells(checklist[2]) == [
        "5",
        "Data",
        "Database Backup",
        "done",
        "Ana (U123), @release-team (S777)",
        "2026-12-09 09:00",
        "Ana (U123), 2026-12-08 16:02",
        "",
        "backup-2026-12-08-1600",
    ]
    assert cells(checklist[3])[2] == "Security \\| Pen test"
    assert cells(checklist[3])[4] == ""  # nobody owns it
    assert len(checklist) == 4


def test_markdown_audit_trail_keeps_each_event_on_one_row() -> None:
    trail = table_rows(to_markdown(RELEASE), "## Audit trail")
    assert cells(trail[0])[:3] == ["When (UTC)", "Who", "Action"]
    assert len(trail) == 2 + len(AUDIT)
    block = cells(trail[3])
    assert len(block) == 9
    assert block[1] == "Lee \\| ops (U456)"
    assert block[8] == 'pen-test report pending<br>from vendor, "Acme" &lt;a\\|b&gt;<br>-2 days'


def test_markdown_without_items_or_events_still_has_tables() -> None:
    empty = ExportRelease("Quiet", "C1", "planning", RELEASE.launch_at, "UTC", (), ())
    md = to_markdown(empty)
    assert len(table_rows(md, "## Checklist")) == 3
    assert len(table_rows(md, "## Audit trail")) == 3
    assert "Thu 10 Dec 2026, 13:00 UTC" in md


def test_markdown_backslash_cannot_unescape_a_pipe() -> None:
    item = ExportItem(1, "S", "ends with \\", "open", (), BACKUP.due_at, None, None, "a\\|b", None)
    release = ExportRelease("R", "C1", "planning", BACKUP.due_at, "UTC", (item,), ())
    row = table_rows(to_markdown(release), "## Checklist")[2]
    assert len(cells(row)) == 9
    assert cells(row)[2] == "ends with \\\\"
    assert cells(row)[7] == "a\\\\\\|b"


@settings(max_examples=200)
@given(releases)
def test_markdown_rows_hold_whatever_the_text(release: ExportRelease) -> None:
    md = to_markdown(release)
    assert len(table_rows(md, "## Checklist")) == 2 + max(1, len(release.items))
    assert len(table_rows(md, "## Audit trail")) == 2 + max(1, len(release.audit))
    assert all(len(cells(row)) == 9 for row in table_rows(md, "## Checklist"))
    assert all(len(cells(row)) == 9 for row in table_rows(md, "## Audit trail"))
    assert md.count("\n") == len(md.splitlines())  # no line break but the ones between lines
    assert "<" not in md.replace("<br>", "")  # user text can't open an HTML tag


# --- file names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt", "expected"),
    [
        ("Payments 2.4", "csv", "payments-2-4-checklist.csv"),
        ("Payments 2.4", "markdown", "payments-2-4-checklist.md"),
        ("Payments 2.4", "MD", "payments-2-4-checklist.md"),
        ("Café Déjà-vu", "csv", "cafe-deja-vu-checklist.csv"),
        ("../../etc/passwd", "csv", "etc-passwd-checklist.csv"),
        ("发布", "csv", "release-checklist.csv"),
        ("x" * 200, "csv", "x" * 60 + "-checklist.csv"),
        ("a" * 59 + " b", "csv", "a" * 59 + "-checklist.csv"),
    ],
)
def test_filename(name: str, fmt: str, expected: str) -> None:
    release = ExportRelease(name, "C1", "planning", RELEASE.launch_at, "UTC", (), ())
    assert filename(release, fmt) == expected


def test_filename_refuses_unknown_formats() -> None:
    with pytest.raises(InvalidInput, match="csv or markdown"):
        filename(RELEASE, "xlsx")
