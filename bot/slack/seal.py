"""Sealed values for buttons and private_metadata: Slack echoes them back, and we can tell if they changed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from bot.domain.errors import InvalidInput

_SIG_CHARS = 32  # 128 bits of HMAC-SHA256: plenty, and keeps values short


class Sealer:
    """Signs small JSON payloads with a server-side key."""

    def __init__(self, key: str) -> None:
        self._key = hashlib.sha256(("release-captain-seal:" + key).encode()).digest()

    def seal(self, payload: dict[str, Any]) -> str:
        """`payload` as a compact, signed string."""
        body = (
            base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
        )
        return f"{body}.{self._sign(body)}"

    def unseal(self, value: str | None) -> dict[str, Any]:
        """The payload, or a friendly error when the value was altered or is not ours."""
        body, _, signature = (value or "").partition(".")
        if not body or not hmac.compare_digest(signature, self._sign(body)):
            raise InvalidInput(
                "That button or form is not one I made, or it was changed. Please use a fresh one."
            )
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        if not isinstance(data, dict):
            raise InvalidInput("That button or form is not one I made. Please use a fresh one.")
        return data

    def _sign(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()[:_SIG_CHARS]
