"""The command line: settings errors are one clear line and exit 2; check, db upgrade, serve and SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from storage.db import normalise_url
from tests.e2e.harness import free_port, wait_until

ROOT = Path(__file__).resolve().parents[1]


def _env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "PORT"))}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'rc.db'}", PYTHONPATH=str(ROOT))
    env.update(overrides)
    return env


def _cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=_env(tmp_path, **env),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


CREDS = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "secret"}


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-test"}, "SLACK_SIGNING_SECRET"),
        ({**CREDS, "SLACK_BOT_TOKEN": "not-a-token"}, "SLACK_BOT_TOKEN"),
        ({**CREDS, "PORT": "eighty"}, "PORT"),
        ({**CREDS, "PORT": "70000"}, "PORT"),
        ({**CREDS, "DEFAULT_TIMEZONE": "Mars/Olympus_Mons"}, "DEFAULT_TIMEZONE"),
        ({**CREDS, "LOG_LEVEL": "chatty"}, "LOG_LEVEL"),
        ({**CREDS, "SLACK_API_URL": "ftp://example"}, "SLACK_API_URL"),
        ({**CREDS, "TEMPLATES_DIR": "/does/not/exist"}, "TEMPLATES_DIR"),
        ({**CREDS, "SLACK_APP_TOKEN": "xoxb-wrong-kind"}, "SLACK_APP_TOKEN"),
        ({**CREDS, "SIGN_OFF_PROCESS": "sometimes"}, "SIGN_OFF_PROCESS"),
        ({**CREDS, "REQUEST_CONCURRENCY": "0"}, "REQUEST_CONCURRENCY"),
        ({**CREDS, "REQUEST_CONCURRENCY": "many"}, "REQUEST_CONCURRENCY"),
    ],
)
def test_bad_settings_are_one_clear_line_and_exit_2(tmp_path: Path, env: dict[str, str], names: str) -> None:
    result = _cli(tmp_path, "serve", **env)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and names in lines[0], result.stderr


def test_dotenv_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PORT=eighty\n")
    result = _cli(tmp_path, "serve", **CREDS)
    assert result.returncode == 2 and "PORT" in result.stderr


def test_run_without_credentials_or_terminal_explains_what_to_set(tmp_path: Path) -> None:
    result = _cli(tmp_path, "run")
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN" in result.stderr and "SLACK_APP_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_reports_an_unmigrated_database_then_passes_after_upgrade(tmp_path: Path) -> None:
    first = _cli(tmp_path, "check", **CREDS)
    assert first.returncode == 1
    assert "db upgrade" in first.stdout
    upgrade = _cli(tmp_path, "db", "upgrade", **CREDS)
    assert upgrade.returncode == 0 and "revision" in upgrade.stdout
    second = _cli(tmp_path, "check", **CREDS)
    assert second.returncode == 0, second.stdout
    assert "go-live" in second.stdout


def test_check_reports_a_broken_template_by_file_item_and_field(tmp_path: Path) -> None:
    extra = tmp_path / "templates"
    extra.mkdir()
    (extra / "broken.yml").write_text(
        "name: broken\ntitle: Broken\nitems:\n  - key: a\n    section: S\n    title: A\n    due: soon\n"
    )
    _cli(tmp_path, "db", "upgrade", **CREDS)
    result = _cli(tmp_path, "check", TEMPLATES_DIR=str(extra), **CREDS)
    assert result.returncode == 1
    assert "broken.yml" in result.stdout and "due" in result.stdout and "soon" in result.stdout


def _health(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except OSError:
        return 0, {}


def _serve(tmp_path: Path, port: int, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"],
        cwd=tmp_path,
        env=_env(
            tmp_path,
            PORT=str(port),
            HOST="127.0.0.1",
            SLACK_API_URL="http://127.0.0.1:9/api/",
            **CREDS,
            **env,
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_serve_migrates_answers_healthz_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    proc = _serve(tmp_path, port)
    try:
        wait_until(lambda: _health(port)[0] == 200, timeout=30, what="healthz")
        health = _health(port)[1]
        assert (health["status"], health["database"]) == ("ok", "ok")
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, output
    assert "Traceback" not in output
    assert "stopped" in output


@pytest.mark.postgres
def test_healthz_is_503_while_the_database_is_unreachable(tmp_path: Path, postgres_url: str) -> None:
    port = free_port()
    name = postgres_url.rsplit("/", 1)[1]
    admin = create_engine(
        normalise_url(postgres_url.rsplit("/", 1)[0] + "/postgres"), isolation_level="AUTOCOMMIT"
    )
    proc = _serve(tmp_path, port, DATABASE_URL=postgres_url)
    try:
        wait_until(lambda: _health(port)[0] == 200, timeout=30, what="healthz")
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name}
            )
        _, body = wait_until(lambda: (r := _health(port))[0] == 503 and r, timeout=15, what="a 503")
        assert body["database"] == "unreachable"
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        wait_until(lambda: _health(port)[0] == 200, timeout=15, what="recovery")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
        admin.dispose()


def test_an_app_token_selects_socket_mode_and_a_refusal_is_one_clear_line(tmp_path: Path) -> None:
    from bot.sandbox.emulator import SlackEmulator

    with SlackEmulator() as emulator:
        emulator.start()
        result = _cli(
            tmp_path,
            "serve",
            SLACK_BOT_TOKEN=emulator.workspace.bot_token,
            SLACK_APP_TOKEN="xapp-1-not-a-real-token",
            SLACK_API_URL=emulator.api_url,
        )
        assert emulator.calls_to("apps.connections.open"), (
            "Socket Mode starts by asking Slack for a WebSocket URL"
        )
    assert result.returncode == 1
    assert "Socket Mode" in result.stderr and "SLACK_APP_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr
