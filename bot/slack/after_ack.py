"""Work that runs after Slack has its acknowledgement: reactions and plain button clicks.

With `process_before_response=True` Bolt answers when the listener returns, so a listener that signs an item
off before returning makes Slack (and the person) wait for the transaction and the card update. Reactions and
clicks need no reply body, so they acknowledge at once and the work runs here. What the request would have
answered with goes to the person instead: a refusal as an ephemeral message, an unexpected error with a
reference id. A database that is briefly unavailable is retried for a few seconds rather than losing the
click; reactions that are still lost are caught up by the reconciler the next time the release is viewed.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.exc import OperationalError

from bot.domain.errors import UserError
from bot.slack import replies

log = logging.getLogger(__name__)

Answer = Callable[[str, list], object]  # (text, blocks): tell the person who acted
_RETRIES = (0.5, 1.0, 2.0, 4.0)  # seconds between attempts while the database is unreachable


class AfterAck:
    """A small pool for listener work that follows the acknowledgement; idle() tells when it is done."""

    def __init__(self, *, workers: int = 4, sleep: Callable[[float], None] = time.sleep) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="after-ack")
        self._sleep = sleep
        self._pending = 0
        self._queues: dict[Hashable, deque[tuple[Callable[[], object], Answer]]] = {}
        self._lock = threading.Lock()

    def submit(self, work: Callable[[], object], answer: Answer, *, key: Hashable | None = None) -> None:
        """Run `work` soon; its UserErrors and failures are told to the person through `answer`.

        Work with the same `key` (the message acted on) runs one at a time in the order it came, so a ✅
        and its removal, or a click and a reaction on the same item reply, are applied in order.
        """
        with self._lock:
            self._pending += 1
            if key is not None:
                if key in self._queues:
                    self._queues[key].append((work, answer))
                    return
                self._queues[key] = deque()
        self._pool.submit(self._drain, key, work, answer)

    def idle(self) -> bool:
        """Nothing queued or running."""
        return self.backlog() == 0

    def backlog(self) -> int:
        """Acknowledged work not finished yet, queued or running (a gauge in /metrics)."""
        with self._lock:
            return self._pending

    def close(self) -> None:
        """Finish what was accepted (it was acknowledged to Slack), then stop."""
        self._pool.shutdown(wait=True)

    def _drain(self, key: Hashable | None, work: Callable[[], object], answer: Answer) -> None:
        while True:
            self._run(work, answer)
            if key is None:
                return
            with self._lock:
                queue = self._queues[key]
                if not queue:
                    del self._queues[key]
                    return
                work, answer = queue.popleft()

    def _run(self, work: Callable[[], object], answer: Answer) -> None:
        try:
            self._attempt(work, answer)
        finally:
            with self._lock:
                self._pending -= 1

    def _attempt(self, work: Callable[[], object], answer: Answer) -> None:
        for attempt, pause in enumerate((*_RETRIES, None)):
            try:
                work()
                return
            except UserError as error:
                _tell(answer, *replies.error_reply(error.message, error.hint))
                return
            except OperationalError:
                if pause is None:
                    break
                log.warning("database unavailable after an acknowledged request; retry %d", attempt + 1)
                self._sleep(pause)
            except Exception:
                reference = secrets.token_hex(4)
                log.exception("unexpected error after the acknowledgement (reference %s)", reference)
                _tell(answer, *_went_wrong(reference))
                return
        reference = secrets.token_hex(4)
        log.error("database unavailable; an acknowledged request was not applied (reference %s)", reference)
        _tell(
            answer,
            *replies.error_reply(
                f"I couldn't save that: my database is unavailable (reference `{reference}`). "
                "Nothing was changed; please try again in a minute."
            ),
        )


def _went_wrong(reference: str) -> tuple[str, list]:
    return replies.error_reply(
        f"Something went wrong on my side (reference `{reference}`). Nothing was changed "
        "unless a message said so; please try again or tell your Release Captain operator."
    )


def _tell(answer: Answer, text: str, blocks: list) -> None:
    try:
        answer(text, blocks)
    except Exception:
        log.exception("could not tell the person about a failed request")
