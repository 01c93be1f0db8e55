"""What is one person's: their open items, the releases they manage, launches in their channels.

"Their channels" are the channels of releases (of any state) in which the person holds a role or owns
an item, directly or through a user group. That is what the database already knows, so Home needs no
`users.conversations` call (and no extra scope) on every refresh; a channel the person merely reads is
not theirs until they take part in a release there.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlmodel import Session

from bot.domain.model import ItemView, ReleaseView
from bot.domain.permissions import Actor
from bot.domain.readiness import Readiness, Recommendation, assess, recommendation
from bot.services.base import Deps, ServiceBase
from bot.services.context import RequestContext
from bot.services.prefs import PrefsService, PrefsView
from bot.services.views import assemble_views, item_view
from storage import home_repo, repo
from storage.db import unit_of_work
from storage.tables import Release

log = logging.getLogger(__name__)

# Home lists this many upcoming launches at most; the channel itself has the rest.
UPCOMING_LIMIT = 10


class HomeRefreshes(Protocol):
    """Asks for a person's Home to be published again soon (coalesced, off the request path)."""

    def request(self, user_id: str) -> None:
        """Publish this person's Home soon."""
        ...


@dataclass(frozen=True, slots=True)
class MyItem:
    """An open item someone owns, with the release it belongs to."""

    release_id: int
    release_name: str
    channel_id: str
    launch_at: datetime
    item: ItemView


@dataclass(frozen=True, slots=True)
class MyItems:
    """A person's open items across active releases, soonest due first (`/release mine`)."""

    user_id: str
    items: tuple[MyItem, ...]


@dataclass(frozen=True, slots=True)
class Managed:
    """A release the person manages, with its readiness now."""

    release: ReleaseView
    readiness: Readiness
    verdict: Recommendation


@dataclass(frozen=True, slots=True)
class Upcoming:
    """An active release in one of the person's channels."""

    release_id: int
    name: str
    channel_id: str
    launch_at: datetime
    state: str


@dataclass(frozen=True, slots=True)
class HomeData:
    """Everything App Home shows one person, as of `now`."""

    mine: MyItems
    managed: tuple[Managed, ...]
    upcoming: tuple[Upcoming, ...]
    prefs: PrefsView
    page: int
    now: datetime


class HomeService(ServiceBase):
    """Reads one person's view of all releases; remembers who opened Home and at which page."""

    def __init__(self, deps: Deps, prefs: PrefsService, refreshes: HomeRefreshes) -> None:
        super().__init__(deps)
        self._prefs = prefs
        self._refreshes = refreshes

    def mine(self, ctx: RequestContext) -> MyItems:
        """The requester's open items across active releases."""
        groups = self._groups_of(ctx.user_id)
        with unit_of_work(self._engine, write=False) as session:
            return self._mine(session, ctx.user_id, groups)

    def home(self, user_id: str) -> HomeData:
        """The person's Home: items, managed releases with readiness, launches in their channels."""
        now = self._clock.now()
        groups = self._groups_of(user_id)
        with unit_of_work(self._engine, write=False) as session:
            mine = self._mine(session, user_id, groups)
            managed_rows = home_repo.managed_releases(session=session, user_id=user_id, role=repo.MANAGER)
            views = _views(session, managed_rows)
            channels = home_repo.channels_of(session=session, user_id=user_id, groups=groups)
            nearby = home_repo.active_releases_in(
                session=session, channel_ids=channels, limit=UPCOMING_LIMIT + len(managed_rows)
            )
            visit = home_repo.get_visit(session=session, user_id=user_id)
        managed = []
        for row in managed_rows:
            view = views[row.id or 0]
            readiness = assess(view.items, now)
            managed.append(Managed(view, readiness, recommendation(readiness, now, view.launch_at)))
        managed_ids = {m.release.id for m in managed}
        upcoming = [
            Upcoming(r.id or 0, r.name, r.channel_id, r.launch_at, r.state)
            for r in nearby
            if r.id not in managed_ids
        ][:UPCOMING_LIMIT]
        prefs = self._prefs.show(RequestContext(Actor(user_id), ""))
        return HomeData(mine, tuple(managed), tuple(upcoming), prefs, visit.page if visit else 0, now)

    def opened(self, user_id: str) -> None:
        """Record that the person opened Home, so later changes refresh it, and publish it."""
        with unit_of_work(self._engine) as session:
            home_repo.record_visit(session=session, user_id=user_id, now=self._clock.now())
        self._refreshes.request(user_id)

    def turn_page(self, user_id: str, page: int) -> None:
        """Show another page of the person's items (later refreshes keep showing it)."""
        with unit_of_work(self._engine) as session:
            home_repo.record_visit(session=session, user_id=user_id, now=self._clock.now(), page=max(0, page))
        self._refreshes.request(user_id)

    def refresh(self, user_id: str) -> None:
        """Publish the person's Home again soon, if they ever opened it."""
        if self.has_visited(user_id):
            self._refreshes.request(user_id)

    def audience(self, release_id: int) -> set[str]:
        """People a change to this release concerns who have opened Home: roles and item owners."""
        with unit_of_work(self._engine, write=False) as session:
            users, groups = home_repo.people_of_release(session=session, release_id=release_id)
        for group in groups:
            users.update(self._members(group))
        with unit_of_work(self._engine, write=False) as session:
            return home_repo.visitors_among(session=session, user_ids=users)

    def has_visited(self, user_id: str) -> bool:
        """Whether the person ever opened Home."""
        with unit_of_work(self._engine, write=False) as session:
            return home_repo.get_visit(session=session, user_id=user_id) is not None

    def _mine(self, session: Session, user_id: str, groups: set[str]) -> MyItems:
        rows = home_repo.open_items_of(session=session, user_id=user_id, groups=groups)
        owners = home_repo.owners_of_items(session=session, item_ids=[i.id for _, i in rows if i.id])
        items = tuple(
            MyItem(r.id or 0, r.name, r.channel_id, r.launch_at, item_view(i, owners.get(i.id or 0, [])))
            for r, i in rows
        )
        return MyItems(user_id, items)

    def _groups_of(self, user_id: str) -> set[str]:
        """The user groups owning open work that the person belongs to."""
        with unit_of_work(self._engine, write=False) as session:
            groups = home_repo.groups_owning_open_items(session=session)
        return {g for g in groups if user_id in self._members(g)}

    def _members(self, group_id: str) -> Iterable[str]:
        try:
            return self._directory.usergroup_members(group_id) or []
        except Exception:
            # Slack unreachable: the group's items are missing from this view only, not the whole view.
            log.warning("could not expand user group %s for App Home", group_id, exc_info=True)
            return []


def _views(session: Session, releases: list[Release]) -> dict[int, ReleaseView]:
    ids = [r.id for r in releases if r.id is not None]
    items, owners, roles = home_repo.release_parts(session=session, release_ids=ids)
    return assemble_views(releases, items, owners, roles)
