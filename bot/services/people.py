"""People as Slack knows them, cached in the database: names, time zones, whether they are active."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from bot.domain.errors import InvalidInput, NotFound
from bot.ports import Clock, Directory
from storage import repo
from storage.db import unit_of_work
from storage.tables import Person

# Time zones rarely change; a day-old cache is fresh enough and keeps users.info off most requests.
CACHE_TTL = timedelta(hours=24)


class People:
    """Looks people up through the cache first, Slack second."""

    def __init__(self, *, engine: Engine, directory: Directory, clock: Clock, default_tz: str) -> None:
        self._engine = engine
        self._directory = directory
        self._clock = clock
        self._default_tz = default_tz

    def get(self, user_id: str) -> Person | None:
        """A person, refreshed from Slack when missing or stale; None when Slack does not know them."""
        now = self._clock.now()
        cached = repo.cached_person(engine=self._engine, slack_id=user_id)
        if cached is not None and now - cached.fetched_at < CACHE_TTL:
            return cached
        found = self._directory.user(user_id)
        if found is None:
            return None
        person = Person(
            slack_id=found.id,
            name=found.name[:200],
            tz=found.tz,
            deleted=found.deleted,
            is_bot=found.is_bot,
            fetched_at=now,
        )
        with unit_of_work(self._engine) as session:
            repo.save_person(session=session, person=person)
        return person

    def timezone_of(self, user_id: str) -> str:
        """The person's Slack time zone, or the configured default when Slack has none."""
        person = self.get(user_id)
        return (person.tz if person and person.tz else None) or self._default_tz

    def require_active(self, user_id: str) -> Person:
        """A person who exists and can be given work; a clear error otherwise."""
        person = self.get(user_id)
        if person is None:
            raise NotFound(f"I couldn't find <@{user_id}> in this workspace.")
        if person.deleted:
            raise InvalidInput(f"<@{user_id}> has been deactivated, so they can't own an item.")
        if person.is_bot:
            raise InvalidInput(f"<@{user_id}> is a bot; assign a person or a user group.")
        return person
