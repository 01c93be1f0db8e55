"""Small Block Kit builders that keep every text inside Slack's limits."""

from __future__ import annotations

from typing import Any

Block = dict[str, Any]

MAX_MESSAGE_BLOCKS = 50
SECTION_TEXT = 3000
HEADER_TEXT = 150
CONTEXT_TEXT = 2000
CONTEXT_ELEMENTS = 10


def clip(text: str, limit: int) -> str:
    """Cut text to a limit, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def header(text: str) -> Block:
    """A header block (plain text: Slack parses no markup in it)."""
    return {"type": "header", "text": {"type": "plain_text", "text": clip(text, HEADER_TEXT), "emoji": True}}


def section(mrkdwn: str) -> Block:
    """A section of mrkdwn; callers have already escaped user text."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(mrkdwn, SECTION_TEXT)}}


def context(*mrkdwn: str) -> Block:
    """A context line of up to ten mrkdwn elements."""
    elements = [{"type": "mrkdwn", "text": clip(t, CONTEXT_TEXT)} for t in mrkdwn if t][:CONTEXT_ELEMENTS]
    return {"type": "context", "elements": elements or [{"type": "mrkdwn", "text": " "}]}


def divider() -> Block:
    """A divider."""
    return {"type": "divider"}


def sections_from_lines(lines: list[str], *, budget: int) -> list[Block]:
    """Pack lines into as few sections as fit, using at most `budget` blocks; say what was left out."""
    blocks: list[Block] = []
    chunk: list[str] = []
    size = 0
    for index, line in enumerate(lines):
        line = clip(line, SECTION_TEXT - 40)
        if chunk and size + len(line) + 1 > SECTION_TEXT - 40:
            if len(blocks) == budget - 1:
                chunk.append(f"…and {len(lines) - index} more.")
                break
            blocks.append(section("\n".join(chunk)))
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 1
    if chunk:
        blocks.append(section("\n".join(chunk)))
    return blocks
