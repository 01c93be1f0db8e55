"""The services the Slack layer calls, gathered once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from bot.domain.checklists import TemplateLibrary
from bot.ports import Clock, Notices
from bot.services.card_sync import CardSync
from bot.services.deliveries import DeliveryService
from bot.services.items import ItemService
from bot.services.prefs import PrefsService
from bot.services.reactions import ReactionService
from bot.services.reconcile import Reconciler
from bot.services.releases import ReleaseService


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
    deliveries: DeliveryService
    prefs: PrefsService
