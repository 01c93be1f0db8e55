"""The filters announcement templates may use: Jinja's harmless ones, and guarded versions of the rest."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from typing import Any

from jinja2.filters import FILTERS as JINJA_FILTERS

from bot.templating.limits import LimitExceeded, check_length, check_sized
from bot.templating.markup import and_join, finalize, markup_join

# Filters whose result is never much bigger than their input, taken from Jinja as they are.
_PLAIN = (
    "abs",
    "attr",
    "capitalize",
    "count",
    "d",
    "default",
    "dictsort",
    "first",
    "float",
    "groupby",
    "int",
    "items",
    "last",
    "length",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "reject",
    "rejectattr",
    "reverse",
    "round",
    "select",
    "selectattr",
    "sort",
    "string",
    "title",
    "trim",
    "truncate",
    "unique",
    "upper",
    "wordcount",
)
# Left out on purpose: escape/e/forceescape/safe/tojson/urlize/xmlattr/striptags (HTML, not Slack text),
# indent/wordwrap/center padding (Slack wraps text itself), random (a draft must render the same twice),
# pprint/filesizeformat/urlencode (nothing an announcement needs).

# A printf conversion's width and precision: "%-10.3f", "%(name)5s", "%*d".
_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(\*|\d*)(?:\.(\*|\d*))?")


def check_printf(template: str) -> None:
    """Refuse a %-format whose widths or precisions would pad the result past the value limit."""
    for match in _PRINTF_SPEC.finditer(template):
        for size in match.groups():
            if size == "*":
                raise LimitExceeded("'*' widths in %-formatting are not supported; write the width out")
            if size:
                check_length(int(size), "a padded value")


def _checked_values(items: Iterable[Any], separator: str) -> list[Any]:
    """The items to join, refused as soon as the joined text would pass the value limit."""
    values = []
    size = 0
    for value in items:
        size += len(finalize(value)) + len(separator)
        check_length(size, "the joined text")
        values.append(value)
    return values


def _join(items: Iterable[Any], separator: str = "") -> str:
    """`join`, markup-aware (see markup_join); use `map(attribute=…)` first to join an attribute."""
    return markup_join(_checked_values(items, str(separator)), separator)


def _and_join(items: Iterable[Any]) -> str:
    """`a, b and c` from a list; with mentions in it, the mentions keep working."""
    return and_join(_checked_values(items, ", "))


def _replace(text: str, old: str, new: str, count: int | None = None) -> str:
    """`replace` on plain text; refused when the result would pass the value limit."""
    text, old, new = str(text), str(old), str(new)
    hits = text.count(old) if count is None or count < 0 else min(count, text.count(old))
    check_length(len(text) + hits * (len(new) - len(old)), "the replaced text")
    # SlackMarkup goes in, plain text comes out: a replacement may have been written by a person.
    return text.replace(old, new, -1 if count is None else count)


def _format(template: str, *args: Any, **kwargs: Any) -> str:
    """`"%s and %s"|format(a, b)` with the padding checked first."""
    check_printf(str(template))
    if args and kwargs:
        raise LimitExceeded("format takes either positional or keyword arguments, not both")
    return str(template) % (kwargs or args)


def _batch(value: Iterable[Any], linecount: int, fill_with: Any = None) -> Any:
    """`batch`, with the batch size checked first (fill_with would pad it out)."""
    check_length(int(linecount), "a batch")
    return JINJA_FILTERS["batch"](value, linecount, fill_with)


def _slice(value: Iterable[Any], slices: int, fill_with: Any = None) -> Any:
    """`slice`, with the number of slices checked first."""
    check_length(int(slices), "a slice count")
    return JINJA_FILTERS["slice"](value, slices, fill_with)


def _sum(iterable: Iterable[Any], start: Any = 0) -> Any:
    """`sum` that checks the size of each partial result, so adding up lists cannot run away."""
    total = start
    for value in iterable:
        if isinstance(total, str | list | tuple) and isinstance(value, str | list | tuple):
            check_length(len(total) + len(value))
        total = total + value
    return total


def _sized(function: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a filter so a result longer than the value limit is refused."""

    @functools.wraps(function)  # also copies Jinja's pass_context/pass_environment marks
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return check_sized(function(*args, **kwargs))

    return wrapper


def template_filters() -> dict[str, Callable[..., Any]]:
    """Every filter an announcement template may use, by name."""
    guarded: dict[str, Callable[..., Any]] = {
        "join": _join,
        "and_join": _and_join,
        "replace": _replace,
        "format": _format,
        "batch": _batch,
        "slice": _slice,
        "sum": _sum,
    }
    filters = {name: JINJA_FILTERS[name] for name in _PLAIN} | guarded
    return {name: _sized(function) for name, function in sorted(filters.items())}
