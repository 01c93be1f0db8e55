"""What a template may cost: its size, its output, its running time, and the values it may build."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

MAX_TEMPLATE_CHARS = 20_000
MAX_OUTPUT_CHARS = 3_000  # one Slack section block's text limit; drafts edited by people obey it too
RENDER_SECONDS = 1.0

# Values a template builds on the way to its output (a joined list, a padded string) may be longer than
# the output, because a later filter may shorten them, and context values may be long too; past this
# size nothing useful is being built.
MAX_VALUE_CHARS = 100_000
# About 38 digits: more than any count or percentage in an announcement needs, and far below the sizes
# that cost time to compute or print.
MAX_INT_BITS = 128


class LimitExceeded(Exception):
    """A template tried to build something too big or ran too long; the message says what."""


def check_length(size: int, what: str = "a value", limit: int = MAX_VALUE_CHARS) -> None:
    """Refuse a value of `size` items before it is built."""
    if size > limit:
        raise LimitExceeded(f"{what} would be {size:,} characters or items long; the limit is {limit:,}")


def check_sized(value: Any) -> Any:
    """Return value, refusing a str, list or tuple already longer than MAX_VALUE_CHARS."""
    if isinstance(value, str | list | tuple):
        check_length(len(value))
    return value


def check_int_bits(bits: int) -> None:
    """Refuse an integer result of about `bits` bits before it is computed."""
    if bits > MAX_INT_BITS:
        raise LimitExceeded(f"a number of about {bits * 3 // 10:,} digits is too large for a template")


@contextmanager
def deadline(seconds: float, filename: str) -> Iterator[None]:
    """Stop the template code compiled as `filename` with LimitExceeded once `seconds` have passed.

    A trace function on this thread checks the clock on every Python call, and on every line of the
    template's own code, so even an empty `{% for %}` over a range is interrupted. Built-in operations that
    could run long in one step are refused before they start by the size checks instead. Any tracer set
    before (a debugger, coverage) is put back afterwards.
    """
    stop_at = time.monotonic() + seconds

    def on_line(frame: FrameType, event: str, arg: Any) -> Any:
        if time.monotonic() > stop_at:
            raise LimitExceeded(
                f"rendering took longer than {seconds:g} s; look for a loop that runs too long"
            )
        return on_line

    def on_call(frame: FrameType, event: str, arg: Any) -> Any:
        if time.monotonic() > stop_at:
            raise LimitExceeded(
                f"rendering took longer than {seconds:g} s; look for a loop that runs too long"
            )
        # Only the template's frames need line events; everything else is checked at each call.
        return on_line if frame.f_code.co_filename == filename else None

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        yield
    finally:
        sys.settrace(previous)
