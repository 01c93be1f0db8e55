"""Files for one person, uploaded to their DM with the bot after Slack has the command's acknowledgement."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from concurrent.futures import Future

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.domain.errors import UserError
from bot.ports import OutgoingFile, UploadFailed
from bot.slack.counted_pool import CountedPool

log = logging.getLogger(__name__)


class SlackFileDrops:
    """The Slack side of the FileDrops port: builds files on a small pool and uploads them with files.*."""

    def __init__(self, client: WebClient, *, workers: int = 1) -> None:
        self._client = client
        # One worker: exports are rare and can be large; one at a time bounds the memory they take.
        self._pool = CountedPool(workers, "uploads")

    def send_dm(
        self, user_id: str, make: Callable[[], OutgoingFile], *, reply_channel: str
    ) -> Future[str | None]:
        """Make the file and upload it to the person's DM (its file id, or None: they were told why)."""
        return self._pool.submit(self._deliver, user_id, make, reply_channel)

    def backlog(self) -> int:
        """Files asked for and not delivered (or explained) yet: a gauge in /metrics, and what the sandbox
        waits for before it calls an action done."""
        return self._pool.backlog()

    def upload(self, user_id: str, file: OutgoingFile) -> str:
        """Upload one file to the bot's DM with the person; its Slack file id. Raises UploadFailed."""
        try:
            # files.completeUploadExternal takes a D… id only, never a user id.
            dm = self._client.conversations_open(users=user_id)["channel"]["id"]
            done = self._client.files_upload_v2(
                channel=dm,
                filename=file.filename,
                title=file.filename,
                content=file.content,
                initial_comment=file.comment,
            )
        except SlackApiError as exc:
            raise UploadFailed(str(exc.response.get("error") or f"http_{exc.response.status_code}")) from exc
        except (SlackClientError, OSError) as exc:
            # The upload URL is POSTed outside the Web API client: its failures arrive as plain I/O errors.
            raise UploadFailed(type(exc).__name__) from exc
        return str(done["file"]["id"])

    def close(self) -> None:
        """Finish the uploads under way, then stop."""
        self._pool.shutdown()

    def _deliver(self, user_id: str, make: Callable[[], OutgoingFile], reply_channel: str) -> str | None:
        try:
            file = make()
        except UserError as error:
            self._tell(user_id, reply_channel, error.message)
            return None
        except Exception:
            reference = secrets.token_hex(4)
            log.exception("could not build a file for %s (reference %s)", user_id, reference)
            self._tell(
                user_id,
                reply_channel,
                f"Something went wrong on my side while making your file (reference `{reference}`). "
                "Please try again, or tell your Release Captain operator.",
            )
            return None
        try:
            return self.upload(user_id, file)
        except UploadFailed as failure:
            log.warning("could not upload %s to %s: %s", file.filename, user_id, failure.error)
            self._tell(
                user_id,
                reply_channel,
                f"I couldn't send you `{file.filename}`: Slack answered `{failure.error}`. "
                "Please try again in a minute; if it keeps failing, ask your Slack admin whether "
                "Release Captain may upload files.",
            )
            return None

    def _tell(self, user_id: str, channel: str, text: str) -> None:
        """Say it where the person typed the command; in their DM when the bot can't post there."""
        try:
            self._client.chat_postEphemeral(channel=channel, user=user_id, text=f"⚠️ {text}")
            return
        except (SlackClientError, OSError) as exc:
            log.info("ephemeral to %s in %s failed (%s); trying their DM", user_id, channel, exc)
        try:
            self._client.chat_postMessage(channel=user_id, text=f"⚠️ {text}")
        except (SlackClientError, OSError):
            log.warning("could not tell %s that their file failed", user_id, exc_info=True)
