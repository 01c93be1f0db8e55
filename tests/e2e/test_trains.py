"""Release trains end to end: the real app over HTTP against the emulator, with the sandbox's clock.

A train creates each release two weeks ahead of its launch and posts its card; the next release copies
owners, roles and settings from the one before; skip and stop work and are kept to the train's creator
or an admin; impossible rules and other bad requests are refused and change nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, func, select

from bot.config import load_settings
from bot.sandbox.local import LocalSandbox
from bot.sandbox.workspace import Message
from storage.db import unit_of_work
from storage.tables import AuditEvent, ChecklistItem, ItemOwner, Release, ReleaseRole, Train

MAYA, ANA, LEE, RAVI = "UMAYA0001", "UANA00001", "ULEE00001", "URAVI0001"
RELEASES = "CRELEASES"
BERLIN = ZoneInfo("Europe/Berlin")  # Maya's zone: her trains run on Berlin time
MOBILE = 'train "Mobile" every 2 weeks on thu 14:00'


@pytest.fixture
def sandbox(tmp_path, monkeypatch) -> Iterator[LocalSandbox]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ADMIN_USERS", RAVI)
    with LocalSandbox(load_settings(_env_file=None)) as box:
        yield box
    # A train that failed to create a release logs an error: none of these tests expects one.
    assert box.kept_log is None, box.kept_log.read_text()[-3000:]


def next_thursday_14(now: datetime) -> datetime:
    """The first Thursday 14:00, Berlin time, after now: the first launch of the Mobile train."""
    local = now.astimezone(BERLIN)
    day = local.date() + timedelta(days=(3 - local.weekday()) % 7)
    launch = datetime(day.year, day.month, day.day, 14, 0, tzinfo=BERLIN)
    return launch if launch > now else launch + timedelta(days=7)


def release_name(launch: datetime) -> str:
    return f"Mobile {launch.astimezone(BERLIN).date().isoformat()}"


def ok(delivery: Any) -> str:
    assert delivery.status == 200, delivery.body
    text = json.dumps(delivery.body, ensure_ascii=False)
    assert "⚠️" not in text, text
    return text


def refused(delivery: Any) -> str:
    assert delivery.status == 200, delivery.body
    text = json.dumps(delivery.body, ensure_ascii=False)
    assert "⚠️" in text, text
    return text


def jump(sandbox: LocalSandbox, at: datetime) -> None:
    """Move the clock and run one scheduler pass there, as a replica ticking after a pause would."""
    sandbox.clock.set(at)
    sandbox.run_due_work()


def train_releases(sandbox: LocalSandbox) -> list[Release]:
    with unit_of_work(sandbox.runtime.engine, write=False) as session:
        stmt = select(Release).where(col(Release.train_id).is_not(None)).order_by(col(Release.launch_at))
        return list(session.exec(stmt))


def trains(sandbox: LocalSandbox) -> list[Train]:
    with unit_of_work(sandbox.runtime.engine, write=False) as session:
        return list(session.exec(select(Train).order_by(col(Train.id))))


def cards(sandbox: LocalSandbox, name: str) -> list[Message]:
    """The release cards in the channel that name the release."""
    bot = sandbox.workspace.bot_user_id
    return [
        m for m in sandbox.workspace.messages(RELEASES) if m.user == bot and not m.is_reply and name in m.text
    ]


def counts(sandbox: LocalSandbox) -> tuple[int, int, int]:
    """Trains, releases and audit rows: what a refused request must leave as it was."""
    with unit_of_work(sandbox.runtime.engine, write=False) as session:
        return tuple(  # type: ignore[return-value]
            session.exec(select(func.count()).select_from(table)).one()
            for table in (Train, Release, AuditEvent)
        )


def test_train_creates_each_release_ahead_and_the_next_copies_the_one_before(sandbox: LocalSandbox) -> None:
    first = next_thursday_14(sandbox.clock.now())
    second = first + timedelta(days=14)

    reply = ok(sandbox.command(MAYA, RELEASES, MOBILE))
    assert "Started the train *Mobile*" in reply and "every 2 weeks on Thursday at 14:00" in reply
    assert f"<!date^{int(second.timestamp())}^" in reply  # the next launches are listed
    sandbox.settle()
    # The first launch is less than two weeks away: its release exists at once, card and all.
    [release] = train_releases(sandbox)
    assert (release.name, release.launch_at, release.created_by) == (release_name(first), first, MAYA)
    assert len(cards(sandbox, release_name(first))) == 1

    # Maya sets up the first release as the team works.
    ok(sandbox.command(MAYA, RELEASES, "assign 1 @ana"))
    ok(sandbox.command(MAYA, RELEASES, "deciders @lee"))
    ok(sandbox.command(MAYA, RELEASES, "set final-call 3h"))

    sandbox.set_time(first - timedelta(minutes=30))
    assert len(train_releases(sandbox)) == 1  # the next one's window opens at the first launch
    sandbox.set_time(first + timedelta(minutes=30))
    names = [r.name for r in train_releases(sandbox)]
    assert names == [release_name(first), release_name(second)]
    assert len(cards(sandbox, release_name(second))) == 1

    with unit_of_work(sandbox.runtime.engine, write=False) as session:
        later = session.exec(select(Release).where(Release.name == release_name(second))).one()
        assert (later.launch_at, later.final_call_seconds, later.created_by) == (second, 3 * 3600, MAYA)
        deciders = session.exec(
            select(ReleaseRole.user_id).where(
                ReleaseRole.release_id == later.id, ReleaseRole.role == "decider"
            )
        ).all()
        owners = session.exec(
            select(ItemOwner.slack_id)
            .join(ChecklistItem, col(ChecklistItem.id) == ItemOwner.item_id)
            .where(ChecklistItem.release_id == later.id, ChecklistItem.position == 1)
        ).all()
    assert list(deciders) == [LEE] and list(owners) == [ANA]

    # More passes at the same moment, and a restart's worth of repeats, create nothing more.
    sandbox.run_due_work()
    sandbox.run_due_work()
    assert len(train_releases(sandbox)) == 2


def test_skip_leaves_out_a_launch_and_stop_ends_the_train(sandbox: LocalSandbox) -> None:
    first = next_thursday_14(sandbox.clock.now())
    second, third, fourth = (first + timedelta(days=14 * k) for k in (1, 2, 3))
    ok(sandbox.command(MAYA, RELEASES, MOBILE))

    # The next launch already has its release: the skip takes the one after and says how to drop that one.
    reply = ok(sandbox.command(MAYA, RELEASES, 'train skip "Mobile"'))
    assert f"<!date^{int(second.timestamp())}^" in reply.split("will not launch")[1].split(";")[0]
    assert release_name(first) in reply and "/release cancel" in reply

    # Lee did not start the train: he may neither skip nor stop it, and the refusal is on record.
    before = [(t.active, t.skip) for t in trains(sandbox)]
    assert "Only <@UMAYA0001>" in refused(sandbox.command(LEE, RELEASES, 'train stop "Mobile"'))
    assert "Only <@UMAYA0001>" in refused(sandbox.command(LEE, RELEASES, 'train skip "mobile"'))
    assert [(t.active, t.skip) for t in trains(sandbox)] == before
    with unit_of_work(sandbox.runtime.engine, write=False) as session:
        denied = session.exec(select(AuditEvent).where(AuditEvent.outcome == "denied")).all()
    assert [(e.actor, e.action, e.release_id) for e in denied] == [
        (LEE, "train stop", None),
        (LEE, "train skip", None),
    ]

    listing = ok(sandbox.command(LEE, RELEASES, "train list"))
    assert "*Mobile*" in listing and f"skipping <!date^{int(second.timestamp())}^" in listing

    jump(sandbox, first + timedelta(minutes=1))  # the skipped launch's window opens: nothing is created
    assert [r.name for r in train_releases(sandbox)] == [release_name(first)]
    jump(sandbox, second + timedelta(minutes=1))  # the launch after it is created on time
    assert [r.name for r in train_releases(sandbox)] == [release_name(first), release_name(third)]

    # An admin may stop anyone's train; afterwards it creates nothing and is no longer listed.
    assert "Stopped the train *Mobile*" in ok(sandbox.command(RAVI, RELEASES, 'train stop "Mobile"'))
    jump(sandbox, third + timedelta(minutes=1))
    assert release_name(fourth) not in [r.name for r in train_releases(sandbox)]
    assert "No trains run in this channel" in ok(sandbox.command(MAYA, RELEASES, "train list"))
    # Its name is free again.
    ok(sandbox.command(MAYA, RELEASES, 'train "Mobile" every week on fri 10:00'))


def test_a_lead_sets_how_far_ahead_releases_are_created_and_how_many_run_at_once(
    sandbox: LocalSandbox,
) -> None:
    # Daily with the default lead: fourteen releases at a time, and the reply says so.
    reply = ok(sandbox.command(MAYA, RELEASES, 'train "Nightly" every day at 09:00'))
    assert "about 14 of *Nightly*'s will be open at a time" in reply and "lead 3 days" in reply
    ok(sandbox.command(MAYA, RELEASES, 'train stop "Nightly"'))

    # With `lead 2 days`, only the launches in the next two days have releases, however often it ticks.
    now = sandbox.clock.now()
    reply = ok(sandbox.command(MAYA, RELEASES, 'train "Daily" every day at 09:00 lead 2 days'))
    assert "about 2 of *Daily*'s will be open at a time" in reply
    assert [t.lead_days for t in trains(sandbox) if t.name == "Daily"] == [2]
    sandbox.run_due_work()
    sandbox.run_due_work()
    daily = [r for r in train_releases(sandbox) if r.name.startswith("Daily ")]
    assert len(daily) == 2
    assert all(now < r.launch_at <= now + timedelta(days=2) for r in daily)
    listing = ok(sandbox.command(MAYA, RELEASES, "train list"))
    assert "*Daily*" in listing and "created 2 days ahead" in listing

    # A fortnightly train with the default lead runs one release at a time: no warning.
    reply = ok(sandbox.command(MAYA, RELEASES, MOBILE))
    assert "open at a time" not in reply


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ('train "Mobile" every 2 weeks on thu 14:00 lead 90 days', "1 to 60 days, not 90"),
        ('train "Mobile" every 2 weeks on thu 14:00 lead soon', "How long before each launch"),
        ('train "Mobile" every 0 weeks on thu 14:00', "count from 1"),
        ('train "Mobile" every 53 weeks on thu 14:00', "at least once every 52 weeks"),
        ('train "Mobile" every 2 weeks on funday 14:00', 'I don\'t know the day \\"funday\\"'),
        ('train "Mobile" every 2 weeks 14:00', "Which day of the week"),
        ('train "Mobile" every 2 weeks on thu 25:00', "isn't a time on the clock"),
        ('train "Mobile" every 2 weeks on thu', "At what time"),
        ('train "Mobile" every 3 days on thu 14:00', "can't also name a weekday"),
        ('train "Mobile" monthly on thu 14:00', 'Start the schedule with \\"every\\"'),
        ('train "Mobile" every 2 weeks on thu 14:00 template nonesuch', "no checklist template"),
    ],
)
def test_impossible_rules_are_refused_and_change_nothing(
    sandbox: LocalSandbox, typed: str, says: str
) -> None:
    before = counts(sandbox)
    reply = refused(sandbox.command(MAYA, RELEASES, typed))
    assert says in reply
    sandbox.run_due_work()
    assert counts(sandbox) == before


def test_duplicates_unknown_trains_and_unpostable_channels_are_refused(sandbox: LocalSandbox) -> None:
    ok(sandbox.command(MAYA, RELEASES, MOBILE))
    before = counts(sandbox)
    assert "already a train called Mobile" in refused(
        sandbox.command(LEE, RELEASES, 'train "MOBILE" every week on mon 09:00')
    )
    assert "no running train called Web" in refused(sandbox.command(MAYA, RELEASES, 'train skip "Web"'))
    # The bot is not in #random: a train there could never post its releases.
    assert "I'm not in <#CRANDOM1>" in refused(sandbox.command(MAYA, "CRANDOM1", MOBILE))
    # Names are echoed escaped.
    assert "a &lt;b&gt;" in refused(sandbox.command(MAYA, RELEASES, 'train stop "a <b>"'))
    assert counts(sandbox) == before
