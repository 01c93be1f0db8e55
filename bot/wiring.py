"""Assemble the running system from Settings: database, templates, Slack clients, services, Bolt app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from sqlalchemy import Engine

from bot.app import create_app, make_sealer
from bot.card_worker import CardWorker
from bot.config import Settings
from bot.domain.checklists import TemplateLibrary, builtin_templates_dir
from bot.ports import Clock, SystemClock
from bot.scheduler import Ticker
from bot.services.base import Deps
from bot.services.card_sync import CardSync
from bot.services.deliveries import DeliveryService
from bot.services.items import ItemService
from bot.services.people import People
from bot.services.prefs import PrefsService
from bot.services.reactions import ReactionService
from bot.services.reconcile import Reconciler
from bot.services.registry import Services
from bot.services.releases import ReleaseService
from bot.slack.directory import SlackDirectory
from bot.slack.messenger import SlackMessenger
from bot.slack.notices import Notices
from bot.slack.publisher import SlackCardPublisher
from storage.db import make_engine
from storage.migrate import upgrade

# Lookups happen while a person waits for the ack (3 s in all), so they fail fast and never sleep on 429.
_LOOKUP_TIMEOUT = 2
# Publishing happens in the background, so it may wait out rate limits and retry server errors.
_PUBLISH_TIMEOUT = 10


@dataclass(slots=True)
class Runtime:
    """The assembled process: what serve, tick and the sandbox start and stop."""

    settings: Settings
    engine: Engine
    services: Services
    worker: CardWorker
    bolt: App
    ticker: Ticker

    def start(self, *, tick: bool = False) -> None:
        """Start background work; `tick` adds the delivery ticker (serve ticks; the sandbox moves time)."""
        self.worker.start()
        if tick:
            self.ticker.start()

    def stop(self) -> None:
        """Stop background work and close the database pool."""
        self.ticker.stop()
        self.worker.stop()
        self.services.notices.close()
        self.services.reconciler.close()
        self.engine.dispose()


def load_templates(settings: Settings) -> TemplateLibrary:
    """Built-in checklist templates plus TEMPLATES_DIR."""
    return TemplateLibrary.from_dirs(builtin_templates_dir(), settings.templates_dir)


def build(settings: Settings, *, clock: Clock | None = None, migrate: bool = True) -> Runtime:
    """Everything `serve` needs, migrations applied."""
    clock = clock or SystemClock()
    engine = make_engine(settings.database_url)
    if migrate:
        upgrade(engine)
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    lookup_client = WebClient(token=token, base_url=settings.slack_api_url, timeout=_LOOKUP_TIMEOUT)
    publish_client = WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=_PUBLISH_TIMEOUT,
        # 429s are waited out (Retry-After) without counting as failures. Nothing else is retried by the
        # client: a 5xx or a reset connection may hide a post that happened, and only our own look-first
        # logic (message metadata) can tell; a blind retry would post twice.
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=10)],
    )
    card_sync = CardSync(
        engine=engine, publisher=SlackCardPublisher(publish_client, make_sealer(settings)), clock=clock
    )
    worker = CardWorker(card_sync, sweep_seconds=settings.card_sweep_seconds)
    templates = load_templates(settings)
    directory = SlackDirectory(lookup_client)
    deps = Deps(
        engine=engine,
        directory=directory,
        cards=worker,
        clock=clock,
        people=People(engine=engine, directory=directory, clock=clock, default_tz=settings.default_timezone),
        admins=frozenset(settings.admin_users),
    )
    items = ItemService(deps)
    services = Services(
        engine=engine,
        clock=clock,
        templates=templates,
        releases=ReleaseService(deps, templates=templates),
        items=items,
        reactions=ReactionService(
            items, engine=engine, sign_off_emoji=settings.sign_off_emoji, block_emoji=settings.block_emoji
        ),
        reconciler=Reconciler(
            items,
            engine=engine,
            reader=SlackDirectory(publish_client),
            sign_off_emoji=settings.sign_off_emoji,
        ),
        card_sync=card_sync,
        notices=Notices(publish_client),
        prefs=PrefsService(deps),
        deliveries=DeliveryService(
            engine=engine,
            clock=clock,
            directory=directory,
            messenger=SlackMessenger(
                publish_client, sealer=make_sealer(settings), pace=settings.channel_pace_seconds
            ),
            default_tz=settings.default_timezone,
            lease=timedelta(seconds=settings.delivery_lease_seconds),
        ),
    )
    bolt = create_app(settings, services, lookup_client)
    ticker = Ticker(services.deliveries.run_due, seconds=settings.tick_seconds)
    return Runtime(
        settings=settings, engine=engine, services=services, worker=worker, bolt=bolt, ticker=ticker
    )
