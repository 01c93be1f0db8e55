"""views.open / views.push / views.update / views.publish against `Workspace.views`."""

from __future__ import annotations

import copy
import itertools
import secrets
import time
from typing import Any

from bot.sandbox.apierror import ApiError
from bot.sandbox.blockkit import view_errors
from bot.sandbox.workspace import Workspace

PUSH_LIMIT = 3  # Slack allows a stack of three modals


def _new_hash() -> str:
    """A view hash in Slack's "1596530361.3wRYuk3R" shape."""
    return f"{int(time.time())}.{secrets.token_urlsafe(6)}"


class ViewsApi:
    """Modal stacks per user, Home tabs per user, and the trigger ids that open modals."""

    def __init__(self, workspace: Workspace) -> None:
        self.ws = workspace
        self.expired_triggers: set[str] = set()
        self.trigger_users: dict[str, str] = {}
        self._view_ids = itertools.count(1)

    def new_trigger_id(self, user_id: str | None = None) -> str:
        """A fresh trigger id; remembering its user lets views.open know whose modal it is."""
        trigger = f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"
        if user_id:
            self.trigger_users[trigger] = user_id
        return trigger

    def _trigger_user(self, args: dict[str, Any]) -> str:
        """Check the trigger id; returns its user ("" when the trigger was not minted here)."""
        trigger = str(args.get("trigger_id") or args.get("interactivity_pointer") or "")
        if not trigger:
            raise ApiError("invalid_arguments", ["invalid `trigger_id`"])
        if trigger in self.expired_triggers:
            raise ApiError("expired_trigger_id")
        return self.trigger_users.get(trigger, "")

    @staticmethod
    def _valid_view(args: dict[str, Any], view_type: str | None = None) -> dict[str, Any]:
        """The decoded view, or `invalid_arguments` with Slack-style messages."""
        view = args.get("view")
        if errors := view_errors(view):
            raise ApiError("invalid_arguments", errors)
        if view_type and view["type"] != view_type:
            raise ApiError(
                "invalid_arguments", [f"[ERROR] view type must be {view_type} [json-pointer:/view/type]"]
            )
        return copy.deepcopy(view)

    def _save(
        self,
        view: dict[str, Any],
        *,
        view_id: str | None = None,
        root: str | None = None,
        previous: str | None = None,
    ) -> dict[str, Any]:
        """Store a view with the server-side fields Slack adds; returns a copy for the response."""
        view_id = view_id or f"V{next(self._view_ids):010d}"
        stored = {
            "close": None,
            "submit": None,
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            "clear_on_close": False,
            "notify_on_close": False,
            **view,
            "id": view_id,
            "team_id": self.ws.team_id,
            "state": {"values": {}},
            "hash": _new_hash(),
            "root_view_id": root or view_id,
            "previous_view_id": previous,
            "app_id": self.ws.app_id,
            "app_installed_team_id": self.ws.team_id,
            "bot_id": self.ws.bot_id,
        }
        self._check_external_id(stored)
        self.ws.views[view_id] = stored
        return copy.deepcopy(stored)

    def _check_external_id(self, view: dict[str, Any]) -> None:
        """External ids are unique per workspace."""
        external_id = view.get("external_id")
        if external_id and any(
            v["external_id"] == external_id and v["id"] != view["id"] for v in self.ws.views.values()
        ):
            raise ApiError("duplicate_external_id")

    def _find_view(self, args: dict[str, Any]) -> dict[str, Any]:
        """The stored view named by `view_id` or `external_id`."""
        view_id, external_id = args.get("view_id"), args.get("external_id")
        for view in self.ws.views.values():
            if (view_id and view["id"] == view_id) or (external_id and view["external_id"] == external_id):
                return view
        raise ApiError("not_found")

    def api_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        """Open a modal; it becomes the root of the user's modal stack."""
        user = self._trigger_user(args)
        stored = self._save(self._valid_view(args, "modal"))
        self.ws.modal_stacks[user] = [stored["id"]]
        return {"view": stored}

    def api_views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        """Push a modal on top of the user's open one."""
        user = self._trigger_user(args)
        view = self._valid_view(args, "modal")
        stack = self.ws.modal_stacks.get(user) or []
        if not stack:
            raise ApiError("not_found")
        if len(stack) >= PUSH_LIMIT:
            raise ApiError("push_limit_reached")
        stored = self._save(view, root=stack[0], previous=stack[-1])
        stack.append(stored["id"])
        return {"view": stored}

    def api_views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        """Replace a view in place; a stale `hash` is a conflict."""
        current = self._find_view(args)
        if args.get("hash") and args["hash"] != current["hash"]:
            raise ApiError("hash_conflict")
        view = self._valid_view(args, current["type"])
        stored = self._save(
            view, view_id=current["id"], root=current["root_view_id"], previous=current["previous_view_id"]
        )
        if current["type"] == "home":
            user = next(u for u, v in self.ws.home_views.items() if v["id"] == current["id"])
            self.ws.home_views[user] = self.ws.views[current["id"]]
        return {"view": stored}

    def api_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        """Publish a user's Home tab."""
        user_id = str(args.get("user_id") or "")
        if user_id not in self.ws.users:
            raise ApiError("invalid_arguments", ["invalid `user_id`"])
        view = self._valid_view(args, "home")
        current = self.ws.home_views.get(user_id)
        if current and args.get("hash") and args["hash"] != current["hash"]:
            raise ApiError("hash_conflict")
        stored = self._save(view, view_id=current["id"] if current else None)
        self.ws.home_views[user_id] = self.ws.views[stored["id"]]
        return {"view": stored}
