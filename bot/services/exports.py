"""Exports: a release's checklist and its whole audit trail as a CSV or Markdown file, for Slack or the CLI.

A person may export any release they could read in Slack: one in the channel they typed the command in,
one in a public channel, or one in a private channel they belong to. Anything else is "not found", worded
exactly as for a release that does not exist, so the refusal gives nothing away.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from bot.domain.errors import Ambiguous, InvalidInput, NotFound
from bot.domain.export import (
    FORMATS,
    ExportAudit,
    ExportItem,
    ExportRelease,
    filename,
    to_csv,
    to_markdown,
)
from bot.domain.lookup import resolve_release
from bot.domain.model import AuditOutcome, OwnerKind, ReleaseState, ReleaseView
from bot.domain.text import escape_mrkdwn, name_key
from bot.ports import FileDrops, OutgoingFile
from bot.services.base import Deps, ServiceBase
from bot.services.context import RequestContext
from bot.services.views import load_release_view
from storage import repo
from storage.db import unit_of_work
from storage.tables import AuditEvent, Person, Release

# Enough for years of a busy release; beyond it the file says how many older events it leaves out.
AUDIT_CAP = 10_000
# Releases a name may match across channels and history; more than this and the name is too vague anyway.
_MAX_NAMED = 20
_LABELS = {"csv": "CSV", "md": "Markdown"}


@dataclass(frozen=True, slots=True)
class ExportTicket:
    """A release found and cleared for one person to export, and the file name it will get."""

    release_id: int
    release_name: str
    fmt: str
    filename: str


@dataclass(frozen=True, slots=True)
class ExportFile:
    """One export, ready to save or upload."""

    filename: str
    content: str
    fmt: str
    release: ReleaseView
    audit_events: int  # how many audit events the file holds
    audit_total: int  # how many the release has

    @property
    def capped(self) -> bool:
        """True when older audit events were left out."""
        return self.audit_events < self.audit_total

    def cap_note(self) -> str | None:
        """What was left out, in words, or None when the file is complete."""
        if not self.capped:
            return None
        return (
            f"Only the newest {self.audit_events:,} of {self.audit_total:,} audit events are included; "
            f"the {self.audit_total - self.audit_events:,} oldest are left out."
        )


def export_format(fmt: str) -> str:
    """'csv' or 'md' for what a person typed; InvalidInput for anything else."""
    normal = FORMATS.get(fmt.strip().lower())
    if normal is None:
        raise InvalidInput("Export as csv or md.")
    return normal


class Exporter:
    """Builds export files straight from the database: no Slack and no permission checks (the CLI's view)."""

    def __init__(self, engine: Engine, *, audit_cap: int = AUDIT_CAP) -> None:
        self._engine = engine
        self._audit_cap = audit_cap

    def export_by_id(self, release_id: int, fmt: str) -> ExportFile:
        """The export of the release with this database id; NotFound when there is none."""
        fmt = export_format(fmt)
        with unit_of_work(self._engine, write=False) as session:
            release = repo.get_release(session=session, release_id=release_id)
            if release is None:
                raise NotFound(f"There is no release with id {release_id}.")
            return self.build(session, release, fmt)

    def export_by_name(self, name: str, fmt: str) -> ExportFile:
        """The export of the one release with this name (or name prefix), in any channel and state.

        Ambiguous lists every candidate with its id, so the id can be given instead.
        """
        fmt = export_format(fmt)
        with unit_of_work(self._engine, write=False) as session:
            named = releases_named(session, name)
            exact = [r for r in named if r.name_key == name_key(name.strip())]
            matches = exact or named
            if not matches:
                raise NotFound(f'There is no release called "{name.strip()}".')
            if len(matches) > 1:
                listed = "\n".join(f"  {describe(r)}" for r in matches)
                many = f"{len(matches)}+" if len(matches) == _MAX_NAMED else str(len(matches))
                raise Ambiguous(f'"{name.strip()}" matches {many} releases; give the id:\n{listed}')
            return self.build(session, matches[0], fmt)

    def export_by_ref(self, ref: str, fmt: str) -> ExportFile:
        """The export of a release named by id (digits) or else by name, as an operator types it."""
        wanted = ref.strip()
        if not wanted.isdigit():
            return self.export_by_name(wanted, fmt)
        try:
            return self.export_by_id(int(wanted), fmt)
        except NotFound:
            pass  # a release may well be called "2024"
        try:
            return self.export_by_name(wanted, fmt)
        except NotFound:
            raise NotFound(f'There is no release with id {wanted} or called "{wanted}".') from None

    def build(self, session: Session, release: Release, fmt: str) -> ExportFile:
        """The file for one release as the database holds it now: every item, the audit trail oldest first."""
        assert release.id is not None
        view = load_release_view(session=session, release=release)
        events, total = _audit_of(session, release.id, self._audit_cap)
        data = _export_release(release, view, events, session)
        content = to_csv(data) if fmt == "csv" else to_markdown(data)
        exported = ExportFile(filename(data, fmt), content, fmt, view, len(events), total)
        note = exported.cap_note()
        if note is not None and fmt == "md":
            # CSV has no place for prose (it must read back as records); Markdown says it under the title.
            title, _, rest = content.partition("\n")
            exported = ExportFile(
                exported.filename, f"{title}\n\n> {note}\n{rest}", fmt, view, len(events), total
            )
        return exported


class ExportService(ServiceBase):
    """`/release export`: find the release the person means and may read, build the file, hand it over."""

    def __init__(self, deps: Deps, *, files: FileDrops | None = None, audit_cap: int = AUDIT_CAP) -> None:
        super().__init__(deps)
        self._files = files
        self._exporter = Exporter(deps.engine, audit_cap=audit_cap)

    def prepare(self, ctx: RequestContext, release_ref: str | None, fmt: str) -> ExportTicket:
        """Find the release (any state) the person may read; fast enough for the acknowledgement path."""
        fmt = export_format(fmt)
        with unit_of_work(self._engine, write=False) as session:
            candidates = self._candidates(session, ctx, release_ref)
        readable = self._readable(ctx, candidates)
        try:
            shown = _prefer(ctx, release_ref, [r for r in candidates if r.id in readable])
            release = resolve_release(release_ref, shown)
        except NotFound:
            hidden = [r for r in candidates if r.id not in readable]
            if hidden:
                self._record_refusal(ctx, hidden, fmt)
            raise
        assert release.id is not None
        return ExportTicket(release.id, release.name, fmt, _file_name(release, fmt))

    def produce(self, ctx: RequestContext, ticket: ExportTicket) -> ExportFile:
        """Build the file for a prepared export and record who exported what."""
        with unit_of_work(self._engine, write=False) as session:
            release = repo.get_release(session=session, release_id=ticket.release_id)
            if release is None:
                raise NotFound(f"{escape_mrkdwn(ticket.release_name)} no longer exists.")
            exported = self._exporter.build(session, release, ticket.fmt)
        with unit_of_work(self._engine) as session:
            detail = ticket.fmt if not exported.capped else f"{ticket.fmt}, newest {exported.audit_events}"
            self._audit(session, ctx, release, None, "export", None, None, self._clock.now(), detail)
        return exported

    def export(self, ctx: RequestContext, release_ref: str | None, fmt: str) -> ExportFile:
        """Find, check and build in one call (the file comes back to the caller)."""
        return self.produce(ctx, self.prepare(ctx, release_ref, fmt))

    def send(self, ctx: RequestContext, release_ref: str | None, fmt: str) -> ExportTicket:
        """Check now, then build and DM the file after the acknowledgement; returns what will arrive."""
        if self._files is None:
            raise RuntimeError("ExportService was built without a way to send files")
        ticket = self.prepare(ctx, release_ref, fmt)
        self._files.send_dm(ctx.user_id, partial(self._outgoing, ctx, ticket), reply_channel=ctx.channel_id)
        return ticket

    def export_by_id(self, release_id: int, fmt: str) -> ExportFile:
        """The export of a release by database id, with no Slack context (the CLI)."""
        return self._exporter.export_by_id(release_id, fmt)

    def export_by_name(self, name: str, fmt: str) -> ExportFile:
        """The export of a release by name, with no Slack context (the CLI)."""
        return self._exporter.export_by_name(name, fmt)

    def backlog(self) -> int:
        """Exports asked for in Slack and not delivered (or explained) yet."""
        return self._files.backlog() if self._files is not None else 0

    def close(self) -> None:
        """Let the files under way finish (at shutdown)."""
        if self._files is not None:
            self._files.close()

    # ---- helpers --------------------------------------------------------------------------------

    def _outgoing(self, ctx: RequestContext, ticket: ExportTicket) -> OutgoingFile:
        """The file and the line that introduces it in the DM."""
        exported = self.produce(ctx, ticket)
        view = exported.release
        epoch = int(self._clock.now().timestamp())
        comment = (
            f"📎 {_LABELS[exported.fmt]} export of *{escape_mrkdwn(view.name)}*: {len(view.items)} items and "
            f"{exported.audit_events:,} audit events, as of "
            f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{self._clock.now():%Y-%m-%d %H:%M} UTC>."
        )
        if note := exported.cap_note():
            comment += f"\n⚠️ {note}"
        return OutgoingFile(exported.filename, exported.content.encode("utf-8"), comment)

    def _candidates(self, session: Session, ctx: RequestContext, release_ref: str | None) -> list[Release]:
        """Active releases here, plus every release elsewhere or closed that the name may mean."""
        here = repo.active_releases_in_channel(session=session, channel_id=ctx.channel_id)
        if release_ref is None:
            # Exports are most wanted after launch: with nothing active here, the channel's latest release.
            return here or repo.releases_in_channel(session=session, channel_id=ctx.channel_id, limit=1)
        seen = {r.id for r in here}
        return here + [r for r in releases_named(session, release_ref) if r.id not in seen]

    def _readable(self, ctx: RequestContext, releases: Sequence[Release]) -> set[int | None]:
        """Ids of the releases whose channel the person can read; one Slack look-up per channel."""
        readable: dict[str, bool] = {}
        for release in releases:
            if release.channel_id not in readable:
                readable[release.channel_id] = self._may_read(ctx, release.channel_id)
        return {r.id for r in releases if readable[r.channel_id]}

    def _may_read(self, ctx: RequestContext, channel_id: str) -> bool:
        """Where the command was typed, a public channel, or a private one the person belongs to."""
        if channel_id == ctx.channel_id:
            return True
        channel = self._directory.channel(channel_id)
        if channel is None:
            return False  # gone, or private and closed to the bot: nobody can be shown it from here
        return not channel.is_private or self._directory.is_member(channel_id, ctx.user_id)

    def _record_refusal(self, ctx: RequestContext, hidden: Iterable[Release], fmt: str) -> None:
        """Audit an export refused for lack of access, on each release it could have meant."""
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            for release in hidden:
                self._audit(
                    session, ctx, release, None, "export", None, None, now, fmt, outcome=AuditOutcome.DENIED
                )


def releases_named(session: Session, name: str) -> list[Release]:
    """Releases in any channel and state whose name starts with `name` (case-insensitive), newest first."""
    key = name_key(name.strip())
    if not key:
        return []
    stmt = (
        select(Release)
        .where(col(Release.name_key).startswith(key, autoescape=True))
        .order_by(col(Release.launch_at).desc(), col(Release.id).desc())
        .limit(_MAX_NAMED)
    )
    return list(session.exec(stmt))


def _prefer(ctx: RequestContext, release_ref: str | None, releases: list[Release]) -> list[Release]:
    """Of several releases with exactly the name given, the one meant: here, else active, else the newest.

    Names are unique only among a channel's active releases, and a closed release can't be renamed, so
    asking the person to be more precise would leave them stuck.
    """
    key = " ".join(name_key(release_ref or "").split())
    exact = [r for r in releases if " ".join(r.name_key.split()) == key]
    if not key or len(exact) < 2:
        return releases
    for wanted in (lambda r: r.channel_id == ctx.channel_id, lambda r: ReleaseState(r.state).is_active):
        exact = [r for r in exact if wanted(r)] or exact
    return [max(exact, key=lambda r: (r.launch_at, r.id or 0))]


def describe(release: Release) -> str:
    """One line naming a release for an operator: id, name, channel, state and launch."""
    return (
        f"{release.id}\t{release.name}\t{release.channel_id}\t{release.state}"
        f"\t{release.launch_at:%Y-%m-%d %H:%M} UTC"
    )


def _file_name(release: Release, fmt: str) -> str:
    """The export's file name, known before anything is built."""
    shell = ExportRelease(
        release.name, release.channel_id, release.state, release.launch_at, release.timezone, (), ()
    )
    return filename(shell, fmt)


def _audit_of(session: Session, release_id: int, cap: int) -> tuple[list[AuditEvent], int]:
    """The newest `cap` audit events of a release, oldest first, and how many it has in all."""
    newest = select(AuditEvent).where(AuditEvent.release_id == release_id)
    newest = newest.order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc()).limit(cap + 1)
    rows = list(session.exec(newest))
    total = len(rows)
    if total > cap:
        count = select(func.count()).select_from(AuditEvent).where(AuditEvent.release_id == release_id)
        total = int(session.exec(count).one())
        rows = rows[:cap]
    return rows[::-1], total


def _export_release(
    release: Release, view: ReleaseView, events: list[AuditEvent], session: Session
) -> ExportRelease:
    """The domain's export record: items from the read model, events as stored, names from the cache."""
    titles = {i.id: i.title for i in view.items}
    items = tuple(
        ExportItem(
            position=i.position,
            section=i.section,
            title=i.title,
            state=i.state.value,
            owners=tuple(o.slack_id for o in i.owners),
            due_at=i.due_at,
            signed_off_by=i.signed_off_by,
            signed_off_at=i.signed_off_at,
            reason=i.reason,
            evidence=i.evidence,
        )
        for i in view.items
    )
    audit = tuple(
        ExportAudit(
            at=e.at,
            actor=e.actor,
            action=e.action,
            source=e.source,
            outcome=e.outcome,
            item=titles.get(e.item_id) if e.item_id is not None else None,
            before=e.before,
            after=e.after,
            detail=e.detail,
        )
        for e in events
    )
    people = {o.slack_id for i in view.items for o in i.owners if o.kind == OwnerKind.USER}
    people |= {i.signed_off_by for i in view.items if i.signed_off_by}
    people |= {e.actor for e in events}
    return ExportRelease(
        name=release.name,
        channel_id=release.channel_id,
        state=release.state,
        launch_at=release.launch_at,
        timezone=release.timezone,
        items=items,
        audit=audit,
        people=_display_names(session, people),
    )


def _display_names(session: Session, ids: set[str]) -> dict[str, str]:
    """Names from the person cache (no Slack calls: an export must not wait on users.info)."""
    if not ids:
        return {}
    rows = session.exec(select(Person).where(col(Person.slack_id).in_(sorted(ids))))
    return {p.slack_id: p.name for p in rows if p.name}
