"""Resolving item and release references: numbers, prefixes, ambiguity, suggestions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.errors import Ambiguous, NotFound, UsageError, UserError
from bot.domain.lookup import resolve_item, resolve_release
from bot.domain.model import ItemState, ItemView

TITLES = [
    ("code-freeze", "Code Freeze"),
    ("release-notes", "Release Notes"),
    ("security-review", "Security Review"),
    ("functional-tests", "Functionality Testing"),
    ("db-backup", "Database Backup"),
    ("deploy", "Deploy"),
    ("deploy-verify", "Deploy Verification"),
    ("dns", "DNS Switch"),
    ("data-migration", "Data Migration"),
    ("docs", "Documentation"),
    ("dashboards", "Dashboards"),
    ("support", "Support Briefing"),
    ("rollback", "Rollback Plan"),
    ("on-call", "On-call Rota"),
    ("status-page", "Status Page"),
    ("comms", "Customer Comms"),
    ("go-no-go", "Go/No-Go Meeting"),
    ("html", "Check <b>HTML</b> & entities"),
]
ITEMS = [
    ItemView(
        position=i,
        key=key,
        section="Launch",
        title=title,
        description="",
        state=ItemState.OPEN,
        due_at=datetime(2026, 12, 10, tzinfo=UTC),
        offset=timedelta(0),
    )
    for i, (key, title) in enumerate(TITLES, start=1)
]
RELEASE = "Payments 2.4"


def item(ref: str) -> int:
    return resolve_item(ref, ITEMS, release_name=RELEASE).position


@pytest.mark.parametrize(
    ("ref", "position"),
    [
        ("5", 5),
        ("#5", 5),
        ("# 5", 5),
        (" 18 ", 18),
        ("05", 5),
        ("Database Backup", 5),
        ("database   backup", 5),  # case and whitespace don't matter
        ("datab", 5),
        ("DB-BACKUP", 5),  # the key works too
        ("db", 5),
        ("deploy", 6),  # exact title beats being a prefix of "Deploy Verification"
        ("deploy v", 7),
        ("deploy-verify", 7),
        ("func", 4),
        ("go/no", 17),
        ("check <b>", 18),
    ],
)
def test_resolves(ref: str, position: int) -> None:
    assert item(ref) == position


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("99", "There is no item 99 in Payments 2.4; items are numbered 1–18."),
        ("0", "There is no item 0 in Payments 2.4; items are numbered 1–18."),
        ("#19", "There is no item 19 in Payments 2.4; items are numbered 1–18."),
        ("12345678901234567890", "There is no item 12345678901234567890 in Payments 2.4"),
    ],
)
def test_number_out_of_range(ref: str, message: str) -> None:
    with pytest.raises(NotFound) as caught:
        item(ref)
    assert caught.value.message.startswith(message)


def test_no_items_at_all() -> None:
    with pytest.raises(NotFound, match=r"Payments 2\.4 has no checklist items"):
        resolve_item("1", [], release_name=RELEASE)


def test_ambiguous_prefix_lists_numbers_and_titles_up_to_five() -> None:
    with pytest.raises(Ambiguous) as caught:
        item("d")
    message = caught.value.message
    assert message.startswith('"d" matches 7 items in Payments 2.4: 5. Database Backup, 6. Deploy, ')
    assert "and 2 more" in message and "Use the number instead, e.g. 5." in message


def test_ambiguous_short_list_has_no_tail() -> None:
    with pytest.raises(Ambiguous) as caught:
        item("s")
    assert caught.value.message == (
        '"s" matches 3 items in Payments 2.4: 3. Security Review, 12. Support Briefing, 15. Status Page. '
        "Use the number instead, e.g. 3."
    )


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("databse", 'I couldn\'t find item "databse" in Payments 2.4. Did you mean 5. Database Backup?'),
        ("backup", 'I couldn\'t find item "backup" in Payments 2.4. Did you mean 5. Database Backup?'),
        ("secruity", 'I couldn\'t find item "secruity" in Payments 2.4. Did you mean 3. Security Review?'),
        ("zzz", 'I couldn\'t find item "zzz" in Payments 2.4. Check the list with /release status.'),
    ],
)
def test_not_found_suggests_when_close(ref: str, message: str) -> None:
    with pytest.raises(NotFound) as caught:
        item(ref)
    assert caught.value.message == message


def test_messages_escape_user_text_and_titles() -> None:
    with pytest.raises(NotFound) as caught:
        resolve_item("<!channel>", ITEMS, release_name="<b>&")
    assert "<" not in caught.value.message and "&lt;!channel&gt;" in caught.value.message
    assert "&lt;b&gt;&amp;" in caught.value.message
    with pytest.raises(NotFound) as caught:
        item("Check <b>HTML</b> & entitys")
    assert "18. Check &lt;b&gt;HTML&lt;/b&gt; &amp; entities" in caught.value.message


def test_empty_reference_is_usage() -> None:
    with pytest.raises(UsageError):
        item("   ")


@given(st.text(alphabet=st.characters(exclude_categories=()), max_size=40))
@settings(max_examples=300, deadline=None)
def test_any_reference_resolves_or_raises_a_user_error(ref: str) -> None:
    try:
        found = item(ref)
    except UserError as error:
        assert "<" not in error.message
        return
    assert 1 <= found <= len(ITEMS)


# --- releases -----------------------------------------------------------------------------------


@dataclass
class Row:
    """A lightweight stand-in for a database row: anything with .name works."""

    id: int
    name: str


PAY24, PAY25, WEB = Row(1, "Payments 2.4"), Row(2, "Payments 2.5"), Row(3, "Web <9>")


@pytest.mark.parametrize(
    ("ref", "releases", "expected"),
    [
        (None, [PAY24], PAY24),  # the only active one
        ("payments 2.4", [PAY24, PAY25, WEB], PAY24),
        ("  PAYMENTS   2.5 ", [PAY24, PAY25, WEB], PAY25),
        ("web", [PAY24, PAY25, WEB], WEB),  # unique prefix
        ("Payments 2", [PAY24, WEB], PAY24),
        ("Payments", [PAY24, Row(4, "Payments")], Row(4, "Payments")),  # exact beats prefix
    ],
)
def test_release_resolves(ref: str | None, releases: list[Row], expected: Row) -> None:
    assert resolve_release(ref, releases) == expected


def test_no_release_in_channel() -> None:
    with pytest.raises(NotFound) as caught:
        resolve_release(None, [])
    assert caught.value.message.startswith(
        "There is no active release in this channel. Start one with /release new"
    )
    assert "<" not in caught.value.message
    with pytest.raises(NotFound, match="There is no active release in #payments"):
        resolve_release(None, [], channel_name="payments")


def test_several_releases_and_no_name_explains_how_to_pick() -> None:
    with pytest.raises(Ambiguous) as caught:
        resolve_release(None, [PAY24, PAY25, WEB])
    assert caught.value.message == (
        "There are 3 active releases in this channel: Payments 2.4, Payments 2.5, Web &lt;9&gt;. "
        'Say which one, e.g. /release status "Payments 2.4" or /release in "Payments 2.4" done 5.'
    )


def test_ambiguous_release_prefix() -> None:
    with pytest.raises(Ambiguous) as caught:
        resolve_release("pay", [PAY24, PAY25, WEB])
    assert caught.value.message == (
        '"pay" matches Payments 2.4, Payments 2.5. '
        'Use the full name in quotes, e.g. /release status "Payments 2.4".'
    )


def test_same_name_twice_is_ambiguous() -> None:
    with pytest.raises(Ambiguous, match="2 releases are called"):
        resolve_release("Payments 2.4", [PAY24, Row(9, "payments 2.4")])


NOT_FOUND = "I couldn't find a release called"


@pytest.mark.parametrize(
    ("ref", "releases", "message"),
    [
        ("Paymnts 2.4", [PAY24, WEB], f'{NOT_FOUND} "Paymnts 2.4". Did you mean "Payments 2.4"?'),
        (
            "mobile",
            [PAY24, WEB],
            f'{NOT_FOUND} "mobile". Active releases in this channel: Payments 2.4, Web &lt;9&gt;.',
        ),
        ("mobile", [], f'{NOT_FOUND} "mobile". There is no active release in this channel.'),
        ("<!here>", [], f'{NOT_FOUND} "&lt;!here&gt;".'),
    ],
)
def test_release_not_found(ref: str, releases: list[Row], message: str) -> None:
    with pytest.raises(NotFound) as caught:
        resolve_release(ref, releases)
    assert caught.value.message.startswith(message)
