"""Render Slack text from untrusted Jinja2 templates: sandboxed, escaped, and bounded in size and time."""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.environment import Template
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment, safe_range
from jinja2.utils import Namespace

from bot.templating.filters import check_printf, template_filters
from bot.templating.limits import (
    MAX_OUTPUT_CHARS,
    MAX_TEMPLATE_CHARS,
    MAX_VALUE_CHARS,
    RENDER_SECONDS,
    LimitExceeded,
    check_int_bits,
    check_length,
    check_sized,
    deadline,
)
from bot.templating.markup import MENTIONS, SlackMarkup, finalize, find_mentions, mentions_in

__all__ = [
    "MAX_OUTPUT_CHARS",
    "MAX_TEMPLATE_CHARS",
    "RENDER_SECONDS",
    "CompiledTemplate",
    "SlackMarkup",
    "TemplateError",
    "compile_template",
    "render_text",
]

_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")

# Methods a template may call on values, by type: none of them can build a result much larger than the
# value itself. Everything else (str.format, ljust, zfill, int.to_bytes, …) is refused as unsafe.
_STR_METHODS = frozenset(
    {
        *("capitalize", "casefold", "lower", "swapcase", "title", "upper"),
        *("lstrip", "rstrip", "strip", "removeprefix", "removesuffix"),
        *("partition", "rpartition", "split", "rsplit", "splitlines"),
        *("count", "find", "rfind", "startswith", "endswith"),
        *("isalnum", "isalpha", "isdigit", "islower", "isspace", "istitle", "isupper"),
    }
)
_SEQUENCE_METHODS = frozenset({"count", "index"})
_MAPPING_METHODS = frozenset({"get", "items", "keys", "values"})
_REFUSED_TAGS = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)


class TemplateError(Exception):
    """A template that cannot be used: names the file and line when known."""

    def __init__(self, source: str, line: int | None, message: str) -> None:
        super().__init__(source, line, message)
        self.source = source  # file path or template name
        self.line = line
        self.message = message  # friendly, plain text; escape it before showing it in Slack

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.message}"


class _GuardedCodeGenerator(CodeGenerator):
    """Jinja's code generator, with `~` routed through the environment so its result size is checked."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.concat_values((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _SlackTextEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox: no loader, no HTML escaping, every printed value finalized, every growth checked."""

    code_generator_class = _GuardedCodeGenerator
    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def __init__(self) -> None:
        super().__init__(
            undefined=StrictUndefined,
            autoescape=False,  # Slack text, not HTML: finalize escapes &, < and > instead
            finalize=finalize,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.filters = template_filters()
        # No lipsum, cycler or joiner: nothing an announcement needs, and each is one more object to reach
        # through. range is the sandbox's bounded one.
        self.globals = {"range": safe_range, "dict": dict, "namespace": Namespace}

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """Jinja's rules, plus a short list of methods per built-in type that cannot blow up in size."""
        if not super().is_safe_attribute(obj, attr, value):
            return False
        if isinstance(obj, str):
            return attr in _STR_METHODS
        if isinstance(obj, int | float | complex | bytes):
            return False
        if type(obj) in (list, tuple):  # exact types: groupby's named tuples keep their fields
            return attr in _SEQUENCE_METHODS
        if isinstance(obj, dict):
            return attr in _MAPPING_METHODS
        return True

    def wrap_str_format(self, value: Any) -> None:
        """No str.format or format_map: their padding could build huge strings (use the format filter)."""
        return None

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        """+, *, ** and %: refuse results past the limits before Python builds them."""
        if operator_ == "+":
            if _is_sized(left) and _is_sized(right):
                check_length(len(left) + len(right))
            return left + right
        if operator_ == "*":
            _check_product(left, right)
            return left * right
        if operator_ == "**":
            _check_power(left, right)
            return operator.pow(left, right)
        if isinstance(left, str):
            check_printf(left)
        return check_sized(left % right)

    def concat(self, parts: Iterable[str]) -> str:  # type: ignore[override]
        """Join a block's output (a macro, a {% set %} block), refusing it past the value limit."""
        pieces = list(parts)
        check_length(sum(map(len, pieces)), "a block's output")
        return "".join(pieces)

    def concat_values(self, values: tuple[Any, ...]) -> str:
        """The `~` operator: values joined as text, refusing a result past the value limit."""
        return self.concat([str(value) for value in values])


def _is_sized(value: Any) -> bool:
    """True for the values whose length + and * multiply: str, list and tuple."""
    return isinstance(value, str | list | tuple)


def _check_product(left: Any, right: Any) -> None:
    """Refuse a repetition longer than a message could show, or a product with too many digits."""
    for sequence, times in ((left, right), (right, left)):
        if _is_sized(sequence) and isinstance(times, int):
            check_length(len(sequence) * times, "a repeated value", MAX_OUTPUT_CHARS)
            return
    if isinstance(left, int) and isinstance(right, int):
        check_int_bits(left.bit_length() + right.bit_length())


def _check_power(base: Any, exponent: Any) -> None:
    """Refuse an integer power with too many digits (10**10**10) before computing it."""
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        check_int_bits((base.bit_length() - 1) * exponent)


@functools.cache
def _environment() -> _SlackTextEnvironment:
    """The one sandbox environment; it holds no state between renders, so threads can share it."""
    return _SlackTextEnvironment()


@dataclass(frozen=True)
class CompiledTemplate:
    """A template that parsed, passed the static checks and compiled; render it with `render`."""

    source: str
    template: Template
    allowed_mentions: frozenset[str]
    names: Mapping[str, int]  # every context variable the template reads -> the line it first does so

    def render(self, context: Mapping[str, Any]) -> str:
        """Render with `context`; raises TemplateError for anything wrong, including its own limits."""
        try:
            with deadline(RENDER_SECONDS, self.source):
                output = self._generate(context)
        except TemplateError:
            raise
        except Exception as exc:
            line = _template_line(exc.__traceback__, self.source)
            raise TemplateError(self.source, line, _explain(exc)) from exc
        text = _tidy(output)
        _check_output(self.source, text, self.allowed_mentions)
        return text

    def _generate(self, context: Mapping[str, Any]) -> str:
        """The raw output, stopped as soon as it is far past anything usable."""
        pieces: list[str] = []
        size = 0
        stream = self.template.generate(dict(context))
        try:
            for piece in stream:
                size += len(piece)
                if size > MAX_VALUE_CHARS:
                    raise TemplateError(
                        self.source,
                        None,
                        f"renders to more than {MAX_VALUE_CHARS:,} characters; "
                        f"Slack shows at most {MAX_OUTPUT_CHARS} in one block",
                    )
                pieces.append(piece)
        finally:
            stream.close()
        return "".join(pieces)


def compile_template(
    source: str, text: str, *, allowed_mentions: frozenset[str] = frozenset()
) -> CompiledTemplate:
    """Parse, check and compile one template; raises TemplateError naming the line of the first problem."""
    _check_mention_names(source, allowed_mentions)
    if len(text) > MAX_TEMPLATE_CHARS:
        raise TemplateError(
            source,
            None,
            f"the template is {len(text):,} characters long; the limit is {MAX_TEMPLATE_CHARS:,}",
        )
    env = _environment()
    try:
        tree = env.parse(text, name=source, filename=source)
        _check_tree(source, tree, allowed_mentions)
        code = env.compile(tree, name=source, filename=source)
        template = env.template_class.from_code(env, code, env.make_globals(None))
    except TemplateSyntaxError as exc:
        raise TemplateError(source, exc.lineno, exc.message or "syntax error") from None
    except (RecursionError, MemoryError, SyntaxError):
        # Jinja's parser and Python's compiler both recurse per nesting level: (((…))) 5,000 deep.
        raise TemplateError(source, None, "the template nests brackets or tags too deeply") from None
    return CompiledTemplate(source, template, allowed_mentions, _names_read(tree))


def render_text(
    source: str, text: str, context: Mapping[str, Any], *, allowed_mentions: frozenset[str]
) -> str:
    """Render one template string safely; raises TemplateError."""
    return compile_template(source, text, allowed_mentions=allowed_mentions).render(context)


def _check_mention_names(source: str, allowed: frozenset[str]) -> None:
    """Refuse mention names other than here, channel, everyone and subteam."""
    unknown = sorted(set(allowed) - set(MENTIONS))
    if unknown:
        raise TemplateError(
            source, None, f"unknown mention {unknown[0]!r}; mentions may be {', '.join(MENTIONS)}"
        )


def _check_tree(source: str, tree: nodes.Template, allowed_mentions: frozenset[str]) -> None:
    """Refuse what a template may not do whatever its values: other templates, `self`, undeclared mentions."""
    for node in tree.find_all(_REFUSED_TAGS):
        tag = type(node).__name__.lower().replace("fromimport", "from … import")
        raise TemplateError(
            source,
            node.lineno,
            f"{{% {tag} %}} is not available: an announcement template is one self-contained file",
        )
    for name in tree.find_all(nodes.Name):
        if name.name == "self" and name.ctx == "load":
            raise TemplateError(source, name.lineno, "'self' is not available in announcement templates")
    for data in tree.find_all(nodes.TemplateData):
        for mention, offset in find_mentions(data.data):
            if mention not in allowed_mentions:
                raise TemplateError(
                    source,
                    data.lineno + data.data.count("\n", 0, offset),
                    f"the text makes a <!{mention}> mention that the header does not allow; "
                    f"add {mention} to its mentions or remove it",
                )


def _names_read(tree: nodes.Template) -> dict[str, int]:
    """Every name the template reads from its context, with the first line that reads it."""
    from jinja2 import meta  # imported here: only compiling needs it

    undeclared = meta.find_undeclared_variables(tree)
    lines: dict[str, int] = {}
    for name in tree.find_all(nodes.Name):
        if name.name in undeclared and name.ctx == "load":
            lines[name.name] = min(lines.get(name.name, name.lineno), name.lineno)
    return dict(sorted(lines.items()))


def _check_output(source: str, text: str, allowed_mentions: frozenset[str]) -> None:
    """Refuse output Slack would not show in one block, an empty message, or a mention not allowed."""
    if not text:
        raise TemplateError(source, None, "renders to an empty message")
    if len(text) > MAX_OUTPUT_CHARS:
        raise TemplateError(
            source,
            None,
            f"renders to {len(text)} characters; Slack shows at most {MAX_OUTPUT_CHARS} in one block",
        )
    made = sorted(mentions_in(text) - allowed_mentions)
    if made:
        raise TemplateError(source, None, f"renders a <!{made[0]}> mention that the header does not allow")


def _tidy(output: str) -> str:
    """Drop trailing spaces and the runs of blank lines that optional sections leave behind."""
    text = _TRAILING_SPACE.sub("\n", output)
    return _BLANK_LINES.sub("\n\n", text).strip()


def _template_line(tb: TracebackType | None, source: str) -> int | None:
    """The template line of the innermost traceback frame that belongs to the template."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == source:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _explain(exc: Exception) -> str:
    """A plain-language reason for a failed render."""
    if isinstance(exc, LimitExceeded | UndefinedError):
        return str(exc)
    if isinstance(exc, SecurityError):
        return f"{str(exc).rstrip('.')}; templates may use their variables and the documented filters only"
    if isinstance(exc, OverflowError):
        if "Range too big" in str(exc):
            return "range() is limited to 100,000 items in templates"
        return "a number is too large"
    if isinstance(exc, RecursionError):
        return "a macro calls itself too deeply"
    if isinstance(exc, MemoryError):
        return "the template ran out of memory"
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    return f"{type(exc).__name__}: {exc}"
