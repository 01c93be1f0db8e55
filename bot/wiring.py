"""Assemble the running system from Settings: database, templates, Slack clients, services, Bolt app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from sqlalchemy import Engine

from bot.app import create_app, make_sealer
from bot.card_worker import CardWorker
from bot.config import Settings
from bot.domain.checklists import TemplateLibrary, builtin_templates_dir
from bot.home_worker import HomeWorker
from bot.lanes import Lanes
from bot.observability import ContextualMessenger, ObservedWebClient, Telemetry, observe_listener_clients
from bot.ports import Clock, SystemClock
from bot.scheduler import Ticker
from bot.services.announcements import AnnouncementService
from bot.services.base import Deps
from bot.services.card_sync import CardSync
from bot.services.decisions import DecisionService
from bot.services.deliveries import DeliveryService
from bot.services.exports import ExportService
from bot.services.home import HomeService
from bot.services.items import ItemService
from bot.services.people import People
from bot.services.prefs import PrefsService
from bot.services.reactions import ReactionService
from bot.services.reconcile import Reconciler
from bot.services.registry import Services
from bot.services.releases import ReleaseService
from bot.services.trains import TrainService
from bot.slack.after_ack import AfterAck
from bot.slack.directory import SlackDirectory
from bot.slack.home import HomePublisher
from bot.slack.messenger import SlackMessenger
from bot.slack.notices import Notices
from bot.slack.publisher import SlackCardPublisher
from bot.slack.uploads import SlackFileDrops
from bot.templating.announcements import AnnouncementTemplates, builtin_dir
from storage.db import make_engine
from storage.migrate import upgrade
from storage.retention import purge_if_due

# Lookups happen while a person waits for the ack (3 s in all), so they fail fast and never sleep on 429.
_LOOKUP_TIMEOUT = 2
# Publishing happens in the background, so it may wait out rate limits and retry server errors.
_PUBLISH_TIMEOUT = 10
# How often serve checks whether the daily retention purge is due (the database mark makes it daily).
_RETENTION_CHECK_SECONDS = 3600


@dataclass(slots=True)
class Runtime:
    """The assembled process: what serve, tick and the sandbox start and stop."""

    settings: Settings
    engine: Engine
    services: Services
    worker: CardWorker
    bolt: App
    ticker: Ticker
    telemetry: Telemetry
    lanes: Lanes  # how many Slack requests run at once (bot/lanes.py)
    home_worker: HomeWorker | None = None  # keeps App Home current

    def start(self, *, tick: bool = False, sweep: bool = True) -> None:
        """Start background work; `tick` adds the delivery ticker (serve ticks; the sandbox moves time).

        `sweep=False`: the card worker publishes only the releases this process changed, and leaves the
        periodic search for other changes to another process (serve's sign-off process does).
        """
        self.worker.start(sweep=sweep)
        if self.home_worker is not None:
            self.home_worker.start()
        if tick:
            self.ticker.start()

    def stop(self) -> None:
        """Stop background work and close the database pool."""
        self.ticker.stop()
        self.worker.stop()
        if self.home_worker is not None:
            self.home_worker.stop()
        self.services.exports.close()  # before the database closes: an export being built still reads it
        self.services.after_ack.close()
        self.services.notices.close()
        self.services.reconciler.close()
        self.lanes.close()  # after the workers: no request thread is left to use the database
        self.engine.dispose()


def make_bolt(
    settings: Settings,
    services: Services,
    client: WebClient,
    telemetry: Telemetry,
    *,
    lanes: Lanes | None = None,
    verified_upstream: bool = False,
) -> App:
    """The Bolt app with its listeners' Slack calls counted; `verified_upstream` as in `create_app`.

    `lanes`: the listeners' Slack calls step out of the request's lane while Slack answers.
    """
    bolt = create_app(settings, services, client, verified_upstream=verified_upstream)
    observe_listener_clients(bolt, telemetry, lanes)
    return bolt


def load_templates(settings: Settings) -> TemplateLibrary:
    """Built-in checklist templates plus TEMPLATES_DIR."""
    return TemplateLibrary.from_dirs(builtin_templates_dir(), settings.templates_dir)


def load_announcement_templates(settings: Settings) -> AnnouncementTemplates:
    """Built-in announcement templates, overridden by TEMPLATES_DIR/announcements/ when it exists."""
    override = settings.templates_dir / "announcements" if settings.templates_dir else None
    if override is not None and not override.is_dir():
        override = None
    return AnnouncementTemplates.from_dirs(builtin_dir(), override)


def build(settings: Settings, *, clock: Clock | None = None, migrate: bool = True) -> Runtime:
    """Everything `serve` needs, migrations applied."""
    clock = clock or SystemClock()
    engine = make_engine(settings.database_url)
    if migrate:
        upgrade(engine)
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    telemetry = Telemetry(engine)
    lanes = Lanes(settings.request_lanes)
    lookup_client = ObservedWebClient(
        telemetry, lanes=lanes, token=token, base_url=settings.slack_api_url, timeout=_LOOKUP_TIMEOUT
    )
    publish_client = ObservedWebClient(
        telemetry,
        lanes=lanes,
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
    prefs = PrefsService(deps)
    announcements = AnnouncementService(deps, templates=load_announcement_templates(settings))
    decisions = DecisionService(deps, announcements=announcements)
    # App Home: the worker publishes through the service, and the service asks the worker for refreshes.
    home_worker = HomeWorker(
        publish=lambda user_id: home_publisher.publish(user_id),
        audience=lambda release_id: home.audience(release_id),
    )
    home = HomeService(deps, prefs, refreshes=home_worker)
    home_publisher = HomePublisher(publish_client, make_sealer(settings), home)
    card_sync.on_published = home_worker.release_changed  # a re-published card: refresh whom it concerns
    releases = ReleaseService(deps, templates=templates, announcements=announcements)
    trains = TrainService(deps, templates=templates, releases=releases)
    services = Services(
        engine=engine,
        clock=clock,
        templates=templates,
        releases=releases,
        trains=trains,
        announcements=announcements,
        decisions=decisions,
        exports=ExportService(deps, files=SlackFileDrops(publish_client)),
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
        after_ack=AfterAck(),
        prefs=prefs,
        home=home,
        deliveries=DeliveryService(
            engine=engine,
            clock=clock,
            directory=directory,
            messenger=ContextualMessenger(
                SlackMessenger(
                    publish_client, sealer=make_sealer(settings), pace=settings.channel_pace_seconds
                )
            ),
            default_tz=settings.default_timezone,
            lease=timedelta(seconds=settings.delivery_lease_seconds),
            # Trains first: a release they create gets its announcements planned in the same pass.
            extensions=(trains, announcements, decisions),
        ),
    )
    # A person's approval or decision makes a send due now: it goes out without waiting for the next tick.
    announcements.kick = services.deliveries.kick
    bolt = make_bolt(settings, services, lookup_client, telemetry, lanes=lanes)
    # What was acknowledged but is still to be done: a queue that only grows means the process can't keep up.
    telemetry.watch_backlog("after_ack", services.after_ack.backlog)
    telemetry.watch_backlog("notices", services.notices.backlog)
    telemetry.watch_backlog("cards", worker.backlog)
    telemetry.watch_backlog("home", home_worker.backlog)
    telemetry.watch_backlog("exports", services.exports.backlog)
    ticker = Ticker(telemetry.timed_tick(services.deliveries.run_due), seconds=settings.tick_seconds)
    if settings.retention_days:
        ticker.also(
            partial(purge_if_due, engine, days=settings.retention_days),
            seconds=_RETENTION_CHECK_SECONDS,
            name="retention",
        )
    return Runtime(
        settings=settings,
        engine=engine,
        services=services,
        worker=worker,
        bolt=bolt,
        ticker=ticker,
        telemetry=telemetry,
        lanes=lanes,
        home_worker=home_worker,
    )
