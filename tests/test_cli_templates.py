"""`release-captain templates check|render`: every template renders; a bad one is named by file and line."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage.db import make_engine, unit_of_work
from storage.migrate import upgrade
from storage.tables import Release
from tests.test_cli import ROOT, _cli


def test_check_passes_on_the_shipped_templates(tmp_path: Path) -> None:
    result = _cli(tmp_path, "templates", "check")
    assert result.returncode == 0, result.stderr
    assert "every announcement template render" in result.stdout


def test_check_names_the_file_and_line_of_a_hostile_override(tmp_path: Path) -> None:
    overrides = tmp_path / "tpl" / "announcements"
    overrides.mkdir(parents=True)
    shutil.copy(ROOT / "templates" / "checklists" / "go-live.yml", tmp_path / "tpl")
    (overrides / "upcoming.j2").write_text(
        "{#---\ntitle: Upcoming\nvariables: [release]\n---#}\nShipping {{ release }}\n"
        "{{ cycler.__init__.__globals__ }}\n"
    )
    result = _cli(tmp_path, "templates", "check", TEMPLATES_DIR=str(tmp_path / "tpl"))
    assert result.returncode == 1
    assert "upcoming.j2:6" in result.stderr


def test_serve_refuses_to_start_with_a_broken_announcement_template(tmp_path: Path) -> None:
    overrides = tmp_path / "tpl" / "announcements"
    overrides.mkdir(parents=True)
    (overrides / "go_live.j2").write_text("{#---\ntitle: Live\nvariables: [release]\n---#}\n{% for %}\n")
    result = _cli(
        tmp_path,
        "serve",
        TEMPLATES_DIR=str(tmp_path / "tpl"),
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET="secret",
        PORT="1",
    )
    assert result.returncode != 0
    assert "go_live.j2" in result.stderr and "templates check" in result.stderr


def test_render_prints_what_would_be_posted_and_escapes_values(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'rc.db'}")
    upgrade(engine)
    now = datetime.now(UTC)
    with unit_of_work(engine) as session:
        session.add(
            Release(
                name="Payments <!channel> 2.4",
                name_key="payments 2.4",
                channel_id="C1",
                launch_at=now + timedelta(days=5),
                timezone="UTC",
                template="go-live",
                created_by="U1",
                created_at=now,
                updated_at=now,
                details=json.dumps({"downtime": "Sat 02:00–02:30 UTC", "notes": "https://example.com/notes"}),
            )
        )
    engine.dispose()
    result = _cli(tmp_path, "templates", "render", "upcoming", "--release", "1")
    assert result.returncode == 0, result.stderr
    assert "Payments &lt;!channel&gt; 2.4" in result.stdout and "<!channel>" not in result.stdout
    assert "Sat 02:00–02:30 UTC" in result.stdout and "<https://example.com/notes>" in result.stdout
    missing = _cli(tmp_path, "templates", "render", "upcoming", "--release", "99")
    assert missing.returncode == 1 and "no release 99" in missing.stderr
    unknown = _cli(tmp_path, "templates", "render", "farewell", "--release", "1")
    assert unknown.returncode == 1 and "farewell" in unknown.stderr
