"""Storage on SQLite and PostgreSQL: migrations, aware times, uniqueness, no lost updates, flat queries."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from bot.services.views import ViewCache, load_release_view
from storage import repo
from storage.db import make_engine, unit_of_work
from storage.migrate import HEAD_REVISION, current_revision, head_revision, upgrade
from storage.tables import ChecklistItem, ItemOwner, Person, Release
from tests.storage.conftest import NOW, release_row, statements


def _release(name: str = "Payments 2.4", channel: str = "C1", state: str = "planning") -> Release:
    return release_row(name, channel, state)


def _items(n: int) -> list[ChecklistItem]:
    return [
        ChecklistItem(
            release_id=0,
            position=i,
            key=f"item_{i}",
            section="Quality",
            title=f"Item {i}",
            offset_seconds=-86400,
            due_at=NOW + timedelta(days=8),
            updated_at=NOW,
        )
        for i in range(1, n + 1)
    ]


def _create(engine, n_items: int = 18, **kwargs) -> int:
    with unit_of_work(engine) as session:
        release = repo.add_release(
            session=session, release=_release(**kwargs), managers=["U1"], items=_items(n_items)
        )
        assert release.id is not None
        return release.id


def test_migrations_reach_head_and_match_the_models(engine) -> None:
    assert current_revision(engine) == head_revision()
    upgrade(engine)  # idempotent
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == [], f"models and migrations disagree; add a migration: {diff}"


def test_the_head_the_code_names_is_alembics_head() -> None:
    """A new migration without HEAD_REVISION moved would let restarts skip it: this catches that."""
    assert head_revision() == HEAD_REVISION


def test_a_restart_at_head_asks_one_question_and_an_older_schema_still_migrates(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0007")
        with statements(engine) as seen:
            upgrade(engine)  # one revision behind: Alembic's path, which migrates
            assert current_revision(engine) == HEAD_REVISION
            seen.clear()
            upgrade(engine)  # at head: one SELECT, Alembic not involved
        assert [s for s in seen if not s.startswith("BEGIN")] == ["SELECT version_num FROM alembic_version"]
    finally:
        engine.dispose()


def test_times_come_back_aware_utc(engine) -> None:
    berlin = timezone(timedelta(hours=1))
    release = _release()
    release.launch_at = datetime(2026, 12, 10, 14, 0, tzinfo=berlin)
    with unit_of_work(engine) as session:
        session.add(release)
    with unit_of_work(engine, write=False) as session:
        stored = repo.get_release(session=session, release_id=release.id or 0)
    assert stored is not None
    assert stored.launch_at.tzinfo is not None
    assert stored.launch_at == datetime(2026, 12, 10, 13, 0, tzinfo=UTC)


def test_naive_datetimes_are_refused(engine) -> None:
    release = _release()
    release.launch_at = datetime(2026, 12, 10, 14, 0)
    with pytest.raises(Exception, match="naive"), unit_of_work(engine) as session:
        session.add(release)


def test_active_names_are_unique_per_channel(engine) -> None:
    _create(engine)
    with pytest.raises(IntegrityError):
        _create(engine)
    _create(engine, channel="C2")  # another channel is fine
    with unit_of_work(engine, write=False) as session:
        assert repo.active_name_taken(session=session, channel_id="C1", name_key="payments 2.4")


def test_a_cancelled_release_frees_its_name(engine) -> None:
    _create(engine, state="cancelled")
    _create(engine)  # no IntegrityError


def test_unicode_is_stored_intact(engine) -> None:
    name = "Paiements 🚀 2.4 — ‏מהדורה‏ e\u0301"
    release_id = _create(engine, name=name)
    with unit_of_work(engine, write=False) as session:
        stored = repo.get_release(session=session, release_id=release_id)
    assert stored is not None and stored.name == name


def test_owners_are_grouped_per_item(engine) -> None:
    release_id = _create(engine, n_items=3)
    with unit_of_work(engine) as session:
        items = repo.items_of(session=session, release_id=release_id)
        repo.add_owners(session=session, item_id=items[0].id or 0, owners=[("user", "U2"), ("group", "S1")])
        repo.add_owners(session=session, item_id=items[2].id or 0, owners=[("user", "U3")])
    with unit_of_work(engine) as session:
        owners = repo.owners_of(session=session, release_id=release_id)
        assert [(o.kind, o.slack_id) for o in owners[items[0].id or 0]] == [("user", "U2"), ("group", "S1")]
        assert items[1].id not in owners
        assert repo.remove_owners(session=session, item_id=items[0].id or 0, owners=[("user", "U2")]) == 1
    with pytest.raises(IntegrityError), unit_of_work(engine) as session:
        session.add(ItemOwner(item_id=items[2].id or 0, kind="user", slack_id="U3"))
        session.flush()


def test_a_touch_refreshes_the_rows_the_session_already_holds(engine) -> None:
    """The touches are built once and skip the ORM's own synchronisation; what they write still shows."""
    release_id = _create(engine, n_items=3)
    with unit_of_work(engine) as session:
        release = repo.get_release(session=session, release_id=release_id)
        first, second, _third = repo.items_of(session=session, release_id=release_id)
        assert release is not None and first.id is not None and second.id is not None
        version, item_version = release.card_version, first.version
        later = NOW + timedelta(minutes=5)
        assert repo.touch_card(session=session, release_id=release_id, now=later) == version + 1
        repo.touch_items(session=session, item_ids=[first.id], now=later)
        assert (release.card_version, release.updated_at) == (version + 1, later)
        assert (first.version, first.updated_at) == (item_version + 1, later)
        repo.touch_items(session=session, item_ids=[first.id, second.id], now=later)  # one statement for many
        assert first.version == item_version + 2
        assert not session.dirty  # refreshed as the database holds them, not changes waiting to be written
        assert repo.touch_card(session=session, release_id=release_id + 99, now=later) is None
    with unit_of_work(engine, write=False) as session:
        stored = repo.get_release(session=session, release_id=release_id)
        assert stored is not None and stored.card_version == version + 1
        assert [i.version for i in repo.items_of(session=session, release_id=release_id)] == [
            item_version + 2,
            item_version + 1,
            item_version,
        ]


def test_an_item_the_session_holds_is_not_read_again(engine) -> None:
    release_id = _create(engine, n_items=2)
    with statements(engine) as seen, unit_of_work(engine, write=False) as session:
        first, _second = repo.items_of(session=session, release_id=release_id)
        assert first.id is not None
        seen.clear()
        assert repo.get_item(session=session, item_id=first.id) is first
        assert seen == []
    with statements(engine) as seen, unit_of_work(engine, write=False) as session:
        item = repo.get_item(session=session, item_id=first.id)
        assert item is not None and item.title == first.title
        assert [st.split()[0] for st in seen if st != "BEGIN"] == ["SELECT"]  # SQLite counts its BEGIN
        assert repo.get_item(session=session, item_id=first.id + 99) is None


def test_removed_owners_leave_the_session(engine) -> None:
    release_id = _create(engine, n_items=1)
    with unit_of_work(engine) as session:
        (item,) = repo.items_of(session=session, release_id=release_id)
        assert item.id is not None
        repo.add_owners(session=session, item_id=item.id, owners=[("user", "U2"), ("user", "U3")])
    with unit_of_work(engine) as session:
        two, three = repo.owners_of_item(session=session, item_id=item.id)
        assert (
            repo.remove_owners(session=session, item_id=item.id, owners=[("user", "U2"), ("user", "U9")]) == 1
        )
        assert two not in session and three in session
        assert [o.slack_id for o in repo.owners_of_item(session=session, item_id=item.id)] == ["U3"]


def test_an_owner_added_and_removed_in_one_transaction_is_gone(engine) -> None:
    """The removal is an ORM statement so that it writes a pending owner first, then deletes it."""
    release_id = _create(engine, n_items=1)
    with unit_of_work(engine) as session:
        (item,) = repo.items_of(session=session, release_id=release_id)
        assert item.id is not None
        session.add(ItemOwner(item_id=item.id, kind="user", slack_id="U2"))  # pending, not flushed
        assert repo.remove_owners(session=session, item_id=item.id, owners=[("user", "U2")]) == 1
    with unit_of_work(engine, write=False) as session:
        assert repo.owners_of_item(session=session, item_id=item.id) == []


def test_a_cached_person_comes_back_as_it_was_stored(engine) -> None:
    """Read outside a transaction, converted as the ORM converts: aware times, real booleans."""
    assert repo.cached_person(engine=engine, slack_id="U404") is None
    with unit_of_work(engine) as session:
        repo.save_person(
            session=session,
            person=Person(slack_id="U1", name="Ana", tz="Europe/Lisbon", deleted=True, fetched_at=NOW),
        )
    person = repo.cached_person(engine=engine, slack_id="U1")
    assert person is not None
    assert (person.slack_id, person.name, person.tz, person.fetched_at) == ("U1", "Ana", "Europe/Lisbon", NOW)
    assert person.fetched_at.utcoffset() == timedelta(0)
    assert person.deleted is True and person.is_bot is False


def test_concurrent_read_modify_write_loses_nothing(engine) -> None:
    release_id = _create(engine, n_items=1)
    threads, per_thread = 8, 15

    def bump() -> None:
        for _ in range(per_thread):
            with unit_of_work(engine) as session:
                release = repo.get_release(session=session, release_id=release_id, for_update=True)
                assert release is not None
                release.card_version = release.card_version + 1
                session.add(release)

    workers = [threading.Thread(target=bump) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    with unit_of_work(engine, write=False) as session:
        release = repo.get_release(session=session, release_id=release_id)
    assert release is not None and release.card_version == 1 + threads * per_thread


def test_card_claim_is_exclusive_until_the_lease_expires(engine) -> None:
    release_id = _create(engine, n_items=1)
    lease = timedelta(seconds=60)
    with unit_of_work(engine) as session:
        assert repo.claim_card(session=session, release_id=release_id, now=NOW, lease=lease)
    with unit_of_work(engine) as session:
        assert not repo.claim_card(session=session, release_id=release_id, now=NOW, lease=lease)
        assert repo.releases_needing_card_sync(session=session, now=NOW) == []
    later = NOW + timedelta(seconds=61)
    with unit_of_work(engine) as session:
        assert repo.releases_needing_card_sync(session=session, now=later) == [release_id]
        assert repo.claim_card(session=session, release_id=release_id, now=later, lease=lease)


def _count_statements(engine, fn) -> int:
    with statements(engine) as seen:
        fn()
    return len(seen)


def test_loading_a_release_takes_the_same_statements_at_any_size(engine) -> None:
    small, large = _create(engine, n_items=18, name="small"), _create(engine, n_items=500, name="large")
    with unit_of_work(engine) as session:
        for item in repo.items_of(session=session, release_id=large)[:200]:
            repo.add_owners(session=session, item_id=item.id or 0, owners=[("user", "U9")])

    def load(release_id: int):
        def run() -> None:
            with unit_of_work(engine, write=False) as session:
                release = repo.get_release(session=session, release_id=release_id)
                assert release is not None
                view = load_release_view(session=session, release=release)
                assert view.items

        return run

    assert _count_statements(engine, load(small)) == _count_statements(engine, load(large))


def test_the_view_cache_follows_the_card_version(engine) -> None:
    cache = ViewCache(size=2)
    release_id = _create(engine, n_items=2)

    def view():
        with unit_of_work(engine, write=False) as session:
            release = repo.get_release(session=session, release_id=release_id)
            assert release is not None
            return cache.load(session=session, release=release)

    first = view()
    assert view() is first  # same version: served from memory
    with unit_of_work(engine) as session:
        item = repo.items_of(session=session, release_id=release_id)[0]
        repo.add_owners(session=session, item_id=item.id or 0, owners=[("user", "U7")])
        repo.touch_card(session=session, release_id=release_id, now=NOW)
    second = view()
    assert second is not first
    assert [o.slack_id for o in second.items[0].owners] == ["U7"]


def test_an_event_id_is_recorded_once(engine) -> None:
    with unit_of_work(engine) as session:
        assert repo.record_event(session=session, event_id="Ev1", now=NOW)
    with unit_of_work(engine) as session:
        assert not repo.record_event(session=session, event_id="Ev1", now=NOW)
        assert repo.record_event(session=session, event_id="Ev2", now=NOW)


def test_signatures_are_recorded_once_per_person(engine) -> None:
    release_id = _create(engine, n_items=1)
    with unit_of_work(engine) as session:
        item_id = repo.items_of(session=session, release_id=release_id)[0].id or 0
        assert repo.add_signoff(session=session, item_id=item_id, user_id="U1", now=NOW)
        assert not repo.add_signoff(session=session, item_id=item_id, user_id="U1", now=NOW)
        assert repo.add_signoff(session=session, item_id=item_id, user_id="U2", now=NOW)
        assert repo.signoffs_of(session=session, item_id=item_id) == ["U1", "U2"]


def test_an_older_reaction_event_loses_to_a_newer_one(engine) -> None:
    release_id = _create(engine, n_items=1)
    with unit_of_work(engine) as session:
        item_id = repo.items_of(session=session, release_id=release_id)[0].id or 0
        mark = {"session": session, "item_id": item_id, "user_id": "U1", "kind": "sign_off"}
        assert repo.newer_reaction(**mark, present=False, event_ts="1700000000.000200")
        assert not repo.newer_reaction(**mark, present=True, event_ts="1700000000.000100")
        assert not repo.newer_reaction(**mark, present=True, event_ts="1700000000.000200")
        assert repo.newer_reaction(**mark, present=True, event_ts="1700000001.000000")
