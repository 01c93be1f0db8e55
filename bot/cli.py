"""The `release-captain` command line: serve, run, check, db, templates. Settings are read once, here."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from bot.config import SLACK_API_URL, Settings, SettingsError, configure_logging, load_settings

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Release Captain: go-live checklists in Slack."
)
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
templates_app = typer.Typer(no_args_is_help=True, help="Checklist and announcement templates.")
app.add_typer(db_app, name="db")
app.add_typer(templates_app, name="templates")
log = logging.getLogger("release_captain")

CONNECT_HINT = (
    "To connect a real workspace, set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (HTTP mode) "
    "or SLACK_BOT_TOKEN and SLACK_APP_TOKEN (Socket Mode); see the README."
)


def _settings(**overrides: object) -> Settings:
    """The settings, read once; a bad one ends the command with one line and exit status 2."""
    try:
        settings = load_settings(**overrides)
    except SettingsError as exc:
        typer.echo(f"release-captain: {exc}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings)
    return settings


@app.command()
def serve() -> None:
    """Serve Slack: Socket Mode when SLACK_APP_TOKEN is set, HTTP on PORT otherwise."""
    settings = _settings()
    try:
        settings.require_slack()
    except SettingsError as exc:
        typer.echo(f"release-captain: {exc}", err=True)
        raise typer.Exit(2) from None
    from bot.runner import serve_forever

    serve_forever(settings)


@app.command()
def run() -> None:
    """What `make run` starts: serve with Slack credentials, the sandbox shell without them."""
    settings = _settings()
    if settings.has_slack_credentials:
        from bot.runner import serve_forever

        serve_forever(settings)
        return
    if not sys.stdin.isatty():
        typer.echo(
            f"release-captain: no Slack credentials and no terminal for the sandbox. {CONNECT_HINT}", err=True
        )
        raise typer.Exit(2)
    from bot.sandbox.shell import run_shell

    typer.echo(
        f"No Slack credentials found: starting the local sandbox (release-captain shell). {CONNECT_HINT}"
    )
    run_shell(settings)


@app.command()
def shell(
    database: Annotated[
        str | None, typer.Option(help="Keep releases in this database URL (default: a throwaway one).")
    ] = None,
) -> None:
    """Try Release Captain in the terminal against a pretend Slack workspace; no Slack credentials needed."""
    from bot.sandbox.shell import run_shell

    if not run_shell(_sandbox_settings(), database_url=database):
        raise typer.Exit(2)


@app.command()
def demo() -> None:
    """Watch a scripted release in the sandbox, from creation to the vote, the launch and the export."""
    from bot.sandbox.demo import run_demo

    run_demo(settings=_sandbox_settings())


def _sandbox_settings() -> Settings:
    """Settings for the sandbox, which talks only to its own emulator: any SLACK_* variables are ignored."""
    return _settings(
        slack_bot_token=None, slack_signing_secret=None, slack_app_token=None, slack_api_url=SLACK_API_URL
    )


@app.command()
def check() -> None:
    """Validate configuration, database and templates; say what is wrong."""
    from bot.checks import run_checks

    settings = _settings()
    problems = run_checks(settings, echo=typer.echo)
    raise typer.Exit(1 if problems else 0)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Apply database migrations (serve does this at start-up too)."""
    from storage.db import make_engine
    from storage.migrate import current_revision, upgrade

    settings = _settings()
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine, revision)
        typer.echo(f"Database is at revision {current_revision(engine)}.")
    except Exception as exc:
        typer.echo(f"release-captain: could not migrate the database: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


@db_app.command("revision")
def db_revision(message: Annotated[str, typer.Argument(help="What changed, e.g. 'add vote table'")]) -> None:
    """Write a new migration from the difference between the models and the migrations (for developers)."""
    import tempfile

    from alembic import command

    from storage.db import make_engine
    from storage.migrate import alembic_config, upgrade

    with tempfile.TemporaryDirectory() as scratch:
        # Compare against a scratch database at head, never against a real one.
        engine = make_engine(f"sqlite:///{scratch}/scratch.db")
        upgrade(engine)
        cfg = alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.revision(cfg, message=message, autogenerate=True)
        engine.dispose()


@db_app.command("backup")
def db_backup(
    file: Annotated[Path, typer.Argument(help="Where to write the backup, e.g. backups/rc-2026-12-01.db")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite FILE if it exists")] = False,
) -> None:
    """Copy the SQLite database to FILE while serve keeps running (PostgreSQL: prints pg_dump usage)."""
    from storage.backup import BackupError, backup

    settings = _settings()
    try:
        copied = backup(settings.database_url, file, force=force)
    except BackupError as exc:
        typer.echo(f"release-captain: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"Backed up {copied.releases} releases (revision {copied.revision}) to {copied.path}.")


@db_app.command("restore")
def db_restore(
    file: Annotated[Path, typer.Argument(help="A file written by `release-captain db backup`")],
    force: Annotated[bool, typer.Option("--force", help="Replace the database if it exists")] = False,
) -> None:
    """Replace the SQLite database with a backup (stop serve first; serve migrates it when it starts)."""
    from storage.backup import BackupError, restore

    settings = _settings()
    try:
        copied = restore(settings.database_url, file, force=force)
    except BackupError as exc:
        typer.echo(f"release-captain: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"Restored {copied.releases} releases (revision {copied.revision}) into {copied.path}.")


@db_app.command("purge")
def db_purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be purged; change nothing")
    ] = False,
) -> None:
    """Empty the texts of releases closed more than RETENTION_DAYS ago (serve does this daily)."""
    from storage.db import make_engine, unit_of_work
    from storage.delivery_repo import database_now
    from storage.retention import purge

    settings = _settings()
    if settings.retention_days == 0:
        typer.echo("Retention is off (RETENTION_DAYS=0): nothing is purged.")
        return
    engine = make_engine(settings.database_url)
    try:
        with unit_of_work(engine, write=not dry_run) as session:
            report = purge(
                session=session,
                days=settings.retention_days,
                now=database_now(session=session),
                dry_run=dry_run,
            )
    finally:
        engine.dispose()
    typer.echo(str(report))


@app.command()
def tick(
    at: Annotated[
        str | None,
        typer.Option(help="Plan and send as of this ISO-8601 instant (default: the database's now)"),
    ] = None,
) -> None:
    """Run one delivery pass (reminders, summaries) and exit: for cron, Kubernetes CronJobs and tests."""
    from datetime import UTC, datetime

    from bot.wiring import build

    settings = _settings()
    when = None
    if at is not None:
        try:
            when = datetime.fromisoformat(at)
        except ValueError:
            typer.echo(
                f"release-captain: --at {at!r} is not an ISO-8601 time, e.g. 2026-12-09T09:00:00+01:00",
                err=True,
            )
            raise typer.Exit(2) from None
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
    try:
        settings.require_slack()
    except SettingsError as exc:
        typer.echo(f"release-captain: {exc}", err=True)
        raise typer.Exit(2) from None
    runtime = build(settings)
    try:
        typer.echo(str(runtime.services.deliveries.run_due(when)))
    finally:
        runtime.stop()


@app.command()
def deliveries(
    failed: Annotated[
        bool, typer.Option("--failed", help="Only deliveries that failed for good (dead)")
    ] = False,
    limit: Annotated[int, typer.Option(help="How many, newest first")] = 50,
) -> None:
    """List scheduled deliveries and what became of them."""
    from storage import delivery_repo
    from storage.db import make_engine, unit_of_work

    settings = _settings()
    engine = make_engine(settings.database_url)
    states = [delivery_repo.DEAD] if failed else [*delivery_repo.FINAL_STATES, delivery_repo.PENDING]
    try:
        with unit_of_work(engine, write=False) as session:
            found = delivery_repo.by_state(session=session, states=states, limit=limit)
    finally:
        engine.dispose()
    for d in found:
        typer.echo(f"{d.id}\t{d.state}\t{d.kind}\t{d.recipient}\t{d.slot.isoformat()}\t{d.reason or ''}")
    if not found:
        typer.echo("no failed deliveries" if failed else "no deliveries")


@templates_app.command("list")
def templates_list() -> None:
    """List the checklist templates a release can be created from."""
    from bot.wiring import load_templates

    library = load_templates(_settings())
    for name in library.names():
        template = library.get(name)
        typer.echo(f"{name}\t{len(template.items)} items\t{template.title}")
    for error in library.errors():
        typer.echo(f"error: {error}", err=True)


@templates_app.command("check")
def templates_check() -> None:
    """Load and render every checklist and announcement template; errors name the file and line."""
    from bot.templating.announcements import builtin_dir, check_dirs, override_dir
    from bot.wiring import load_templates

    settings = _settings()
    library = load_templates(settings)
    problems = [str(e) for e in library.errors()]
    problems += [str(e) for e in check_dirs(builtin_dir(), override_dir(settings.templates_dir))]
    for problem in problems:
        typer.echo(f"error: {problem}", err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo(f"ok: {len(library.names())} checklist templates and every announcement template render")


@templates_app.command("render")
def templates_render(
    name: Annotated[
        str, typer.Argument(help="Announcement: upcoming, go-live, delayed, rolled-back, completed")
    ],
    release: Annotated[
        int, typer.Option("--release", help="The release id (see `release-captain deliveries`)")
    ],
) -> None:
    """Print what an announcement of a release would say if it were posted now."""
    from bot.domain.errors import UserError
    from bot.services.announcements import render_preview
    from bot.templating.sandbox import TemplateError
    from bot.wiring import load_announcement_templates
    from storage.db import make_engine

    settings = _settings()
    engine = make_engine(settings.database_url)
    try:
        typer.echo(render_preview(engine, load_announcement_templates(settings), release, name))
    except (UserError, TemplateError) as exc:
        typer.echo(f"release-captain: {getattr(exc, 'message', None) or exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


@app.command("export")
def export_release(
    release: Annotated[str, typer.Argument(help="The release's id, or its name (a unique prefix will do)")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv or md")] = "csv",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to FILE instead of stdout")] = None,
) -> None:
    """Export a release's checklist and audit trail as CSV or Markdown, straight from the database."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.domain.errors import UserError
    from bot.services.exports import Exporter
    from storage.db import make_engine

    settings = _settings()
    engine = make_engine(settings.database_url)
    try:
        exported = Exporter(engine).export_by_ref(release, fmt)
    except UserError as exc:
        typer.echo(f"release-captain: {exc.message}", err=True)
        raise typer.Exit(1) from None
    except SQLAlchemyError as exc:
        typer.echo(
            f"release-captain: can't read releases from the database ({type(exc).__name__}); "
            "check DATABASE_URL, or run `release-captain db upgrade`.",
            err=True,
        )
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    if note := exported.cap_note():
        typer.echo(f"release-captain: {note}", err=True)
    if out is None:
        sys.stdout.write(exported.content)
        return
    try:
        # newline="": CSV rows end in \r\n as written, on every platform.
        out.write_text(exported.content, encoding="utf-8", newline="")
    except OSError as exc:
        typer.echo(f"release-captain: can't write {out}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"Wrote {exported.release.name} ({exported.fmt}) to {out}.")


def main() -> None:
    """Console entry point."""
    app()
