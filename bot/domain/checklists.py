"""Checklist templates: parse due offsets, load and validate YAML templates, and keep a library of them."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.domain.announcements import AnnouncementKind, PlanEntry
from bot.domain.announcements import parse_offset as parse_announce_at
from bot.domain.errors import InvalidInput, NotFound, UserError
from bot.domain.model import ChecklistTemplate, ItemTemplate, ReminderDefaults, SignOffRule
from bot.domain.text import excerpt

MAX_ITEMS = 200
MAX_TITLE = 150
MAX_SECTION = 50
MAX_DESCRIPTION = 2000
MAX_NAME = 64  # template names, item keys and roles
MAX_OFFSET = timedelta(days=365)
MAX_FILE_BYTES = 1_000_000  # a template is a few kB; anything this big is a mistake
TEMPLATE_SUFFIXES = (".yml", ".yaml")

_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")
# Units must come in this order and each at most once; [0-9] rather than \d so no other scripts' digits.
_OFFSET = re.compile(
    r"(?P<sign>[+-]?)(?:(?P<w>[0-9]{1,6})w)?(?:(?P<d>[0-9]{1,6})d)?(?:(?P<h>[0-9]{1,6})h)?(?:(?P<m>[0-9]{1,6})m)?"
)
_UNITS = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}

_TOP_FIELDS = ("name", "title", "version", "reminders", "announcements", "items")
_ANNOUNCEMENT_FIELDS = ("kind", "at")
_REMINDER_FIELDS = ("heads_up", "overdue", "escalate_after", "final_call", "summary")
_ITEM_FIELDS = ("key", "title", "section", "due", "description", "evidence", "role", "sign_off")
_REQUIRED_ITEM_FIELDS = ("key", "title", "section", "due")


class TemplateError(InvalidInput):
    """A checklist template file that cannot be used; the message lists every problem found in it."""

    def __init__(self, source: str, problems: Sequence[str], *, path: Path | None = None) -> None:
        self.source = source
        self.problems = tuple(problems)
        self.path = path  # full path when loaded from disk, for `release-captain check`
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            message = f"{source} has {len(self.problems)} problems:\n" + "\n".join(
                f"  - {p}" for p in self.problems
            )
        super().__init__(message)


class _Problem(Exception):
    """One validation failure, phrased to follow the name of the field it concerns."""

    def __init__(self, phrase: str, standalone: str | None = None) -> None:
        super().__init__(phrase)
        self.phrase = phrase
        self.standalone = standalone or phrase


# --- offsets -----------------------------------------------------------------------------------


def parse_offset(text: str) -> timedelta:
    """Parse a due offset such as -5d, -4h, -90m, -1w, -1d12h, 0h or +1h into a timedelta."""
    try:
        return _offset(text)
    except _Problem as problem:
        raise InvalidInput(
            problem.standalone, hint="Offsets look like -4h, -3d, -1w, -1d12h or +1h."
        ) from None


def _offset(value: object) -> timedelta:
    """Read an offset or raise _Problem saying what is wrong with it."""
    text = value.strip() if isinstance(value, str) else None
    match = _OFFSET.fullmatch(text) if text else None
    if match is None or not any(match.group(unit) for unit in _UNITS):
        raise _Problem(
            f"must be an offset like -4h or -3d, not {_describe(value)}",
            f"{_describe(value)} is not an offset; write one like -4h, -3d, -1d12h or +1h.",
        )
    magnitude = sum((int(match.group(u) or 0) * step for u, step in _UNITS.items()), timedelta())
    if magnitude and not match.group("sign"):
        # An unsigned "5d" could mean either side of launch; make the author say which.
        raise _Problem(
            f'needs a sign: "-{text}" is before launch, "+{text}" after',
            f'The offset "{text}" needs a sign: "-{text}" is before launch, "+{text}" after.',
        )
    if magnitude > MAX_OFFSET:
        raise _Problem(
            f"must be within 365 days of launch, not {_describe(value)}",
            f"The offset {_describe(value)} is more than 365 days from launch.",
        )
    return -magnitude if match.group("sign") == "-" else magnitude


# --- field checks: each returns the clean value or raises _Problem ---------------------------------


def _describe(value: object) -> str:
    """Show a bad value in a message: strings quoted and shortened, other things by kind."""
    if isinstance(value, str):
        return f'"{value[:40]}…"' if len(value) > 40 else f'"{value}"'
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def _slug(value: object) -> str:
    """A lowercase identifier such as database_backup or go-live."""
    if not isinstance(value, str) or not _SLUG.fullmatch(value) or len(value) > MAX_NAME:
        raise _Problem(
            f"must be a lowercase name of letters, digits, - and _ (like database_backup), "
            f"at most {MAX_NAME} characters, not {_describe(value)}"
        )
    return value


def _text(limit: int, *, required: bool = True) -> Callable[[object], str]:
    """A check for a string of at most `limit` characters, optionally allowed to be empty."""

    def check(value: object) -> str:
        if not isinstance(value, str):
            raise _Problem(f"must be text, not {_describe(value)}")
        text = value.strip()
        if required and not text:
            raise _Problem("must not be empty")
        if len(text) > limit:
            raise _Problem(f"must be at most {limit} characters, not {len(text)}")
        return text

    return check


def _bool(value: object) -> bool:
    """A YAML boolean; strings like "yes" are refused so the intent is unambiguous."""
    if not isinstance(value, bool):
        raise _Problem(f"must be true or false, not {_describe(value)}")
    return value


def _sign_off(value: object) -> SignOffRule:
    """Either "any" (one owner closes it) or "all" (every owner signs)."""
    try:
        return SignOffRule(value)
    except ValueError:
        raise _Problem(f'must be "any" or "all", not {_describe(value)}') from None


def _version(value: object) -> int:
    """A positive integer template version."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _Problem(f"must be a whole number from 1 up, not {_describe(value)}")
    return value


_ITEM_CHECKS: dict[str, Callable[[object], Any]] = {
    "key": _slug,
    "title": _text(MAX_TITLE),
    "section": _text(MAX_SECTION),
    "due": _offset,
    "description": _text(MAX_DESCRIPTION, required=False),
    "evidence": _bool,
    "role": _slug,
    "sign_off": _sign_off,
}


# --- loading -------------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader that refuses duplicate keys, which plain YAML would silently collapse to the last."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """Build a mapping after checking that no key appears twice."""
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # "<<: *anchor" merges are allowed to be overridden by explicit keys
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:
                continue  # unhashable; the base class reports it
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f'key "{key}" appears twice in this mapping',
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_template(path: Path) -> ChecklistTemplate:
    """Read and validate one template file; errors name the file by its base name."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise TemplateError(path.name, [f"{path.name}: is larger than {MAX_FILE_BYTES} bytes"], path=path)
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise TemplateError(path.name, [f"{path.name}: is not UTF-8 text"], path=path) from None
    except OSError as exc:
        raise TemplateError(path.name, [f"{path.name}: cannot be read ({exc.strerror})"], path=path) from None
    return _load(text, label=path.name, source=str(path), path=path)


def load_template_text(text: str, *, source: str) -> ChecklistTemplate:
    """Validate template YAML given as text; `source` names it in error messages."""
    return _load(text, label=source, source=source, path=None)


def _load(text: str, *, label: str, source: str, path: Path | None) -> ChecklistTemplate:
    """Parse YAML, validate it and build the template, raising one TemplateError listing every problem."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # _StrictLoader is a SafeLoader: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise TemplateError(
            label, [f"{label}: {where}YAML syntax error: {exc.problem or exc.context}"], path=path
        ) from None
    except yaml.YAMLError as exc:
        raise TemplateError(label, [f"{label}: not valid YAML: {exc}"], path=path) from None
    problems: list[str] = []
    template = _build(data, label, source, problems)
    if problems or template is None:
        raise TemplateError(label, problems, path=path)
    return template


def _build(data: object, label: str, source: str, problems: list[str]) -> ChecklistTemplate | None:
    """Validate the top level and every item, appending problems; None when anything is wrong."""
    if not isinstance(data, dict):
        problems.append(f"{label}: must be a mapping with name, title and items, not {_describe(data)}")
        return None
    fields = _fields(data, _TOP_FIELDS, ("name", "title", "items"), label, problems.append)
    name = _check(data, "name", _slug, fields, label, problems.append)
    title = _check(data, "title", _text(MAX_TITLE), fields, label, problems.append)
    _check(data, "version", _version, fields, label, problems.append)
    reminders = (
        _reminders(data.get("reminders"), label, problems) if "reminders" in data else ReminderDefaults()
    )
    announcements = (
        _announcements(data.get("announcements"), label, problems) if "announcements" in data else None
    )
    items = _items(data.get("items"), label, problems) if "items" in data else ()
    if problems:
        return None
    return ChecklistTemplate(
        name=name, title=title, items=items, source=source, reminders=reminders, announcements=announcements
    )


def _announcements(raw: object, label: str, problems: list[str]) -> tuple[PlanEntry, ...]:
    """The optional `announcements:` list: which announcements a release plans, and when."""
    where = f"{label}: announcements"
    if not isinstance(raw, list):
        problems.append(f"{where}: must be a list of {{kind, at}} entries, not {_describe(raw)}")
        return ()
    entries: list[PlanEntry] = []
    for index, entry in enumerate(raw, 1):
        here = f"{where} #{index}"
        if not isinstance(entry, dict):
            problems.append(f"{here}: must be a mapping with kind and at, not {_describe(entry)}")
            continue
        fields = _fields(entry, _ANNOUNCEMENT_FIELDS, _ANNOUNCEMENT_FIELDS, here, problems.append)
        kind = _check(entry, "kind", _planned_kind, fields, here, problems.append)
        offset = _check(entry, "at", _announce_at, fields, here, problems.append)
        if kind is not None and offset is not None:
            if any(e.kind is kind for e in entries):
                problems.append(f"{here}: {kind.value} is planned twice")
            entries.append(PlanEntry(kind, offset))
    return tuple(entries)


def _planned_kind(value: object) -> AnnouncementKind:
    planned = [k.value for k in AnnouncementKind if not k.on_event]
    if not isinstance(value, str) or value not in planned:
        raise _Problem(f"must be one of {', '.join(planned)}, not {_describe(value)}")
    return AnnouncementKind(value)


def _announce_at(value: object) -> timedelta:
    if not isinstance(value, str):
        raise _Problem(
            f'must be a time relative to launch such as "48h before" or "launch", not {_describe(value)}'
        )
    try:
        return parse_announce_at(value)
    except UserError as error:
        raise _Problem(f"{error.message}") from None


def _reminders(raw: object, label: str, problems: list[str]) -> ReminderDefaults:
    """The optional `reminders:` block: the template's own reminder timing."""
    where = f"{label}: reminders"
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping of {', '.join(_REMINDER_FIELDS)}, not {_describe(raw)}")
        return ReminderDefaults()
    fields = _fields(raw, _REMINDER_FIELDS, (), where, problems.append)
    return ReminderDefaults(
        heads_up_days=_check(raw, "heads_up", _working_days, fields, where, problems.append),
        overdue_daily=_check(raw, "overdue", _overdue, fields, where, problems.append),
        escalate_after_hours=_check(raw, "escalate_after", _hours_before, fields, where, problems.append),
        final_call=_check(raw, "final_call", _final_call, fields, where, problems.append),
        summary=_check(raw, "summary", _summary, fields, where, problems.append),
    )


def _working_days(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10:
        raise _Problem(f"must be a number of working days from 0 to 10, not {_describe(value)}")
    return value


def _overdue(value: object) -> bool:
    if value not in ("daily", "once"):
        raise _Problem(f'must be "daily" or "once", not {_describe(value)}')
    return value == "daily"


def _before(value: object) -> timedelta:
    """A time before launch written without a sign (24h, 3d); a minus is accepted too."""
    text = value.strip().lstrip("-") if isinstance(value, str) else value
    offset = -_offset(f"-{text}") if isinstance(text, str) and text else _offset(value)
    if offset <= timedelta(0):
        raise _Problem(f"must be a time like 24h or 3d, not {_describe(value)}")
    return offset


def _hours_before(value: object) -> float:
    return _before(value).total_seconds() / 3600


def _final_call(value: object) -> timedelta:
    return timedelta(seconds=-1) if value == "off" else _before(value)


def _summary(value: object) -> tuple[timedelta, ...]:
    if not isinstance(value, list) or not value or len(value) > 6:
        raise _Problem(
            f"must be a list of one to six times before launch, like [72h, 24h], not {_describe(value)}"
        )
    return tuple(sorted({_before(v) for v in value}, reverse=True))


def _items(raw: object, label: str, problems: list[str]) -> tuple[ItemTemplate, ...]:
    """Validate the item list, including uniqueness of keys and titles across items."""
    if not isinstance(raw, list) or not raw:
        problems.append(f'{label}: "items" must be a non-empty list of items, not {_describe(raw)}')
        return ()
    if len(raw) > MAX_ITEMS:
        problems.append(f'{label}: "items" has {len(raw)} items; the limit is {MAX_ITEMS}')
        return ()
    items: list[ItemTemplate] = []
    first_seen: dict[tuple[str, str], int] = {}  # (field, value) -> item index, for uniqueness
    for index, entry in enumerate(raw, start=1):
        where = f"{label}: {_item_label(index, entry)}"
        item = _item(entry, where, problems)
        for field, value in _unique_values(entry):
            earlier = first_seen.setdefault((field, value.casefold()), index)
            if earlier != index:
                problems.append(f'{where}: "{field}" "{value}" is already used by item {earlier}')
        if item is not None:
            items.append(item)
    return tuple(items)


def _unique_values(entry: object) -> list[tuple[str, str]]:
    """The key and title of a raw item, when they are strings, so duplicates are found even in bad items."""
    if not isinstance(entry, dict):
        return []
    return [
        (f, entry[f].strip()) for f in ("key", "title") if isinstance(entry.get(f), str) and entry[f].strip()
    ]


def _item_label(index: int, entry: object) -> str:
    """'item 5 (database_backup)', falling back to the title, or just 'item 5'."""
    if isinstance(entry, dict):
        for field in ("key", "title"):
            value = entry.get(field)
            if isinstance(value, str) and value.strip():
                shown = value.strip()
                return f"item {index} ({shown[:40]}…)" if len(shown) > 40 else f"item {index} ({shown})"
    return f"item {index}"


def _item(entry: object, where: str, problems: list[str]) -> ItemTemplate | None:
    """Validate one item mapping; None (with problems appended) when any field is wrong."""
    if not isinstance(entry, dict):
        problems.append(
            f"{where}: must be a mapping with key, title, section and due, not {_describe(entry)}"
        )
        return None
    before = len(problems)
    fields = _fields(entry, _ITEM_FIELDS, _REQUIRED_ITEM_FIELDS, where, problems.append)
    values = {
        name: _check(entry, name, check, fields, where, problems.append)
        for name, check in _ITEM_CHECKS.items()
    }
    if len(problems) > before:
        return None
    return ItemTemplate(
        key=values["key"],
        section=values["section"],
        title=values["title"],
        description=values["description"] or "",
        offset=values["due"],
        evidence_required=bool(values["evidence"]),
        role=values["role"],
        sign_off=values["sign_off"] or SignOffRule.ANY,
    )


def _fields(
    data: dict[Any, Any],
    allowed: Sequence[str],
    required: Sequence[str],
    where: str,
    report: Callable[[str], None],
) -> set[str]:
    """Report missing and unknown fields; return the allowed fields that are present."""
    for name in required:
        if name not in data:
            report(f'{where}: "{name}" is missing')
    for name in data:
        if name not in allowed:
            report(f"{where}: {_unknown_field(name, allowed)}")
    return {name for name in allowed if name in data}


def _unknown_field(name: object, allowed: Sequence[str]) -> str:
    """'unknown field "dua" (did you mean "due"?)' — a typo must not be silently ignored."""
    shown = _describe(name) if isinstance(name, str) else _describe(str(name))
    close = difflib.get_close_matches(str(name), allowed, n=1)
    suggestion = f' (did you mean "{close[0]}"?)' if close else f"; allowed fields are {', '.join(allowed)}"
    return f"unknown field {shown}{suggestion}"


def _check(
    data: dict[Any, Any],
    name: str,
    check: Callable[[object], Any],
    present: set[str],
    where: str,
    report: Callable[[str], None],
) -> Any:
    """Run `check` on a present field, reporting a failure against the field; None when absent or bad."""
    if name not in present:
        return None
    try:
        return check(data[name])
    except _Problem as problem:
        report(f'{where}: "{name}" {problem.phrase}')
        return None


# --- the library ---------------------------------------------------------------------------------


def builtin_templates_dir() -> Path:
    """The templates shipped in the repository: <repo>/templates/checklists."""
    return Path(__file__).resolve().parents[2] / "templates" / "checklists"


class TemplateLibrary:
    """The checklist templates available by name, plus the files that failed to load and why."""

    def __init__(
        self, templates: Iterable[ChecklistTemplate] = (), errors: Iterable[TemplateError] = ()
    ) -> None:
        self._templates: dict[str, ChecklistTemplate] = {}
        self._overridden: list[str] = []
        for template in templates:  # later templates replace earlier ones of the same name
            if template.name in self._templates:
                self._overridden.append(template.name)
            self._templates[template.name] = template
        self._errors = list(errors)

    @classmethod
    def from_dirs(cls, builtin_dir: Path, extra_dir: Path | None = None) -> TemplateLibrary:
        """Load built-in templates, then extra ones that override by name; bad files are kept as errors."""
        templates: list[ChecklistTemplate] = []
        errors: list[TemplateError] = []
        for directory in (builtin_dir, extra_dir):
            if directory is not None:
                templates.extend(_load_dir(directory, errors))
        return cls(templates, errors)

    def get(self, name: str) -> ChecklistTemplate:
        """The template called `name` (case-insensitive), or NotFound suggesting the closest name."""
        wanted = name.strip().lower()
        if wanted in self._templates:
            return self._templates[wanted]
        # The name is echoed to the person: escaped, one line, short (it once came back as live markup).
        shown = excerpt(wanted, 61)
        close = difflib.get_close_matches(wanted, self.names(), n=1)
        guess = f' Did you mean "{close[0]}"?' if close else ""
        available = ", ".join(self.names()) or "none"
        raise NotFound(
            f'There is no checklist template called "{shown}".{guess}',
            hint=f"Available templates: {available}",
        )

    def names(self) -> list[str]:
        """Names of the loaded templates, sorted."""
        return sorted(self._templates)

    def errors(self) -> list[TemplateError]:
        """Problems with template files that were therefore not loaded, in load order."""
        return list(self._errors)

    def overridden(self) -> list[str]:
        """Names whose built-in template was replaced by one from the extra folder."""
        return sorted(set(self._overridden))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.strip().lower() in self._templates

    def __len__(self) -> int:
        return len(self._templates)


def _load_dir(directory: Path, errors: list[TemplateError]) -> Iterator[ChecklistTemplate]:
    """Templates from one folder in file-name order; failures go to `errors`, duplicate names included."""
    if not directory.is_dir():
        errors.append(
            TemplateError(str(directory), [f"{directory}: template folder does not exist"], path=directory)
        )
        return
    seen: dict[str, str] = {}
    for path in _template_files(directory):
        try:
            template = load_template(path)
        except TemplateError as exc:
            errors.append(exc)
            continue
        if template.name in seen:
            # Two files in one folder claiming a name is ambiguous; keep the first, flag the second.
            problem = f'{path.name}: template name "{template.name}" is already used by {seen[template.name]}'
            errors.append(TemplateError(path.name, [problem], path=path))
            continue
        seen[template.name] = path.name
        yield template


def _template_files(directory: Path) -> list[Path]:
    """The *.yml and *.yaml files in a folder, skipping hidden and editor files, sorted by name."""
    return sorted(
        p
        for p in directory.iterdir()
        if p.suffix in TEMPLATE_SUFFIXES and not p.name.startswith(".") and p.is_file()
    )
