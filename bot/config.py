"""Settings: one validated object, read once at start-up by the CLI and passed down."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError

SLACK_API_URL = "https://slack.com/api/"

# How to fix each setting, shown when it is missing or malformed.
_HOW_TO_FIX = {
    "SLACK_BOT_TOKEN": "set it to the app's Bot User OAuth Token (starts with xoxb-)",
    "SLACK_SIGNING_SECRET": "set it to the Signing Secret from the app's Basic Information page",
    "SLACK_APP_TOKEN": "set it to an app-level token with connections:write (starts with xapp-), or unset it",
    "SLACK_API_URL": "set it to an http(s) URL ending in /api/, or unset it to use Slack's",
    "DATABASE_URL": "set it to a SQLAlchemy URL such as sqlite:///release-captain.db or postgresql://…",
    "PORT": "set it to a TCP port between 1 and 65535",
    "LOG_LEVEL": "set it to DEBUG, INFO, WARNING or ERROR",
    "LOG_FORMAT": "set it to json, text or auto (text at a terminal, JSON otherwise)",
    "RETENTION_DAYS": "set it to a whole number of days (0 keeps everything)",
    "DEFAULT_TIMEZONE": "set it to an IANA time zone name such as Europe/Berlin or UTC",
    "TEMPLATES_DIR": "set it to an existing directory of checklist templates, or unset it",
    "ADMIN_USERS": "set it to comma-separated Slack user ids, e.g. U012ABC,U034DEF",
    "SIGN_OFF_EMOJI": "set it to comma-separated emoji names, e.g. white_check_mark,heavy_check_mark",
    "BLOCK_EMOJI": "set it to comma-separated emoji names, e.g. no_entry,no_entry_sign",
    "DATABASE_WAIT_SECONDS": "set it to a number of seconds, 0 or more (the default is 30)",
    "SIGN_OFF_PROCESS": "set it to true (a second process applies sign-offs) or false (one process)",
}


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it and how to fix it."""


class Settings(BaseSettings):
    """Everything Release Captain reads from the environment (and `.env`)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = SLACK_API_URL
    database_url: str = "sqlite:///release-captain.db"
    port: int = Field(default=3000, ge=1, le=65535)
    host: str = "0.0.0.0"
    log_level: str = "INFO"
    # json, text, or auto: text when stderr is a terminal, JSON lines otherwise (for log collectors).
    log_format: str = "auto"
    # Texts of releases closed longer than this are purged (storage/retention.py); 0 keeps them forever.
    retention_days: int = Field(default=180, ge=0)
    default_timezone: str = "UTC"
    templates_dir: Path | None = None
    # Workspace admins: may do anything a release manager may, in every release.
    admin_users: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Reactions that sign an item off, and reactions that block it (without colons).
    sign_off_emoji: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["white_check_mark", "heavy_check_mark", "ballot_box_with_check"]
    )
    block_emoji: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["no_entry", "no_entry_sign"])
    # How often the delivery ticker runs inside serve.
    tick_seconds: float = Field(default=30.0, gt=0)
    # How long a replica's claim on a delivery lasts before another may take it over (after a crash).
    delivery_lease_seconds: float = Field(default=90.0, gt=0)
    # The gap kept between two posts to one channel (Slack allows about one per second).
    channel_pace_seconds: float = Field(default=1.0, ge=0)
    # How often the card syncer sweeps for changes it was not told about (another replica, a crash).
    card_sweep_seconds: float = Field(default=5.0, gt=0)
    # How long serve waits for the database at start-up (a PostgreSQL container starting beside it).
    database_wait_seconds: float = Field(default=30.0, ge=0)
    # HTTP mode: apply reactions and sign-off clicks in a second process (bot/handoff.py), so their work
    # never delays another request's acknowledgement. Off: they run on the request process's threads.
    sign_off_process: bool = True
    # Slack requests that run at once in a process; the others queue in arrival order (bot/lanes.py).
    # Unset: `request_lanes` picks what measured best for the database. Waiting on Slack frees a lane.
    request_concurrency: int | None = Field(default=None, ge=1, le=64)

    @field_validator("admin_users", "sign_off_emoji", "block_emoji", mode="before")
    @classmethod
    def _comma_list(cls, v: object) -> object:
        # Environment variables are comma-separated lists: ADMIN_USERS=U012,U034.
        if isinstance(v, str):
            return [part.strip().strip(":") for part in v.split(",") if part.strip()]
        return v

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value().startswith("xoxb-"):
            raise ValueError("must start with xoxb-")
        return v

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_shape(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and v.get_secret_value() and not v.get_secret_value().startswith("xapp-"):
            raise ValueError("must start with xapp-")
        return v or None

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_shape(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return v if v.endswith("/") else v + "/"

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, v: str) -> str:
        level = v.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"unknown level {v!r}")
        return level

    @field_validator("log_format")
    @classmethod
    def _known_format(cls, v: str) -> str:
        if v.lower() not in ("auto", "json", "text"):
            raise ValueError(f"unknown format {v!r}")
        return v.lower()

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    @field_validator("templates_dir")
    @classmethod
    def _existing_dir(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_dir():
            raise ValueError(f"{v} is not a directory")
        return v

    @property
    def socket_mode(self) -> bool:
        """Socket Mode when an app-level token is configured, HTTP otherwise."""
        return self.slack_app_token is not None

    @property
    def sign_off_process_enabled(self) -> bool:
        """Whether serve forks the sign-off process: HTTP mode only (Socket Mode acks over its socket), and
        only where processes fork (not on Windows)."""
        return self.sign_off_process and not self.socket_mode and hasattr(os, "fork")

    @property
    def request_lanes(self) -> int:
        """REQUEST_CONCURRENCY, or 1 on SQLite and 2 on PostgreSQL, whose round trips a second lane overlaps
        (bench/README.md, "Request lanes")."""
        if self.request_concurrency is not None:
            return self.request_concurrency
        return 1 if self.database_url.startswith("sqlite") else 2

    @property
    def has_slack_credentials(self) -> bool:
        """Whether a real workspace is configured (HTTP needs the signing secret too)."""
        if self.slack_bot_token is None:
            return False
        return self.socket_mode or self.slack_signing_secret is not None

    def require_slack(self) -> None:
        """Fail with the settings a real workspace needs, naming what is missing."""
        if self.slack_bot_token is None:
            raise SettingsError(f"SLACK_BOT_TOKEN is not set: {_HOW_TO_FIX['SLACK_BOT_TOKEN']}.")
        if not self.socket_mode and self.slack_signing_secret is None:
            raise SettingsError(
                "SLACK_SIGNING_SECRET is not set: HTTP mode needs it to verify Slack's requests "
                "(or set SLACK_APP_TOKEN for Socket Mode)."
            )


def load_settings(**overrides: object) -> Settings:
    """Read and validate the settings once; raise SettingsError with one clear line on failure."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except SourceError as exc:
        # A value the environment source could not even decode; its message names the field.
        raise SettingsError(f"a setting could not be read: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "settings"
        problem = first["msg"].removeprefix("Value error, ")
        fix = _HOW_TO_FIX.get(name, "check its value")
        raise SettingsError(f"{name} is invalid ({problem}): {fix}.") from None


def configure_logging(settings: Settings) -> None:
    """Stdlib logging as JSON or text lines, with every configured secret and any Slack token redacted."""
    from bot.logsetup import configure

    secrets = (settings.slack_bot_token, settings.slack_app_token, settings.slack_signing_secret)
    configure(
        level=settings.log_level,
        log_format=settings.log_format,
        secrets=[s.get_secret_value() for s in secrets if s is not None],
    )
