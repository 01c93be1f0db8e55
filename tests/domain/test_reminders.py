"""The reminder ladder and the digest planner: what is due, to whom, once, in each person's own hours."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.model import ItemState
from bot.domain.reminders import (
    LadderConfig,
    OpenItem,
    PersonPrefs,
    Plan,
    Reason,
    ReleaseInfo,
    Send,
    SendKind,
    key,
    plan,
)
from bot.domain.workhours import (
    WorkingHours,
    add_working_hours,
    is_working,
    last_working_instant_at_or_before,
    next_working_start_after,
    working_day_start,
)

NY = "America/New_York"
AUCKLAND = "Pacific/Auckland"
ANA, BOB, MAYA, KIRI = "U0ANA", "U0BOB", "U0MAYA", "U0KIRI"
PEOPLE = {
    ANA: PersonPrefs(ANA, NY),
    BOB: PersonPrefs(BOB, NY),
    MAYA: PersonPrefs(MAYA, NY),
    KIRI: PersonPrefs(KIRI, AUCKLAND),
}
HEADS_UP, DUE, OVERDUE = Reason.HEADS_UP, Reason.DUE, Reason.OVERDUE
DIGEST, ESCALATION, FINAL_CALL, SUMMARY = (
    SendKind.DIGEST,
    SendKind.ESCALATION,
    SendKind.FINAL_CALL,
    SendKind.SUMMARY,
)


def ny(text: str) -> datetime:
    """An aware datetime from a New York wall time like '2026-12-07 10:00' (December: EST, UTC−5)."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(NY))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# December 2026: Tue 1 … Fri 4, Sat 5, Sun 6, Mon 7, Tue 8, Wed 9, Thu 10 (launch, 14:00 New York).
PAYMENTS = ReleaseInfo(1, "Payments 2.4", "C0PAY", ny("2026-12-10 14:00"), (MAYA,), True)
MOBILE = ReleaseInfo(2, "Mobile 7.1", "C0MOB", ny("2026-12-14 10:00"), (MAYA,), True)


def item(
    item_id: int,
    due: str,
    *owners: str,
    state: ItemState = ItemState.OPEN,
    release: ReleaseInfo = PAYMENTS,
) -> OpenItem:
    """An item of `release` due at New York wall time `due`."""
    return OpenItem(
        release_id=release.release_id,
        item_id=item_id,
        position=item_id,
        title=f"Item {item_id}",
        due_at=ny(due),
        state=state,
        owner_ids=owners,
        launch_at=release.launch_at,
    )


def run(now: str, since: str, items, releases=(PAYMENTS,), people=PEOPLE, **kwargs) -> Plan:
    """Plan the window (since, now], both New York wall times."""
    return plan(ny(now), ny(since), items, releases, people, **kwargs)


def by_slot(send: Send) -> datetime:
    return send.slot


def brief(send: Send) -> tuple:
    """A send as (kind, recipient, slot in New York, item ids, reasons by item), for readable expectations."""
    slot = send.slot.astimezone(ZoneInfo(NY)).strftime("%Y-%m-%d %H:%M")
    return (send.kind, send.recipient, slot, send.item_ids, dict(send.reasons))


ROLLBACK = item(1, "2026-12-07 10:00", ANA)  # Monday
BACKUP = item(2, "2026-12-09 10:00", ANA)  # Wednesday; signed off on Tuesday at 16:00
DOCS = item(3, "2026-12-05 12:00", BOB)  # Saturday

LIFE = [
    (DIGEST, BOB, "2026-12-03 09:00", (3,), {3: HEADS_UP}),  # a working day before Friday's due-now rung
    (DIGEST, ANA, "2026-12-04 09:00", (1,), {1: HEADS_UP}),
    (DIGEST, BOB, "2026-12-04 17:59", (3,), {3: DUE}),  # due Saturday: Friday's last working minute
    (DIGEST, BOB, "2026-12-07 09:00", (3,), {3: OVERDUE}),
    (DIGEST, ANA, "2026-12-07 10:00", (1,), {1: DUE}),
    (DIGEST, ANA, "2026-12-08 09:00", (1, 2), {1: OVERDUE, 2: HEADS_UP}),  # one digest for both
    (DIGEST, BOB, "2026-12-08 09:00", (3,), {3: OVERDUE}),
    (DIGEST, ANA, "2026-12-09 09:00", (1,), {1: OVERDUE}),  # Backup was signed off: it vanished
    (DIGEST, BOB, "2026-12-09 09:00", (3,), {3: OVERDUE}),
    (SUMMARY, "C0PAY", "2026-12-09 14:00", (1, 3), {1: OVERDUE, 3: OVERDUE}),  # launch − 24 h
    (ESCALATION, MAYA, "2026-12-09 15:00", (3,), {3: OVERDUE}),  # Saturday's item: from Monday 09:00, 9+9+6
    (ESCALATION, MAYA, "2026-12-09 16:00", (1,), {1: OVERDUE}),  # Monday 10:00 + 8+9+7 working hours
    (DIGEST, ANA, "2026-12-10 09:00", (1,), {1: OVERDUE}),
    (DIGEST, BOB, "2026-12-10 09:00", (3,), {3: OVERDUE}),
    (FINAL_CALL, "C0PAY", "2026-12-10 12:00", (1, 3), {1: OVERDUE, 3: OVERDUE}),  # launch − 2 h
]


def test_a_release_across_its_life_sends_each_rung_exactly_once():
    signed_off_at = ny("2026-12-08 16:00")
    seen: list[Send] = []
    previous = ny("2026-12-01 00:00")
    while previous < ny("2026-12-10 20:00"):
        now = previous + timedelta(minutes=10)
        backup = BACKUP if now < signed_off_at else replace(BACKUP, state=ItemState.DONE)
        result = plan(now, previous, [ROLLBACK, backup, DOCS], [PAYMENTS], PEOPLE)
        assert result.missed == []
        seen.extend(result.due)
        previous = now
    assert [brief(send) for send in seen] == LIFE
    keys = [key(send) for send in seen]
    assert len(keys) == len(set(keys))  # no send appears in two windows


def test_the_windows_do_not_matter_only_their_union():
    items = [ROLLBACK, BACKUP, DOCS]
    whole = run("2026-12-10 20:00", "2026-12-01 00:00", items)
    stepped = []
    for since, now in [("2026-12-01 00:00", "2026-12-04 09:00"), ("2026-12-04 09:00", "2026-12-10 20:00")]:
        part = run(now, since, items)
        stepped.extend(part.due + part.missed)
    assert sorted(map(key, stepped)) == sorted(map(key, whole.due + whole.missed))


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(0, 10 * 24 * 60), max_size=6))
def test_any_split_of_a_period_yields_the_same_keys_once(cuts):
    start, end = ny("2026-12-01 00:00"), ny("2026-12-11 00:00")
    bounds = [start, *sorted(start + timedelta(minutes=m) for m in cuts), end]
    items = [ROLLBACK, BACKUP, DOCS, item(4, "2026-12-08 14:00", ANA, KIRI)]
    keys = []
    for since, now in itertools.pairwise(bounds):
        part = plan(now, since, items, [PAYMENTS], PEOPLE)
        keys.extend(map(key, part.due + part.missed))
    whole = plan(end, start, items, [PAYMENTS], PEOPLE)
    assert sorted(keys) == sorted(map(key, whole.due + whole.missed))
    assert len(keys) == len(set(keys))


def test_a_saturday_due_date_reminds_on_fridays_last_working_minute():
    result = run("2026-12-05 12:00", "2026-12-04 12:00", [DOCS])
    assert [brief(send) for send in result.due] == [(DIGEST, BOB, "2026-12-04 17:59", (3,), {3: DUE})]
    assert result.due[0].expires_at == ny("2026-12-07 09:00")  # until Monday's overdue rung


def test_two_items_due_together_share_one_digest():
    items = [item(1, "2026-12-08 14:00", ANA), item(2, "2026-12-08 14:00", ANA)]
    monday = run("2026-12-07 12:00", "2026-12-07 00:00", items)
    tuesday = run("2026-12-08 14:00", "2026-12-08 12:00", items)
    assert [brief(send) for send in monday.due + tuesday.due] == [
        (DIGEST, ANA, "2026-12-07 09:00", (1, 2), {1: HEADS_UP, 2: HEADS_UP}),
        (DIGEST, ANA, "2026-12-08 14:00", (1, 2), {1: DUE, 2: DUE}),
    ]


def test_items_of_two_releases_at_the_same_slot_share_one_digest():
    items = [item(1, "2026-12-07 10:00", ANA), item(7, "2026-12-09 10:00", ANA, release=MOBILE)]
    result = run("2026-12-08 10:00", "2026-12-08 08:00", items, releases=(PAYMENTS, MOBILE))
    (digest,) = result.due
    assert brief(digest) == (DIGEST, ANA, "2026-12-08 09:00", (1, 7), {1: OVERDUE, 7: HEADS_UP})
    assert digest.release_id is None
    assert key(digest) == "-:digest:U0ANA:2026-12-08T14:00:00+00:00"


def test_a_snoozed_item_is_skipped_until_the_snooze_ends_but_managers_still_hear():
    snoozing = {**PEOPLE, ANA: PersonPrefs(ANA, NY, snoozed_until={1: ny("2026-12-09 12:00")})}
    result = run("2026-12-10 10:00", "2026-12-07 00:00", [ROLLBACK], people=snoozing)
    dms = sorted(
        (send for send in result.due + result.missed if send.kind in (DIGEST, ESCALATION)), key=by_slot
    )
    assert [brief(send)[:3] for send in dms] == [
        (ESCALATION, MAYA, "2026-12-09 16:00"),
        (DIGEST, ANA, "2026-12-10 09:00"),
    ]


def test_muted_people_get_no_digests_and_no_escalations():
    muted = {**PEOPLE, ANA: replace(PEOPLE[ANA], muted=True), MAYA: replace(PEOPLE[MAYA], muted=True)}
    result = run("2026-12-10 13:00", "2026-12-01 00:00", [ROLLBACK, DOCS], people=muted)
    assert {send.recipient for send in result.due + result.missed} == {BOB, "C0PAY"}


@pytest.mark.parametrize("state", [ItemState.DONE, ItemState.WAIVED, ItemState.NOT_APPLICABLE])
def test_closed_items_vanish(state):
    result = run("2026-12-10 20:00", "2026-12-01 00:00", [replace(ROLLBACK, state=state)])
    assert [send.kind for send in result.due + result.missed] == [SUMMARY]  # the summary, with nothing open
    assert result.missed[0].item_ids == ()


@pytest.mark.parametrize("state", [ItemState.IN_PROGRESS, ItemState.BLOCKED])
def test_open_states_other_than_open_are_still_reminded(state):
    result = run("2026-12-07 10:00", "2026-12-07 09:30", [replace(ROLLBACK, state=state)])
    assert [brief(send)[:3] for send in result.due] == [(DIGEST, ANA, "2026-12-07 10:00")]


def test_inactive_releases_and_unknown_releases_are_ignored():
    inactive = replace(PAYMENTS, active=False)
    assert run("2026-12-10 20:00", "2026-12-01 00:00", [ROLLBACK], releases=(inactive,)) == Plan([], [])
    assert run("2026-12-10 20:00", "2026-12-01 00:00", [ROLLBACK], releases=(MOBILE,)).due == []


def test_escalation_comes_after_24_working_hours_of_the_managers_hours():
    before = run("2026-12-09 15:59", "2026-12-09 09:00", [ROLLBACK])
    assert ESCALATION not in {send.kind for send in before.due}
    result = run("2026-12-09 16:00", "2026-12-09 15:59", [ROLLBACK])
    (escalation,) = result.due
    assert brief(escalation) == (ESCALATION, MAYA, "2026-12-09 16:00", (1,), {1: OVERDUE})
    assert escalation.release_id == 1
    assert escalation.expires_at == ny("2026-12-10 09:00")
    assert key(escalation) == "1:escalation:U0MAYA:2026-12-09T21:00:00+00:00"


def test_escalation_counts_in_the_managers_zone_and_groups_per_release_and_slot():
    in_auckland = {**PEOPLE, MAYA: PersonPrefs(MAYA, AUCKLAND)}
    items = [ROLLBACK, item(2, "2026-12-07 10:00", BOB)]
    result = run("2026-12-10 00:00", "2026-12-07 00:00", items, people=in_auckland)
    (escalation,) = [send for send in result.due if send.kind is ESCALATION]
    # Due Monday 10:00 EST = Tuesday 04:00 NZDT; counted from Tuesday 09:00 there: 9 + 9 + 6 hours.
    assert escalation.slot == datetime(2026, 12, 10, 15, 0, tzinfo=ZoneInfo(AUCKLAND))
    assert escalation.item_ids == (1, 2)


def test_an_escalation_threshold_at_a_days_end_waits_for_the_next_morning():
    config = LadderConfig(escalate_after_working_hours=18)
    monday_nine = item(1, "2026-12-07 09:00", ANA)  # 9 + 9 hours: reached at Tuesday 18:00 exactly
    result = run("2026-12-09 10:00", "2026-12-08 12:00", [monday_nine], config=config)
    assert [brief(send)[:3] for send in result.due if send.kind is ESCALATION] == [
        (ESCALATION, MAYA, "2026-12-09 09:00")
    ]


def test_final_call_and_summary_instants():
    config = LadderConfig(
        final_call_before=timedelta(hours=3), summary_offsets=(timedelta(days=3), timedelta(hours=24))
    )
    open_item = item(1, "2026-12-10 14:00", ANA)  # due at launch
    result = run("2026-12-10 13:00", "2026-12-06 00:00", [open_item], config=config)
    posts = [brief(send) for send in result.due if send.kind in (SUMMARY, FINAL_CALL)]
    assert posts == [
        (SUMMARY, "C0PAY", "2026-12-07 14:00", (1,), {1: HEADS_UP}),
        (SUMMARY, "C0PAY", "2026-12-09 14:00", (1,), {1: HEADS_UP}),
        (FINAL_CALL, "C0PAY", "2026-12-10 11:00", (1,), {1: HEADS_UP}),
    ]
    assert {send.expires_at for send in result.due if send.kind in (SUMMARY, FINAL_CALL)} == {
        PAYMENTS.launch_at
    }
    assert key(result.due[-1]) == "1:final_call:C0PAY:2026-12-10T16:00:00+00:00"
    assert all(send.slot.tzinfo is UTC and send.expires_at.tzinfo is UTC for send in result.due)


def test_no_final_call_when_nothing_is_open_but_the_summary_still_posts():
    done = replace(ROLLBACK, state=ItemState.DONE)
    result = run("2026-12-10 13:00", "2026-12-09 13:00", [done])
    assert [brief(send) for send in result.due] == [(SUMMARY, "C0PAY", "2026-12-09 14:00", (), {})]


def test_a_bot_down_across_slots_reports_past_window_rungs_as_missed():
    result = run("2026-12-09 09:30", "2026-12-01 00:00", [ROLLBACK, BACKUP, DOCS])
    assert [brief(send) for send in result.missed] == [
        (DIGEST, BOB, "2026-12-03 09:00", (3,), {3: HEADS_UP}),
        (DIGEST, ANA, "2026-12-04 09:00", (1,), {1: HEADS_UP}),
        (DIGEST, BOB, "2026-12-04 17:59", (3,), {3: DUE}),
        (DIGEST, BOB, "2026-12-07 09:00", (3,), {3: OVERDUE}),
        (DIGEST, ANA, "2026-12-07 10:00", (1,), {1: DUE}),
        (DIGEST, BOB, "2026-12-08 09:00", (3,), {3: OVERDUE}),
    ]
    assert [brief(send) for send in result.due] == [
        # Tuesday's digest: the overdue rung is stale, Backup's heads-up still useful until it is due.
        (DIGEST, ANA, "2026-12-08 09:00", (2,), {2: HEADS_UP}),
        (DIGEST, ANA, "2026-12-09 09:00", (1,), {1: OVERDUE}),
        (DIGEST, BOB, "2026-12-09 09:00", (3,), {3: OVERDUE}),
    ]
    assert all(send.expires_at <= ny("2026-12-09 09:30") for send in result.missed)
    assert all(send.expires_at > ny("2026-12-09 09:30") for send in result.due)


def test_channel_posts_missed_when_the_bot_comes_back_after_launch():
    result = run("2026-12-10 15:00", "2026-12-09 00:00", [ROLLBACK])
    assert [send.kind for send in result.missed if send.recipient == "C0PAY"] == [SUMMARY, FINAL_CALL]


def test_people_get_their_digests_at_their_own_nine_oclock():
    shared = item(1, "2026-12-07 10:00", ANA, KIRI)  # Monday 10:00 EST = Tuesday 04:00 in Auckland
    result = run("2026-12-09 00:00", "2026-12-08 00:00", [shared])
    digests = {send.recipient: send.slot for send in result.due if send.kind is DIGEST}
    assert digests[ANA].astimezone(ZoneInfo(NY)).time() == time(9, 0)
    assert digests[KIRI].astimezone(ZoneInfo(AUCKLAND)).time() == time(9, 0)
    assert digests == {ANA: ny("2026-12-08 09:00"), KIRI: utc("2026-12-08 20:00")}  # Wednesday 09:00 NZDT


def test_an_owner_in_auckland_gets_the_due_now_rung_moved_into_their_own_day():
    result = run("2026-12-08 00:00", "2026-12-03 00:00", [item(1, "2026-12-07 10:00", KIRI)])
    # Tuesday 04:00 in Auckland is before hours: Monday 17:59 NZDT, after a Friday 09:00 heads-up.
    assert [(send.slot, dict(send.reasons)) for send in sorted(result.due + result.missed, key=by_slot)] == [
        (datetime(2026, 12, 4, 9, 0, tzinfo=ZoneInfo(AUCKLAND)), {1: HEADS_UP}),
        (datetime(2026, 12, 7, 17, 59, tzinfo=ZoneInfo(AUCKLAND)), {1: DUE}),
        (datetime(2026, 12, 8, 9, 0, tzinfo=ZoneInfo(AUCKLAND)), {1: OVERDUE}),
    ]


def test_people_without_prefs_get_the_defaults_they_are_given():
    result = run(
        "2026-12-07 10:00",
        "2026-12-07 00:00",
        [item(1, "2026-12-07 03:00", "U0NEW")],  # 09:00 in Berlin
        people={},
        default_prefs_for=lambda user_id: PersonPrefs(user_id, "Europe/Berlin"),
    )
    assert [(send.recipient, send.slot) for send in result.due] == [("U0NEW", utc("2026-12-07 08:00"))]


def test_without_prefs_or_a_default_people_work_in_utc():
    result = run("2026-12-07 10:00", "2026-12-07 00:00", [item(1, "2026-12-07 03:00", "U0NEW")], people={})
    assert [send.slot for send in result.due] == [utc("2026-12-07 09:00")]  # heads-up at 09:00 UTC


def test_an_owner_listed_twice_gets_each_item_once():
    result = run("2026-12-07 10:00", "2026-12-07 09:30", [item(1, "2026-12-07 10:00", ANA, ANA)])
    assert [brief(send) for send in result.due] == [(DIGEST, ANA, "2026-12-07 10:00", (1,), {1: DUE})]


def test_an_overdue_rung_only_once_when_configured():
    config = LadderConfig(overdue_every_working_day=False)
    result = run("2026-12-10 20:00", "2026-12-01 00:00", [ROLLBACK], config=config)
    digests = sorted((send for send in result.due + result.missed if send.kind is DIGEST), key=by_slot)
    overdue = [brief(send)[2] for send in digests if OVERDUE in send.reasons.values()]
    assert overdue == ["2026-12-08 09:00"]


@pytest.mark.parametrize(
    ("days", "expected"), [(0, []), (1, ["2026-12-04 09:00"]), (3, ["2026-12-02 09:00"])]
)
def test_heads_up_working_days(days, expected):
    config = LadderConfig(heads_up_working_days=days)
    result = run("2026-12-07 09:59", "2026-11-30 00:00", [ROLLBACK], config=config)
    assert [brief(send)[2] for send in result.due + result.missed] == expected


def test_a_useful_window_shortens_how_late_a_rung_may_still_go_out():
    config = LadderConfig(useful_window=timedelta(hours=1))
    late = run("2026-12-07 11:30", "2026-12-07 09:30", [ROLLBACK], config=config)
    assert late.due == [] and [brief(send)[2] for send in late.missed] == ["2026-12-07 10:00"]
    on_time = run("2026-12-07 10:30", "2026-12-07 09:30", [ROLLBACK], config=config)
    assert on_time.due[0].expires_at == ny("2026-12-07 11:00")


def test_output_is_ordered_and_does_not_depend_on_input_order():
    items = [ROLLBACK, BACKUP, DOCS, item(4, "2026-12-09 15:00", BOB, ANA)]
    items.append(item(7, "2026-12-09 10:00", ANA, release=MOBILE))
    releases = [PAYMENTS, MOBILE]
    expected = run("2026-12-10 20:00", "2026-12-01 00:00", items, releases=releases)
    shuffler = random.Random(4)
    for _ in range(5):
        shuffler.shuffle(items)
        shuffler.shuffle(releases)
        assert run("2026-12-10 20:00", "2026-12-01 00:00", items, releases=releases) == expected
    rank = {kind: n for n, kind in enumerate(SendKind)}
    for sends in (expected.due, expected.missed):
        order = [(send.slot, rank[send.kind], send.recipient, send.release_id or 0) for send in sends]
        assert order == sorted(order)


def test_plan_rejects_naive_or_reversed_windows():
    with pytest.raises(ValueError, match="timezone-aware"):
        plan(datetime(2026, 12, 7, 10), ny("2026-12-07 09:00"), [], [], {})
    with pytest.raises(ValueError, match="after now"):
        plan(ny("2026-12-07 09:00"), ny("2026-12-07 10:00"), [], [], {})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"heads_up_working_days": -1},
        {"escalate_after_working_hours": 0},
        {"final_call_before": timedelta(0)},
        {"summary_offsets": (timedelta(hours=-1),)},
        {"useful_window": timedelta(0)},
    ],
)
def test_ladder_config_validation(kwargs):
    with pytest.raises(ValueError, match="must be"):
        LadderConfig(**kwargs)


def test_key_is_stable_and_bounded():
    send = Send(DIGEST, ANA, utc("2026-12-08 14:00"), None, (1,), {1: DUE}, utc("2026-12-09 14:00"))
    assert key(send) == "-:digest:U0ANA:2026-12-08T14:00:00+00:00"
    assert key(replace(send, release_id=0)) == "0:digest:U0ANA:2026-12-08T14:00:00+00:00"
    with pytest.raises(ValueError, match="200"):
        key(replace(send, recipient="U" * 200))


def test_a_person_with_an_unknown_zone_fails_where_they_are_read():
    with pytest.raises(Exception, match="time zone"):
        PersonPrefs(ANA, "Mars/Olympus_Mons")


# A slow, obvious reference for the ladder: every rung of every item, then the window. `plan` prunes and
# caches to stay linear; this checks that the pruning never drops or invents a send.

ZONES = ["America/New_York", "Europe/Berlin", "Pacific/Auckland", "Pacific/Kiritimati", "Pacific/Pago_Pago"]


def reference_keys(now, since, items, releases, people, config) -> set[str]:
    """The keys of every send with a slot in (since, now], computed the long way."""

    def window(slot: datetime) -> bool:
        return since < slot <= now

    keys = set()
    by_id = {release.release_id: release for release in releases}
    for it in items:
        release = by_id[it.release_id]
        for owner in it.owner_ids:
            prefs = people[owner]
            tz, hours = prefs.tz, prefs.hours
            due_slot = last_working_instant_at_or_before(it.due_at, tz, hours)
            slots = [working_day_start(due_slot, tz, hours, -config.heads_up_working_days), due_slot]
            rung = next_working_start_after(due_slot, tz, hours)
            while rung <= now:
                slots.append(rung)
                rung = next_working_start_after(rung, tz, hours)
            keys.update(f"-:digest:{owner}:{slot.isoformat()}" for slot in slots if window(slot))
        for manager in release.managers:
            prefs = people[manager]
            slot = add_working_hours(it.due_at, config.escalate_after_working_hours, prefs.tz, prefs.hours)
            if not is_working(slot, prefs.tz, prefs.hours):
                slot = next_working_start_after(slot, prefs.tz, prefs.hours)
            if window(slot):
                keys.add(f"{release.release_id}:escalation:{manager}:{slot.isoformat()}")
    return keys


DAY_SETS = [frozenset(range(5)), frozenset(range(7)), frozenset({0, 3}), frozenset({6})]


@st.composite
def prefs_for(draw, user_id: str) -> PersonPrefs:
    """Someone in one of ZONES with working hours on the half hour and one of DAY_SETS."""
    start = draw(st.integers(0, 45)) * 30
    end = min(draw(st.integers(start // 60 + 1, 24)) * 60, 23 * 60 + 59)
    hours = WorkingHours(time(*divmod(start, 60)), time(*divmod(end, 60)), draw(st.sampled_from(DAY_SETS)))
    return PersonPrefs(user_id, draw(st.sampled_from(ZONES)), hours)


@st.composite
def scenarios(draw):
    """Owners and a manager on both sides of the date line, items due over a month, a window in it."""
    base = utc("2026-10-20 00:00")  # spans the autumn DST changes in Berlin and New York
    people = {user_id: draw(prefs_for(user_id)) for user_id in ("U1", "U2", "U3")}
    release = ReleaseInfo(1, "R", "C1", base + timedelta(days=40), ("U3",), True)
    owners = st.lists(st.sampled_from(["U1", "U2"]), min_size=1, max_size=2, unique=True)
    items = [
        OpenItem(
            release_id=1,
            item_id=n,
            position=n,
            title="t",
            due_at=base + timedelta(minutes=draw(st.integers(0, 30 * 24 * 60))),
            state=ItemState.OPEN,
            owner_ids=tuple(draw(owners)),
            launch_at=release.launch_at,
        )
        for n in range(draw(st.integers(1, 6)))
    ]
    since = base + timedelta(minutes=draw(st.integers(0, 35 * 24 * 60)))
    now = since + timedelta(minutes=draw(st.sampled_from([1, 30, 600, 3000, 20000])))
    config = LadderConfig(
        heads_up_working_days=draw(st.integers(1, 3)),
        escalate_after_working_hours=draw(st.sampled_from([4, 24, 40.5])),
    )
    return now, since, items, [release], people, config


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_plan_matches_the_slow_reference(scenario):
    now, since, items, releases, people, config = scenario
    result = plan(now, since, items, releases, people, config)
    planned = {key(send) for send in result.due + result.missed if send.kind in (DIGEST, ESCALATION)}
    assert planned == reference_keys(now, since, items, releases, people, config)
