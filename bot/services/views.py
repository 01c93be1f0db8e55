"""Turn stored rows into the domain's read models, with a fixed number of queries."""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta

from sqlmodel import Session, select

from bot.domain.errors import NotFound
from bot.domain.model import ItemState, ItemView, Owner, OwnerKind, ReleaseState, ReleaseView
from storage import repo
from storage.tables import ChecklistItem, ItemOwner, Release, ReleaseRole


def item_view(item: ChecklistItem, owners: list[ItemOwner], signed: tuple[str, ...] = ()) -> ItemView:
    """One item row and its owners as the domain sees them."""
    return ItemView(
        position=item.position,
        key=item.key,
        section=item.section,
        title=item.title,
        description=item.description,
        state=ItemState(item.state),
        due_at=item.due_at,
        offset=timedelta(seconds=item.offset_seconds),
        owners=[Owner(OwnerKind(o.kind), o.slack_id) for o in owners],
        reason=item.reason,
        evidence=item.evidence,
        evidence_required=item.evidence_required,
        signed_off_by=item.signed_off_by,
        signed_off_at=item.signed_off_at,
        id=item.id,
        signed=signed,
    )


def release_view(
    release: Release,
    items: list[ChecklistItem],
    owners: dict[int, list[ItemOwner]],
    managers: list[str],
    signoffs: dict[int, list[str]] | None = None,
) -> ReleaseView:
    """A release row and its parts as one read model."""
    signoffs = signoffs or {}
    assert release.id is not None
    return ReleaseView(
        id=release.id,
        name=release.name,
        channel_id=release.channel_id,
        launch_at=release.launch_at,
        timezone=release.timezone,
        state=ReleaseState(release.state),
        template=release.template,
        managers=managers,
        items=[item_view(i, owners.get(i.id or 0, []), tuple(signoffs.get(i.id or 0, ()))) for i in items],
        created_by=release.created_by,
        override_by=release.override_by,
        override_reason=release.override_reason,
        launched_at=release.launched_at,
    )


def load_release_view(*, session: Session, release: Release) -> ReleaseView:
    """Items, owners, managers and partial sign-offs of a release: four queries whatever its size."""
    assert release.id is not None
    items = repo.items_of(session=session, release_id=release.id)
    owners = repo.owners_of(session=session, release_id=release.id)
    managers = repo.roles_of(session=session, release_id=release.id)
    signoffs = repo.signoffs_by_item(session=session, release_id=release.id)
    return release_view(release, items, owners, managers, signoffs)


def view_with_item(*, session: Session, before: ReleaseView, item_id: int) -> ReleaseView:
    """`before` with one item read again: what load_release_view gives after a change to that item alone.

    Three small queries whatever the size of the release, instead of four that read every item and owner.
    """
    row = session.exec(
        select(ChecklistItem).where(ChecklistItem.id == item_id).execution_options(populate_existing=True)
    ).one()
    owners = repo.owners_of_item(session=session, item_id=item_id)
    signed = tuple(repo.signoffs_of(session=session, item_id=item_id))
    fresh = item_view(row, owners, signed)
    return _with_item(before, item_id, lambda _old: fresh)


# Item columns a state change writes that the read model shows, under the same names.
_SHOWN_ITEM_COLUMNS = frozenset({"state", "reason", "evidence", "signed_off_by", "signed_off_at"})


def view_with_item_values(
    before: ReleaseView, item_id: int, values: Mapping[str, object], signed: tuple[str, ...]
) -> ReleaseView | None:
    """`before` with one item's columns set as a compare-and-set just wrote them: no query at all.

    None when `values` holds a column this does not know how to show (read the item instead).
    """
    shown = {k: v for k, v in values.items() if k not in ("version", "updated_at")}
    if not shown.keys() <= _SHOWN_ITEM_COLUMNS:
        return None
    if "state" in shown:
        shown["state"] = ItemState(shown["state"])

    return _with_item(before, item_id, lambda item: replace(item, **shown, signed=signed))  # type: ignore[arg-type]


def _with_item(before: ReleaseView, item_id: int, change: Callable[[ItemView], ItemView]) -> ReleaseView:
    """`before` with the one item of that id replaced by `change(item)`; every other item as it was."""
    return replace(before, items=[change(i) if i.id == item_id else i for i in before.items])


def load_release_view_by_id(*, session: Session, release_id: int) -> ReleaseView:
    """The read model of a release by id."""
    release = repo.get_release(session=session, release_id=release_id)
    if release is None:
        raise NotFound(f"Release {release_id} no longer exists.")
    return load_release_view(session=session, release=release)


class ViewCache:
    """Release read models keyed by the card version the database holds.

    Every change to a release, its items or their owners bumps `card_version` in the same
    transaction, so a cached view for (id, version) is exactly what the database would give,
    on every replica. Reads that hit it cost one query instead of four.
    """

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._views: OrderedDict[tuple[int, int], ReleaseView] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, *, session: Session, release: Release) -> ReleaseView:
        """The view of this release at its current version, from memory or the database."""
        key = (release.id or 0, release.card_version)
        with self._lock:
            view = self._views.get(key)
            if view is not None:
                self._views.move_to_end(key)
                return view
        view = load_release_view(session=session, release=release)
        self.remember(release.id or 0, release.card_version, view)
        return view

    def cached(self, release_id: int, version: int) -> ReleaseView | None:
        """The view of the release at that version if it is in memory; nothing is read."""
        key = (release_id, version)
        with self._lock:
            view = self._views.get(key)
            if view is not None:
                self._views.move_to_end(key)
            return view

    def after_item_change(
        self,
        *,
        session: Session,
        release: Release,
        before: ReleaseView,
        version: int | None,
        item_id: int,
        written: tuple[Mapping[str, object], tuple[str, ...]] | None = None,
        owners: Sequence[Owner] | None = None,
    ) -> ReleaseView:
        """The view inside a transaction that changed one item and moved the card to `version`.

        `before` is the view of `release` as it was read (at `release.card_version`). When this transaction's
        bump is the only one since, the release differs from `before` by that item alone, so only the item is
        read again. When someone else's change came in between, the item is read again on top of the view
        that change left in this cache, or, if it left none (another process made it), the whole release is
        read. Call `remember` with the result once the transaction has committed, so the next request starts
        from it.

        `written` is what a state change wrote to the item (its column values and its signatures now), and
        `owners` the item's owners after an owner change, in the order the database keeps them: with either,
        not even the item is read again, since nothing else about it changed.
        """
        if version is None:
            return load_release_view(session=session, release=release)
        if version != release.card_version + 1:
            # Someone's change came in between. If it was this process's, its writer left the view of the
            # release at version - 1 here, and this transaction's change alone moved it to `version`: read
            # that one item again on top of it. (Not what this change wrote: the signatures it was decided
            # from were read before the other change, which may have added one.) A burst of sign-offs on one
            # release is mostly this case, and reading the whole release each time was a fifth of its cost.
            between = self.cached(release.id or 0, version - 1)
            if between is None:
                return load_release_view(session=session, release=release)
            return view_with_item(session=session, before=between, item_id=item_id)
        if written is not None:
            patched = view_with_item_values(before, item_id, *written)
            if patched is not None:
                return patched
        if owners is not None:
            listed = list(owners)
            return _with_item(before, item_id, lambda item: replace(item, owners=listed))
        return view_with_item(session=session, before=before, item_id=item_id)

    def remember(self, release_id: int, version: int | None, view: ReleaseView) -> None:
        """Keep `view` as the release at `version`; only for what a committed transaction wrote or read."""
        if version is None:
            return
        with self._lock:
            self._views[(release_id, version)] = view
            self._views.move_to_end((release_id, version))
            while len(self._views) > self._size:
                self._views.popitem(last=False)


def assemble_views(
    releases: list[Release], items: list[ChecklistItem], owners: list[ItemOwner], roles: list[ReleaseRole]
) -> dict[int, ReleaseView]:
    """Read models of many releases from rows loaded in bulk (no query per release)."""
    items_of: dict[int, list[ChecklistItem]] = defaultdict(list)
    for item in items:
        items_of[item.release_id].append(item)
    owners_of: dict[int, list[ItemOwner]] = defaultdict(list)
    for owner in owners:
        owners_of[owner.item_id].append(owner)
    managers_of: dict[int, list[str]] = defaultdict(list)
    for role in roles:
        if role.role == repo.MANAGER:
            managers_of[role.release_id].append(role.user_id)
    return {
        r.id: release_view(r, items_of[r.id], owners_of, managers_of[r.id])
        for r in releases
        if r.id is not None
    }
