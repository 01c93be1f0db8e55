"""`release-captain check`: configuration, database and templates, each reported plainly."""

from __future__ import annotations

from collections.abc import Callable

from bot.config import Settings, SettingsError
from storage.db import make_engine, ping
from storage.migrate import current_revision, head_revision


def run_checks(settings: Settings, *, echo: Callable[[str], None]) -> list[str]:
    """Run every check, print one line each, and return the problems found."""
    problems: list[str] = []

    def report(ok: bool, what: str, detail: str) -> None:
        echo(f"{'ok ' if ok else 'ERR'} {what}: {detail}")
        if not ok:
            problems.append(f"{what}: {detail}")

    try:
        settings.require_slack()
        mode = "Socket Mode" if settings.socket_mode else f"HTTP on port {settings.port}"
        report(True, "slack", f"credentials present, {mode}, API at {settings.slack_api_url}")
    except SettingsError as exc:
        report(False, "slack", str(exc))

    engine = make_engine(settings.database_url)
    try:
        if not ping(engine):
            report(False, "database", f"cannot connect to {engine.url.render_as_string(hide_password=True)}")
        else:
            current, head = current_revision(engine), head_revision()
            if current == head:
                report(True, "database", f"reachable, schema at {current}")
            else:
                upgrade_hint = "run `release-captain db upgrade`"
                report(
                    False,
                    "database",
                    f"schema at {current or 'nothing'}, code expects {head}: {upgrade_hint}",
                )
    finally:
        engine.dispose()

    from bot.wiring import load_templates

    library = load_templates(settings)
    for error in library.errors():
        report(False, "templates", str(error))
    report(bool(library.names()), "templates", f"{len(library.names())} loaded: {', '.join(library.names())}")
    from bot.templating.announcements import builtin_dir, check_dirs, override_dir

    announcement_problems = check_dirs(builtin_dir(), override_dir(settings.templates_dir))
    for error in announcement_problems:
        report(False, "announcements", str(error))
    if not announcement_problems:
        report(True, "announcements", "every announcement template renders with sample data")
    return problems
