"""Block Kit validation as Slack applies it, built on slack_sdk's model checks."""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MESSAGE_BLOCK_LIMIT = 50
VIEW_BLOCK_LIMIT = 100
VIEW_TITLE_LIMIT = 24
SECTION_FIELD_LIMIT = 2000  # slack_sdk does not check this one


def block_errors(blocks: Any, *, limit: int, pointer: str = "/blocks") -> list[str]:
    """Slack-style `[ERROR] … [json-pointer:…]` messages for a blocks array; empty when valid."""
    if not isinstance(blocks, list):
        return [f"[ERROR] must be an array [json-pointer:{pointer}]"]
    if len(blocks) > limit:
        return [f"[ERROR] must contain less than {limit + 1} items [json-pointer:{pointer}]"]
    return [
        f"[ERROR] {reason} [json-pointer:{pointer}/{index}]"
        for index, block in enumerate(blocks)
        if (reason := _block_error(block))
    ]


def _block_error(block: Any) -> str | None:
    """Why one block would be rejected, or None."""
    if not isinstance(block, dict):
        return "must be an object"
    try:
        parsed = Block.parse(block)
        if parsed is None:
            return f"unsupported block type: {block.get('type')!r}"
        parsed.to_dict()  # to_dict() runs validate_json() on the block and every nested element
    except SlackObjectFormationError as exc:
        return str(exc)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        return f"invalid block: {exc}"
    for field in block.get("fields") or []:
        if isinstance(field, dict) and len(str(field.get("text", ""))) > SECTION_FIELD_LIMIT:
            return f"fields text cannot exceed {SECTION_FIELD_LIMIT} characters"
    return None


def view_errors(view: Any) -> list[str]:
    """Slack-style messages for an invalid modal or Home view; empty when valid."""
    if not isinstance(view, dict):
        return ["[ERROR] must be an object [json-pointer:/view]"]
    if view.get("type") not in ("modal", "home"):
        return [f"[ERROR] unsupported view type: {view.get('type')!r} [json-pointer:/view/type]"]
    errors = _title_errors(view)
    errors += block_errors(view.get("blocks", []), limit=VIEW_BLOCK_LIMIT, pointer="/view/blocks")
    if errors:
        return errors
    try:
        View(**view).to_dict()
    except SlackObjectFormationError as exc:
        return [f"[ERROR] {exc} [json-pointer:/view]"]
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        return [f"[ERROR] invalid view: {exc} [json-pointer:/view]"]
    return []


def _title_errors(view: dict[str, Any]) -> list[str]:
    """Modals need a title of at most 24 characters."""
    if view.get("type") != "modal":
        return []
    title = view.get("title")
    text = title.get("text", "") if isinstance(title, dict) else title
    if not text:
        return ["[ERROR] missing required field: title [json-pointer:/view/title]"]
    if len(str(text)) > VIEW_TITLE_LIMIT:
        return [
            f"[ERROR] must be less than {VIEW_TITLE_LIMIT + 1} characters [json-pointer:/view/title/text]"
        ]
    return []
