"""Who is asking, from where, and how: passed to every service call."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.model import AuditSource
from bot.domain.permissions import Actor


@dataclass(frozen=True, slots=True)
class RequestContext:
    """The signed payload's user and team, the channel it came from and the surface used."""

    actor: Actor
    channel_id: str
    source: AuditSource = AuditSource.COMMAND
    event_id: str | None = None
    home_team: str | None = None  # the workspace the app is installed in; other teams are Slack Connect

    @property
    def user_id(self) -> str:
        """The acting user's Slack id."""
        return self.actor.user_id
