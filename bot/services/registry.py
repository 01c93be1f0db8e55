"""The services the Slack layer calls, gathered once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from bot.domain.checklists import TemplateLibrary
from bot.ports import AfterAcknowledgement, Clock, Notices
from bot.services.announcements import AnnouncementService
from bot.services.card_sync import CardSync
from bot.services.decisions import DecisionService
from bot.services.deliveries import DeliveryService
from bot.services.exports import ExportService
from bot.services.home import HomeService
from bot.services.items import ItemService
from bot.services.prefs import PrefsService
from bot.services.reactions import ReactionService
from bot.services.reconcile import Reconciler
from bot.services.releases import ReleaseService
from bot.services.trains import TrainService


@dataclass(slots=True)
class Services:
    """Everything a listener may use; built by bot.wiring."""

    engine: Engine
    clock: Clock
    templates: TemplateLibrary
    releases: ReleaseService
    items: ItemService
    reactions: ReactionService
    reconciler: Reconciler
    card_sync: CardSync
    notices: Notices
    after_ack: AfterAcknowledgement
    deliveries: DeliveryService
    prefs: PrefsService
    home: HomeService
    announcements: AnnouncementService
    decisions: DecisionService
    exports: ExportService
    trains: TrainService
