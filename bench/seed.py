"""Databases with releases in them, made through the real wiring: the service for 18 items, rows for more."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import create_engine, text

from bench.common import CHANNEL, MANAGER, SIGNING_SECRET
from bot.config import load_settings
from bot.domain.model import OwnerKind
from bot.domain.permissions import Actor
from bot.domain.schedule import due_at
from bot.domain.when import parse_when
from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.workspace import TEAM_ID
from bot.services.context import RequestContext
from bot.wiring import Runtime, build
from storage import repo
from storage.db import normalise_url, unit_of_work
from storage.tables import ChecklistItem, Release

# Every item gets a user and a group owner, so a per-item owner query would show up in the count.
OWNERS = ((OwnerKind.USER.value, "UANA00001"), (OwnerKind.GROUP.value, "S0QA00001"))


def context(channel_id: str = CHANNEL) -> RequestContext:
    """The release manager asking from a channel, as the slash command listener builds it."""
    return RequestContext(actor=Actor(MANAGER, TEAM_ID), channel_id=channel_id)


def runtime(database_url: str, emulator: SlackEmulator) -> Runtime:
    """The same assembly `serve` uses, migrated, without starting the card worker (no background SQL)."""
    settings = load_settings(
        database_url=database_url,
        slack_bot_token=emulator.workspace.bot_token,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=emulator.api_url,
    )
    return build(settings)


def create_release(rt: Runtime, name: str, channel_id: str = CHANNEL) -> int:
    """An 18-item release from the built-in go-live template, created as `/release new` would, with owners."""
    view = rt.services.releases.create(
        context(channel_id), name=name, when=parse_when("+14d"), channel_id=None, template=None
    )
    _own_every_item(rt, view.id)
    return view.id


def insert_release(
    rt: Runtime, name: str, channel_id: str, items: int, *, owned: bool = True, evidence: bool = True
) -> int:
    """A release of any size, inserted as rows: the go-live template's items repeated to `items`.

    `owned=False` leaves items without owners (the manager signs off alone); `evidence=False` lets every
    item be signed off without evidence, so a reaction or a button click always takes the sign-off path.
    """
    template = rt.services.templates.get("go-live")
    now = rt.services.clock.now()
    launch = now + timedelta(days=30)
    release = Release(
        name=name,
        name_key=name.casefold(),
        channel_id=channel_id,
        launch_at=launch,
        timezone="UTC",
        template=template.name,
        created_by=MANAGER,
        created_at=now,
        updated_at=now,
    )
    rows = []
    for position in range(1, items + 1):
        spec = template.items[(position - 1) % len(template.items)]
        rows.append(
            ChecklistItem(
                release_id=0,
                position=position,
                key=f"{spec.key}-{position}",
                section=spec.section,
                title=spec.title,
                description=spec.description,
                offset_seconds=int(spec.offset.total_seconds()),
                due_at=due_at(launch, spec.offset, "UTC"),
                evidence_required=spec.evidence_required and evidence,
                role=spec.role,
                sign_off_rule=spec.sign_off.value,
                updated_at=now,
            )
        )
    with unit_of_work(rt.engine) as session:
        repo.add_release(session=session, release=release, managers=[MANAGER], items=rows)
        release_id = release.id
    assert release_id is not None
    if owned:
        _own_every_item(rt, release_id)
    return release_id


def _own_every_item(rt: Runtime, release_id: int) -> None:
    with unit_of_work(rt.engine) as session:
        for item in repo.items_of(session=session, release_id=release_id):
            assert item.id is not None
            repo.add_owners(session=session, item_id=item.id, owners=OWNERS)


def postgres_unreachable(admin_url: str) -> str | None:
    """Why PostgreSQL cannot be used (None when it answers)."""
    admin = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return f"PostgreSQL unreachable at {admin_url} ({type(exc).__name__}); set BENCH_POSTGRES_URL"
    finally:
        admin.dispose()
    return None


@contextmanager
def throwaway_postgres(admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one figure, dropped (connections and all) afterwards."""
    name = f"rc_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        base, _, _ = admin_url.rpartition("/")
        try:
            yield f"{base}/{name}"
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
