"""Every command, event, action and view id the app registers, in one place; a test checks manifest.yml."""

from __future__ import annotations

import enum

COMMAND = "/release"

# Events the app subscribes to (bot events in manifest.yml).
EVENTS: tuple[str, ...] = ()


class ActionId(enum.StrEnum):
    """Interactive element ids. Later issues add sign-off buttons, votes and drafts."""


class ViewId(enum.StrEnum):
    """Modal callback ids."""
