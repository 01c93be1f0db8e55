"""Announcement templates: load `<kind>.j2` files with their headers, check them, and render drafts."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from bot.domain.notes import date_token
from bot.templating.markup import MENTIONS, SlackMarkup
from bot.templating.sandbox import MAX_TEMPLATE_CHARS, CompiledTemplate, TemplateError, compile_template

KINDS: tuple[str, ...] = ("upcoming", "go_live", "delayed", "rolled_back", "completed")
SUFFIX = ".j2"

VARIABLES: Mapping[str, str] = {
    "release": "the release name, as people typed it",
    "launch": "the launch time as a Slack date token: each reader sees it in their own time zone",
    "old_launch": "the launch time before the delay, as a date token (delayed only; empty elsewhere)",
    "channel": "the release channel, as a channel link",
    "managers": "the release managers, as a list of mentions (join them with join or and_join)",
    "changes": "what ships, in a sentence or two (may be empty)",
    "downtime": "the expected downtime window, as free text (may be empty)",
    "impact": "what users may notice (may be empty)",
    "support": "where to ask questions, as free text (may be empty)",
    "notes": "a link to the release notes (may be empty)",
    "reason": "why the release was rolled back or delayed (may be empty)",
    "items_done": "the number of checklist items closed",
    "items_total": "the number of checklist items in all",
}
# The variables the lead may leave as None; templates must read well without them.
OPTIONAL: frozenset[str] = frozenset(
    {"old_launch", "changes", "downtime", "impact", "support", "notes", "reason"}
)

_HEADER_FIELDS = ("title", "variables", "mentions")
_MAX_TITLE = 100
# The header is a Jinja comment, so the template renders it as nothing and its lines keep their numbers.
_HEADER = re.compile(r"\A\{#---[ \t]*\n(?P<yaml>.*?)^---#\}", re.DOTALL | re.MULTILINE)
_HEADER_EXAMPLE = "{#---\ntitle: Upcoming release\nvariables: [release, launch]\nmentions: []\n---#}"


@dataclass(frozen=True)
class AnnouncementTemplate:
    """One announcement template: its kind, its header, where it came from and its text."""

    kind: str
    title: str
    source: str
    variables: tuple[str, ...]
    mentions: frozenset[str]
    text: str


@dataclass(frozen=True)
class _Loaded:
    """A template and its compiled form, kept together so rendering does not parse it again."""

    template: AnnouncementTemplate
    compiled: CompiledTemplate


class AnnouncementTemplates:
    """The announcement template for each kind: the built-in ones, overridden file by file."""

    def __init__(self, loaded: Mapping[str, _Loaded]) -> None:
        self._loaded = dict(loaded)

    @classmethod
    def from_dirs(cls, *dirs: Path | None) -> AnnouncementTemplates:
        """The built-in templates, then each folder's `<kind>.j2` files over them; raises the first problem.

        The built-in folder is always the base, so `from_dirs(override)` and `from_dirs(builtin_dir(),
        override)` mean the same; a kind an override folder lacks keeps the built-in template.
        """
        loaded: dict[str, _Loaded] = {}
        for directory in _with_builtin(dirs):
            for path in _template_files(directory):
                item = _load_file(path)
                loaded[item.template.kind] = item
        missing = [kind for kind in KINDS if kind not in loaded]
        if missing:
            raise TemplateError(str(builtin_dir()), None, f"no template for {', '.join(missing)}")
        return cls(loaded)

    def get(self, kind: str) -> AnnouncementTemplate:
        """The template for `kind`; TemplateError naming the kinds there are when it is unknown."""
        return self._get(kind).template

    def kinds(self) -> list[str]:
        """The announcement kinds, in the order a release goes through them."""
        return [kind for kind in KINDS if kind in self._loaded]

    def render(self, kind: str, context: Mapping[str, Any]) -> str:
        """The announcement text for `kind` with `context`; raises TemplateError."""
        return self._get(kind).compiled.render(context)

    def check(self) -> list[TemplateError]:
        """Render each template with sample values, and with every optional value empty; the problems."""
        problems = []
        for kind in self.kinds():
            problems.extend(_render_problems(self._get(kind).compiled, kind))
        return problems

    def _get(self, kind: str) -> _Loaded:
        """The loaded template for `kind`, or TemplateError."""
        if kind not in self._loaded:
            raise TemplateError(kind, None, _unknown_kind(kind))
        return self._loaded[kind]


def builtin_dir() -> Path:
    """The templates shipped in the repository: <repo>/templates/announcements."""
    return Path(__file__).resolve().parents[2] / "templates" / "announcements"


def override_dir(templates_dir: Path | None) -> Path | None:
    """The `announcements/` folder inside TEMPLATES_DIR, when there is one: pass it to from_dirs."""
    if templates_dir is None or not (templates_dir / "announcements").is_dir():
        return None
    return templates_dir / "announcements"


def check_dirs(*dirs: Path | None) -> list[TemplateError]:
    """Every problem in these folders' templates, loading and rendering each; for `templates check`."""
    problems: list[TemplateError] = []
    for directory in dirs:
        if directory is None:
            continue
        try:
            paths = _template_files(directory)
        except TemplateError as exc:
            problems.append(exc)
            continue
        for path in paths:
            try:
                item = _load_file(path)
            except TemplateError as exc:
                problems.append(exc)
                continue
            problems.extend(_render_problems(item.compiled, item.template.kind))
    return problems


def sample_context(kind: str) -> dict[str, Any]:
    """Realistic values for every variable, as the announcement service would pass them for `kind`."""
    launch = datetime(2026, 12, 10, 14, 0, tzinfo=UTC)
    old_launch = datetime(2026, 12, 8, 14, 0, tzinfo=UTC)
    done = {"upcoming": 14, "delayed": 12}.get(kind, 18)
    reasons = {
        "delayed": "The pen-test report is still pending from the vendor.",
        "rolled_back": "Checkout errors rose to 4% after the switch; we restored 2.3 while we investigate.",
    }
    return {
        "release": "Payments 2.4",
        "launch": SlackMarkup(date_token(launch, "{date_short_pretty} at {time}")),
        "old_launch": SlackMarkup(date_token(old_launch, "{date_short_pretty} at {time}"))
        if kind == "delayed"
        else None,
        "channel": SlackMarkup("<#C0PAYRELEASE>"),
        "managers": [SlackMarkup("<@U0MAYA>"), SlackMarkup("<@U0LEE>")],
        "changes": "Saved cards for returning customers & a faster checkout page.",
        "downtime": "Thu 10 Dec 14:00–14:15 UTC, read-only while we migrate",
        "impact": "Card payments are unaffected; refunds requested during the window complete afterwards.",
        "support": "#payments-help",
        "notes": SlackMarkup("<https://docs.example.com/releases/payments-2.4>"),
        "reason": reasons.get(kind),
        "items_done": done,
        "items_total": 18,
    }


def minimal_context(kind: str) -> dict[str, Any]:
    """sample_context(kind) with every optional value None and no managers: the sparsest real release."""
    context = sample_context(kind)
    context.update(dict.fromkeys(OPTIONAL), managers=[])
    return context


# --- loading ---------------------------------------------------------------------------------------


def _with_builtin(dirs: Iterable[Path | None]) -> list[Path]:
    """The built-in folder first, then the given ones in order, each once."""
    ordered = [builtin_dir()]
    for directory in dirs:
        if directory is not None and directory.resolve() not in (d.resolve() for d in ordered):
            ordered.append(directory)
    return ordered


def _template_files(directory: Path) -> list[Path]:
    """The `*.j2` files in a folder, hidden ones skipped, sorted; TemplateError if it is not a folder."""
    if not directory.is_dir():
        raise TemplateError(str(directory), None, "the template folder does not exist")
    return sorted(p for p in directory.glob(f"*{SUFFIX}") if p.is_file() and not p.name.startswith("."))


def _load_file(path: Path) -> _Loaded:
    """Read, parse and check one template file."""
    source = str(path)
    kind = path.name.removesuffix(SUFFIX)
    if kind not in KINDS:
        raise TemplateError(
            source, None, f"{path.name} is not an announcement template: {_unknown_kind(kind)}"
        )
    raw = path.read_bytes()
    # Checked in bytes first so a huge file is refused without decoding it; a character is at most 4 bytes.
    if len(raw) > 4 * MAX_TEMPLATE_CHARS:
        raise TemplateError(
            source,
            None,
            f"the file is {len(raw):,} bytes long; a template may have {MAX_TEMPLATE_CHARS:,} characters",
        )
    try:
        text = raw.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        raise TemplateError(source, None, f"the file is not UTF-8 text (byte {exc.start})") from None
    return _load_text(kind, source, text)


def _load_text(kind: str, source: str, text: str) -> _Loaded:
    """Parse the header, compile the body and check the one against the other."""
    header = _parse_header(source, text)
    title = _title(source, text, header)
    variables = _variables(source, text, header)
    mentions = _mentions(source, text, header)
    compiled = compile_template(source, text, allowed_mentions=mentions)
    for name, line in compiled.names.items():
        if name not in variables:
            hint = "add it to variables" if name in VARIABLES else _unknown_variable(name)
            raise TemplateError(
                source, line, f"the template uses '{name}' but its header does not declare it; {hint}"
            )
    template = AnnouncementTemplate(kind, title, source, variables, mentions, text)
    return _Loaded(template, compiled)


def _parse_header(source: str, text: str) -> dict[str, Any]:
    """The YAML mapping between `{#---` and `---#}` at the top of the file."""
    match = _HEADER.match(text)
    if match is None:
        raise TemplateError(source, 1, f"a template starts with its header, like this:\n{_HEADER_EXAMPLE}")
    try:
        header = yaml.safe_load(match.group("yaml"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = 2 + mark.line if mark is not None else 2
        problem = getattr(exc, "problem", None) or "it cannot be read"
        raise TemplateError(source, line, f"the header is not valid YAML: {problem}") from None
    if not isinstance(header, dict):
        raise TemplateError(source, 2, "the header must be YAML fields: title, variables and mentions")
    for key in header:
        if key not in _HEADER_FIELDS:
            close = difflib.get_close_matches(str(key), _HEADER_FIELDS, n=1)
            hint = f'did you mean "{close[0]}"?' if close else f"the fields are {', '.join(_HEADER_FIELDS)}"
            raise TemplateError(source, _field_line(text, str(key)), f'unknown header field "{key}"; {hint}')
    return header


def _title(source: str, text: str, header: Mapping[str, Any]) -> str:
    """The required one-line title."""
    title = header.get("title")
    if not isinstance(title, str) or not title.strip():
        line = _field_line(text, "title") if "title" in header else 2
        raise TemplateError(source, line, "the header needs a title, e.g. title: Upcoming release")
    if "\n" in title.strip() or len(title) > _MAX_TITLE:
        raise TemplateError(
            source,
            _field_line(text, "title"),
            f"the title must be one line of at most {_MAX_TITLE} characters",
        )
    return title.strip()


def _variables(source: str, text: str, header: Mapping[str, Any]) -> tuple[str, ...]:
    """The declared variables, each one known."""
    names = _string_list(source, text, header, "variables")
    for name in names:
        if name not in VARIABLES:
            raise TemplateError(source, _field_line(text, "variables"), _unknown_variable(name))
    return tuple(dict.fromkeys(names))


def _mentions(source: str, text: str, header: Mapping[str, Any]) -> frozenset[str]:
    """The broadcast mentions the template's own text may make."""
    names = _string_list(source, text, header, "mentions")
    for name in names:
        if name not in MENTIONS:
            raise TemplateError(
                source, _field_line(text, "mentions"), f"unknown mention '{name}'; use {', '.join(MENTIONS)}"
            )
    return frozenset(names)


def _string_list(source: str, text: str, header: Mapping[str, Any], field: str) -> list[str]:
    """A header field that must be a list of names (absent means empty)."""
    value = header.get(field) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TemplateError(source, _field_line(text, field), f"{field} must be a list of names, like [a, b]")
    return value


def _field_line(text: str, field: str) -> int:
    """The header line that sets `field`; 2, the header's first line, if none does."""
    for number, line in enumerate(text.split("\n"), start=1):
        if line.startswith("---#}"):
            break
        if re.match(rf"\s*{re.escape(field)}\s*:", line):
            return number
    return 2


def _render_problems(compiled: CompiledTemplate, kind: str) -> list[TemplateError]:
    """What goes wrong rendering with sample values and with the sparsest ones (at most one each)."""
    problems = []
    for context in (sample_context(kind), minimal_context(kind)):
        try:
            compiled.render(context)
        except TemplateError as exc:
            if all(str(exc) != str(p) for p in problems):
                problems.append(exc)
    return problems


def _unknown_kind(kind: str) -> str:
    """'unknown announcement kind …; the kinds are …', with a guess when one is close."""
    close = difflib.get_close_matches(kind, KINDS, n=1)
    guess = f' (did you mean "{close[0]}"?)' if close else ""
    return f'unknown announcement kind "{kind}"{guess}; the kinds are {", ".join(KINDS)}'


def _unknown_variable(name: str) -> str:
    """'… is not a template variable', with a guess when one is close."""
    close = difflib.get_close_matches(name, list(VARIABLES), n=1)
    guess = f' (did you mean "{close[0]}"?)' if close else ""
    return f"'{name}' is not a template variable{guess}; see docs/templates.md for the list"
