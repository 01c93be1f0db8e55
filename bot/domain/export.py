"""A release's checklist and audit trail as a CSV file (for spreadsheets) and a Markdown document.

CSV rules (``from_csv`` reads back exactly what ``to_csv`` wrote):

* One file with a header row. The ``record`` column says ``item`` or ``audit``; every row has the union
  of both records' columns, empty where a column belongs to the other record.
* Timestamps are ISO-8601 in UTC (``2026-12-10T13:00:00Z``) and come back as the same instants in UTC;
  owners are space-separated Slack ids.
* ``owner_names``, ``signed_off_by_name`` and ``actor_name`` repeat the ids as display names for readers;
  ``from_csv`` ignores them, the ids are the data.
* A missing value is an empty cell. A text value that is empty, or begins with ``=``, ``+``, ``-``,
  ``@``, a tab, a carriage return or ``'``, is written with one leading ``'``: spreadsheets then show it
  as text instead of running it as a formula, and ``from_csv`` removes exactly that one quote.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime

from bot.domain.errors import InvalidInput
from bot.domain.when import format_local

ITEM = "item"
AUDIT = "audit"
FORMATS = {"csv": "csv", "md": "md", "markdown": "md"}
_FORMULA_START = frozenset("=+-@\t\r'")  # the quote itself too, so a leading quote stays unambiguous
_QUOTE = "'"
# Everything str.splitlines() breaks on, not just \n and \r: no viewer may see a row split in two.
_LINE_BREAK = re.compile(r"\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_SLUG_JUNK = re.compile(r"[^a-z0-9]+")
_MAX_SLUG = 60


@dataclass(frozen=True, slots=True)
class ExportItem:
    """One checklist item as it stands at export time."""

    position: int
    section: str
    title: str
    state: str
    owners: tuple[str, ...]  # Slack user (U…/W…) and user group (S…) ids
    due_at: datetime
    signed_off_by: str | None
    signed_off_at: datetime | None
    reason: str | None
    evidence: str | None


@dataclass(frozen=True, slots=True)
class ExportAudit:
    """One audit event: who did what to the release or one of its items, and how."""

    at: datetime
    actor: str
    action: str
    source: str
    outcome: str
    item: str | None
    before: str | None
    after: str | None
    detail: str | None


@dataclass(frozen=True, slots=True)
class ExportRelease:
    """Everything an export shows about one release."""

    name: str
    channel_id: str
    state: str
    launch_at: datetime
    timezone: str
    items: tuple[ExportItem, ...]
    audit: tuple[ExportAudit, ...]
    people: Mapping[str, str] = field(default_factory=dict)  # id -> display name; ids stay in the data


_ITEM_COLUMNS = tuple(f.name for f in fields(ExportItem))
_AUDIT_COLUMNS = tuple(f.name for f in fields(ExportAudit))
_NAME_COLUMNS = {"owners": "owner_names", "signed_off_by": "signed_off_by_name", "actor": "actor_name"}
COLUMNS = ("record", *_ITEM_COLUMNS, *_AUDIT_COLUMNS, *_NAME_COLUMNS.values())
_TIMESTAMPS = frozenset({"due_at", "signed_off_at", "at"})


def to_csv(release: ExportRelease) -> str:
    """The items, then the audit trail, as one CSV text with a header row."""
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for item in release.items:
        writer.writerow({"record": ITEM, **_cells(item, _ITEM_COLUMNS), **_names(item, release.people)})
    for event in release.audit:
        writer.writerow({"record": AUDIT, **_cells(event, _AUDIT_COLUMNS), **_names(event, release.people)})
    return out.getvalue()


def from_csv(text: str) -> tuple[list[ExportItem], list[ExportAudit]]:
    """Read what to_csv wrote back into records; InvalidInput naming the row if it is not such a file."""
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    items: list[ExportItem] = []
    audit: list[ExportAudit] = []
    record = 1  # counted in records after the header, not lines: a quoted cell may span several lines
    try:
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise InvalidInput("That isn't a checklist export: the header row doesn't match.")
        for row in reader:
            _read_row(row, items, audit)
            record += 1
    except (ValueError, csv.Error) as error:
        raise InvalidInput(f"Record {record} of the export can't be read: {error}.") from None
    return items, audit


def to_markdown(release: ExportRelease) -> str:
    """A readable report: title, launch time, the items table and the audit trail table."""
    names = release.people
    launch_utc = release.launch_at.astimezone(UTC)
    lines = [
        f"# {_inline(release.name)} — release checklist",
        "",
        f"- **Launch:** {launch_utc:%Y-%m-%d %H:%M} UTC"
        f" ({format_local(release.launch_at, release.timezone)}, {_inline(release.timezone)})",
        f"- **State:** {_inline(release.state)}",
        f"- **Channel:** {_inline(release.channel_id)}",
        f"- **Items:** {len(release.items)} · **audit events:** {len(release.audit)}",
        "",
        "## Checklist",
        "",
    ]
    lines += _table(
        ("#", "Section", "Item", "State", "Owners", "Due (UTC)", "Signed off", "Reason", "Evidence"),
        [
            (
                str(i.position),
                i.section,
                i.title,
                i.state,
                ", ".join(_person(o, names) for o in i.owners),
                _utc(i.due_at),
                _signed_off(i, names),
                i.reason or "",
                i.evidence or "",
            )
            for i in release.items
        ],
    )
    lines += ["", "## Audit trail", ""]
    lines += _table(
        ("When (UTC)", "Who", "Action", "Item", "Before", "After", "Source", "Outcome", "Detail"),
        [
            (
                _utc(e.at),
                _person(e.actor, names),
                e.action,
                e.item or "",
                e.before or "",
                e.after or "",
                e.source,
                e.outcome,
                e.detail or "",
            )
            for e in release.audit
        ],
    )
    return "\n".join(lines) + "\n"


def filename(release: ExportRelease, fmt: str) -> str:
    """A file name safe on every system: 'payments-2-4-checklist.csv'."""
    extension = FORMATS.get(fmt.strip().lower())
    if extension is None:
        raise InvalidInput("Export as csv or markdown.")
    ascii_name = unicodedata.normalize("NFKD", release.name).encode("ascii", "ignore").decode()
    slug = _SLUG_JUNK.sub("-", ascii_name.lower()).strip("-")[:_MAX_SLUG].rstrip("-")
    return f"{slug or 'release'}-checklist.{extension}"


def _read_row(row: dict[str, str], items: list[ExportItem], audit: list[ExportAudit]) -> None:
    """Append one CSV row to the records it belongs to; ValueError if it is malformed."""
    if None in row or None in row.values():
        raise ValueError("it has the wrong number of cells")
    if row["record"] == ITEM:
        items.append(_item(row))
    elif row["record"] == AUDIT:
        audit.append(_audit(row))
    else:
        raise ValueError("its record is neither item nor audit")


# --- CSV cells ---------------------------------------------------------------------------------------


def _cells(record: ExportItem | ExportAudit, columns: tuple[str, ...]) -> dict[str, str]:
    """A record's own columns as CSV cells."""
    return {name: _cell(getattr(record, name)) for name in columns}


def _cell(value: object) -> str:
    """One value as a cell: '' for None, UTC ISO times, space-joined ids, text guarded against formulas."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, tuple):
        if any(not slack_id or slack_id != "".join(slack_id.split()) for slack_id in value):
            raise ValueError(f"owner ids must be non-empty and without spaces: {value!r}")
        return " ".join(value)
    assert isinstance(value, str)
    return _QUOTE + value if not value or value[0] in _FORMULA_START else value


def _names(record: ExportItem | ExportAudit, people: Mapping[str, str]) -> dict[str, str]:
    """The display-name columns that apply to this record, guarded like any other text."""
    cells: dict[str, str] = {}
    for column, name_column in _NAME_COLUMNS.items():
        if not hasattr(record, column):
            continue
        value = getattr(record, column)
        ids = value if isinstance(value, tuple) else (value,) if value else ()
        if ids:
            cells[name_column] = _cell(", ".join(people.get(i, i) for i in ids))
    return cells


def _text(cell: str) -> str:
    """Undo the formula guard: drop exactly one leading quote."""
    return cell[1:] if cell.startswith(_QUOTE) else cell


def _optional(cell: str) -> str | None:
    """An empty cell is a missing value; anything else is text."""
    return _text(cell) if cell else None


def _time(cell: str) -> datetime:
    """A UTC ISO-8601 timestamp, as written by _iso."""
    at = datetime.fromisoformat(cell)
    if at.utcoffset() is None:
        raise ValueError(f"timestamp without a zone: {cell!r}")
    return at


def _item(row: dict[str, str]) -> ExportItem:
    """An item row back to its record."""
    if not row["position"].isdigit():
        raise ValueError("position is not a whole number")
    return ExportItem(
        position=int(row["position"]),
        section=_text(row["section"]),
        title=_text(row["title"]),
        state=_text(row["state"]),
        owners=tuple(row["owners"].split()),
        due_at=_time(row["due_at"]),
        signed_off_by=_optional(row["signed_off_by"]),
        signed_off_at=_time(row["signed_off_at"]) if row["signed_off_at"] else None,
        reason=_optional(row["reason"]),
        evidence=_optional(row["evidence"]),
    )


def _audit(row: dict[str, str]) -> ExportAudit:
    """An audit row back to its record."""
    return ExportAudit(
        at=_time(row["at"]),
        actor=_text(row["actor"]),
        action=_text(row["action"]),
        source=_text(row["source"]),
        outcome=_text(row["outcome"]),
        item=_optional(row["item"]),
        before=_optional(row["before"]),
        after=_optional(row["after"]),
        detail=_optional(row["detail"]),
    )


def _iso(at: datetime) -> str:
    """UTC ISO-8601 with a Z, the form spreadsheets and people both read."""
    if at.utcoffset() is None:
        raise ValueError("export timestamps must be timezone-aware")
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- Markdown ----------------------------------------------------------------------------------------


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    """A GitHub-flavoured Markdown table; header cells are ours, body cells are escaped."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell_md(cell) for cell in row) + " |" for row in rows]
    if not rows:
        lines.append("| " + " | ".join(["—"] + [""] * (len(header) - 1)) + " |")
    return lines


def _inline(text: str) -> str:
    """User text made inert in Markdown prose: one line, backslashes kept, HTML shown rather than run."""
    return " ".join(_LINE_BREAK.split(_escaped(text)))


def _cell_md(text: str) -> str:
    """User text fit for one table cell: pipes escaped and line breaks as <br> so the row holds."""
    return "<br>".join(line.replace("|", "\\|") for line in _LINE_BREAK.split(_escaped(text))).strip()


def _escaped(text: str) -> str:
    """Backslashes doubled (so a user's backslash can't escape our pipe) and HTML made literal."""
    return text.replace("\\", "\\\\").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _person(slack_id: str, people: Mapping[str, str]) -> str:
    """'Ana (U123)' when the name is known, else the id."""
    name = people.get(slack_id)
    return f"{name} ({slack_id})" if name else slack_id


def _signed_off(item: ExportItem, people: Mapping[str, str]) -> str:
    """'Ana (U123), 2026-12-08 16:02' or empty."""
    if item.signed_off_by is None:
        return ""
    when = f", {_utc(item.signed_off_at)}" if item.signed_off_at else ""
    return _person(item.signed_off_by, people) + when


def _utc(at: datetime) -> str:
    """A short UTC time for tables."""
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M}"
