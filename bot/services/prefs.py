"""People's reminder preferences and snoozes: their own, changed by them alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlmodel import select

from bot.domain.errors import InvalidInput
from bot.domain.prefs import parse_days, parse_hours, parse_zone
from bot.domain.text import escape_mrkdwn
from bot.services.base import ServiceBase, Target
from bot.services.context import RequestContext
from storage.db import unit_of_work
from storage.tables import PersonPrefs, Snooze


@dataclass(frozen=True, slots=True)
class PrefsView:
    """What `/release prefs` shows."""

    tz: str
    tz_from_slack: bool
    work_start: str
    work_end: str
    work_days: frozenset[int]
    muted: bool


@dataclass(frozen=True, slots=True)
class Snoozed:
    """A snooze that was set."""

    position: int
    title: str
    until: datetime


class PrefsService(ServiceBase):
    """Show and change one's own preferences; snooze one's own reminders."""

    def show(self, ctx: RequestContext) -> PrefsView:
        """The requester's preferences, with the time zone that is actually used."""
        with unit_of_work(self._engine, write=False) as session:
            row = session.get(PersonPrefs, ctx.user_id) or PersonPrefs(slack_id=ctx.user_id)
        slack_tz = self.people.timezone_of(ctx.user_id)
        days = frozenset(int(d) for d in row.work_days.split(",") if d)
        return PrefsView(
            row.tz_override or slack_tz,
            row.tz_override is None,
            row.work_start,
            row.work_end,
            days,
            row.muted,
        )

    def change(self, ctx: RequestContext, setting: str, value: str | None) -> PrefsView:
        """Change one preference; bad values are refused with a message and change nothing."""
        updates: dict[str, object] = {}
        if setting == "hours":
            start, end = parse_hours(value or "")
            updates = {"work_start": start.strftime("%H:%M"), "work_end": end.strftime("%H:%M")}
        elif setting == "days":
            updates = {"work_days": ",".join(str(d) for d in sorted(parse_days(value or "")))}
        elif setting == "tz":
            updates = {"tz_override": parse_zone(value or "")}
        elif setting in ("mute", "unmute"):
            updates = {"muted": setting == "mute"}
        with unit_of_work(self._engine) as session:
            row = session.get(PersonPrefs, ctx.user_id, with_for_update=True) or PersonPrefs(
                slack_id=ctx.user_id
            )
            for name, new in updates.items():
                setattr(row, name, new)
            session.add(row)
        return self.show(ctx)

    def set_many(
        self,
        ctx: RequestContext,
        *,
        hours: tuple[time, time],
        days: frozenset[int],
        tz_override: str | None,
        muted: bool,
    ) -> PrefsView:
        """Replace every preference at once (the prefs modal), in one unit of work; values come parsed."""
        start, end = hours
        if start >= end or not days or not days <= set(range(7)):
            raise InvalidInput("Working hours must start before they end, on at least one day.")
        with unit_of_work(self._engine) as session:
            row = session.get(PersonPrefs, ctx.user_id, with_for_update=True) or PersonPrefs(
                slack_id=ctx.user_id
            )
            row.work_start, row.work_end = start.strftime("%H:%M"), end.strftime("%H:%M")
            row.work_days = ",".join(str(d) for d in sorted(days))
            row.tz_override = tz_override
            row.muted = muted
            session.add(row)
        return self.show(ctx)

    def snooze(self, ctx: RequestContext, release_ref: str | None, item_ref: str, span: str) -> Snoozed:
        """Pause the requester's reminders about an item named in a command."""
        with unit_of_work(self._engine, write=False) as session:
            target = self._resolve(session, ctx, release_ref, item_ref, need_active=True)
        return self._snooze(ctx, target, span)

    def snooze_item(self, ctx: RequestContext, item_id: int, span: str) -> Snoozed:
        """Pause the requester's reminders about an item picked by id (a digest button)."""
        with unit_of_work(self._engine, write=False) as session:
            target = self._target_of_item(session, item_id)
        return self._snooze(ctx, target, span)

    def _snooze(self, ctx: RequestContext, target: Target, span: str) -> Snoozed:
        item, release = target.item, target.release
        assert item is not None and item.id is not None
        owners = self._owner_ids(ctx, target.owners or [])
        if ctx.user_id not in owners and ctx.user_id not in target.view.managers:
            raise InvalidInput(
                f"You get no reminders about {escape_mrkdwn(item.title)}, so there is nothing to snooze."
            )
        now = self._clock.now()
        until = {"1d": now + timedelta(days=1), "due": item.due_at, "launch": release.launch_at}[span]
        if until <= now:
            raise InvalidInput(
                f"{escape_mrkdwn(item.title)} is already past that point; snooze it for a day instead."
            )
        with unit_of_work(self._engine) as session:
            existing = session.exec(
                select(Snooze).where(Snooze.item_id == item.id, Snooze.user_id == ctx.user_id)
            ).first()
            snooze = existing or Snooze(item_id=item.id, user_id=ctx.user_id, until=until)
            snooze.until = until
            session.add(snooze)
        return Snoozed(item.position, item.title, until)
