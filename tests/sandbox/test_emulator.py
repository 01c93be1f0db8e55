"""The Slack emulator driven over real HTTP by slack_sdk's WebClient, and SlackSender's signed requests."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import parse_qs, parse_qsl

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier

from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.sender import SlackSender
from bot.sandbox.workspace import BOT_TOKEN as TOKEN
from bot.sandbox.workspace import Workspace, ts_key

FIXTURES = Path(__file__).parent / "fixtures"
SECRET = "sandbox-signing-secret"


def section(text: str) -> dict[str, Any]:
    """A mrkdwn section block."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button_message(client: WebClient, channel: str = "CRELEASES") -> str:
    """Post a message with one approve button; returns its ts."""
    blocks = [
        {
            "type": "actions",
            "block_id": "signoff",
            "elements": [
                {
                    "type": "button",
                    "action_id": "approve",
                    "text": {"type": "plain_text", "text": "Approve"},
                    "value": "r1",
                }
            ],
        }
    ]
    return client.chat_postMessage(channel=channel, text="Sign off?", blocks=blocks)["ts"]


def slack_error(call: Any, **kwargs: Any) -> SlackApiError:
    """Run a client call expected to fail and return the SlackApiError."""
    with pytest.raises(SlackApiError) as info:
        call(**kwargs)
    return info.value


def post_json(url: str, payload: Any) -> tuple[int, dict[str, Any]]:
    """POST JSON like Bolt's respond(); returns (status, parsed body)."""
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except HTTPError as exc:
        return exc.code, json.loads(exc.read())


# --- workspace ------------------------------------------------------------------------------------


def test_seeded_workspace_spans_time_zones_and_the_date_line() -> None:
    ws = Workspace.seeded()
    humans = [u for u in ws.users.values() if not u.is_bot and not u.deleted]
    assert len(humans) >= 6
    assert len({u.tz for u in humans}) >= 3
    offsets = [u.tz_offset for u in humans]
    assert max(offsets) - min(offsets) > 12 * 3600  # Auckland and Los Angeles are on different dates
    assert ws.users["UGONE0001"].deleted
    assert ws.users["UMAYA0001"].is_admin
    assert ws.bot_user_id not in ws.channels["CRANDOM1"].members
    assert ws.channels["CARCHIVE1"].is_archived
    assert ws.usergroups["S0QA00001"].users == ["UANA00001", "UBOB00001"]
    assert ws.channel_by_name("#releases").id == "CRELEASES"
    assert ws.user_by_name("@dana").id == "UDANA0001"


def test_ts_are_unique_and_increasing_across_threads() -> None:
    ws = Workspace(clock=lambda: 1_700_000_000.0)  # a frozen clock must still give distinct ts
    results: list[str] = []

    def worker() -> None:
        results.extend(ws.next_ts() for _ in range(200))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1600
    ordered = sorted(results, key=ts_key)
    assert (ordered[0], ordered[-1]) == ("1700000000.000000", "1700000000.001599")


# --- chat -----------------------------------------------------------------------------------------


def test_auth_test_identifies_the_bot(client: WebClient) -> None:
    response = client.auth_test()
    assert (response["team_id"], response["user_id"], response["bot_id"]) == (
        "T0RELCAPT",
        "UBOT00001",
        "B0RELCAPT",
    )


def test_post_message_is_stored_and_returned_like_slack(client: WebClient, emulator: SlackEmulator) -> None:
    response = client.chat_postMessage(
        channel="CRELEASES", text="Release 1.2 starts", blocks=[section("*1.2*")]
    )
    assert response["channel"] == "CRELEASES"
    assert response["message"]["bot_id"] == "B0RELCAPT"
    assert response["message"]["blocks"][0]["text"]["text"] == "*1.2*"
    [stored] = emulator.workspace.messages("CRELEASES")
    assert (stored.ts, stored.user, stored.text) == (response["ts"], "UBOT00001", "Release 1.2 starts")
    [call] = emulator.calls_to("chat.postMessage")
    assert call.ok and call.args["blocks"] == [section("*1.2*")]  # the JSON string was decoded


def test_concurrent_posts_are_all_kept_in_ts_order(emulator: SlackEmulator) -> None:
    def poster(channel: str) -> None:
        own = WebClient(token=TOKEN, base_url=emulator.api_url, retry_handlers=[])
        for i in range(10):
            own.chat_postMessage(channel=channel, text=str(i))

    threads = [
        threading.Thread(target=poster, args=(c,)) for c in ("CRELEASES", "#releases", "CANNOUNCE") * 2
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    releases = [m.ts for m in emulator.workspace.messages("CRELEASES")]
    assert len(releases) == 40 and releases == sorted(releases, key=ts_key)
    assert len(emulator.workspace.messages("CANNOUNCE")) == 20
    assert all(c.ok for c in emulator.calls)


def test_post_to_a_user_id_lands_in_the_dm(client: WebClient, emulator: SlackEmulator) -> None:
    response = client.chat_postMessage(channel="UDANA0001", text="psst")
    opened = client.conversations_open(users="UDANA0001")
    assert response["channel"] == opened["channel"]["id"] == "DDANA0001"
    assert emulator.workspace.channels["DDANA0001"].members == {"UBOT00001", "UDANA0001"}
    assert client.conversations_info(channel="DDANA0001")["channel"]["is_im"] is True


def test_history_is_newest_first_and_filters_metadata_and_window(client: WebClient) -> None:
    metadata = {"event_type": "release_started", "event_payload": {"release": "1.2"}}
    first = client.chat_postMessage(channel="CRELEASES", text="one", metadata=metadata)["ts"]
    second = client.chat_postMessage(channel="CRELEASES", text="two")["ts"]
    third = client.chat_postMessage(channel="CRELEASES", text="three")["ts"]
    plain = client.conversations_history(channel="CRELEASES")["messages"]
    assert [m["text"] for m in plain] == ["three", "two", "one"]
    assert "metadata" not in plain[-1]
    full = client.conversations_history(channel="CRELEASES", include_all_metadata=True)["messages"]
    assert full[-1]["metadata"] == metadata
    limited = client.conversations_history(channel="CRELEASES", limit=2)
    assert [m["ts"] for m in limited["messages"]] == [third, second]
    assert limited["has_more"] is True
    rest = client.conversations_history(
        channel="CRELEASES", limit=2, cursor=limited["response_metadata"]["next_cursor"]
    )
    assert [m["ts"] for m in rest["messages"]] == [first]
    between = client.conversations_history(channel="CRELEASES", oldest=first, latest=third)["messages"]
    assert [m["ts"] for m in between] == [second]


def test_threads_replies_and_thread_not_found(client: WebClient) -> None:
    parent = client.chat_postMessage(channel="CRELEASES", text="parent")["ts"]
    reply = client.chat_postMessage(channel="CRELEASES", text="reply", thread_ts=parent)
    assert reply["message"]["thread_ts"] == parent
    thread = client.conversations_replies(channel="CRELEASES", ts=parent)["messages"]
    assert [m["text"] for m in thread] == ["parent", "reply"]
    history = client.conversations_history(channel="CRELEASES")["messages"]
    assert [m["text"] for m in history] == ["parent"]
    assert history[0]["reply_count"] == 1
    error = slack_error(client.chat_postMessage, channel="CRELEASES", text="x", thread_ts="1.000001")
    assert error.response["error"] == "thread_not_found"


def test_update_keeps_previous_versions(client: WebClient, emulator: SlackEmulator) -> None:
    ts = client.chat_postMessage(channel="CRELEASES", text="v1", blocks=[section("v1")])["ts"]
    updated = client.chat_update(channel="CRELEASES", ts=ts, text="v2")
    assert updated["message"]["text"] == "v2"
    message = emulator.workspace.find_message("CRELEASES", ts)
    assert message.text == "v2"
    assert message.blocks == [section("v1")]  # fields not sent are kept, as Slack does
    assert [e["text"] for e in message.edits] == ["v1"]


def test_update_and_delete_rejections(client: WebClient, emulator: SlackEmulator) -> None:
    human = emulator.workspace.post("CRELEASES", "UMAYA0001", "mine")
    assert slack_error(client.chat_update, channel="CRELEASES", ts=human.ts, text="x").response["error"] == (
        "cant_update_message"
    )
    missing = slack_error(client.chat_update, channel="CRELEASES", ts="1.000002", text="x")
    assert missing.response["error"] == "message_not_found"
    ts = client.chat_postMessage(channel="CRELEASES", text="bye")["ts"]
    client.chat_delete(channel="CRELEASES", ts=ts)
    assert emulator.workspace.find_message("CRELEASES", ts) is None
    assert client.conversations_history(channel="CRELEASES")["messages"][0]["ts"] == human.ts


def test_ephemeral_messages_are_kept_apart(client: WebClient, emulator: SlackEmulator) -> None:
    response = client.chat_postEphemeral(channel="CRELEASES", user="ULEE00001", text="only you")
    [ephemeral] = emulator.ephemerals(channel="CRELEASES", user="ULEE00001")
    assert (ephemeral.ts, ephemeral.text, ephemeral.via) == (
        response["message_ts"],
        "only you",
        "chat.postEphemeral",
    )
    assert client.conversations_history(channel="CRELEASES")["messages"] == []
    error = slack_error(client.chat_postEphemeral, channel="CRELEASES", user="UGONE0001", text="x")
    assert error.response["error"] == "user_not_in_channel"


def test_permalink(client: WebClient) -> None:
    parent = client.chat_postMessage(channel="CRELEASES", text="p")["ts"]
    reply = client.chat_postMessage(channel="CRELEASES", text="r", thread_ts=parent)["ts"]
    link = client.chat_getPermalink(channel="CRELEASES", message_ts=reply)["permalink"]
    archived = f"https://acme.slack.com/archives/CRELEASES/p{reply.replace('.', '')}"
    assert link == f"{archived}?thread_ts={parent}&cid=CRELEASES"


# --- conversations / users / groups ---------------------------------------------------------------


def test_conversations_info_and_members(client: WebClient) -> None:
    releases = client.conversations_info(channel="CRELEASES", include_num_members=True)["channel"]
    assert (releases["name"], releases["is_member"], releases["num_members"]) == ("releases", True, 7)
    assert client.conversations_info(channel="CRANDOM1")["channel"]["is_member"] is False
    assert client.conversations_info(channel="CARCHIVE1")["channel"]["is_archived"] is True
    members = client.conversations_members(channel="CRELEASES", limit=4)
    assert len(members["members"]) == 4 and members["response_metadata"]["next_cursor"]


def test_users_info(client: WebClient) -> None:
    dana = client.users_info(user="UDANA0001")["user"]
    assert dana["tz"] == "Pacific/Auckland" and dana["tz_offset"] in (43200, 46800)
    assert dana["profile"]["display_name"] == "dana" and dana["profile"]["real_name"] == "Dana Ngata"
    assert client.users_info(user="UGONE0001")["user"]["deleted"] is True
    assert client.users_info(user="UBOT00001")["user"]["is_bot"] is True
    assert slack_error(client.users_info, user="UNOBODY01").response["error"] == "user_not_found"


def test_usergroups(client: WebClient) -> None:
    groups = client.usergroups_list(include_users=True)["usergroups"]
    assert [(g["handle"], g["users"]) for g in groups] == [("qa-team", ["UANA00001", "UBOB00001"])]
    assert client.usergroups_users_list(usergroup="S0QA00001")["users"] == ["UANA00001", "UBOB00001"]
    assert (
        slack_error(client.usergroups_users_list, usergroup="S0NOPE001").response["error"]
        == "no_such_subteam"
    )


def test_reactions(client: WebClient, emulator: SlackEmulator) -> None:
    ts = client.chat_postMessage(channel="CRELEASES", text="ship it?")["ts"]
    emulator.workspace.add_reaction("CRELEASES", ts, "UMAYA0001", "white_check_mark")
    client.reactions_add(channel="CRELEASES", timestamp=ts, name="eyes")
    reactions = client.reactions_get(channel="CRELEASES", timestamp=ts)["message"]["reactions"]
    assert reactions == [
        {"name": "white_check_mark", "users": ["UMAYA0001"], "count": 1},
        {"name": "eyes", "users": ["UBOT00001"], "count": 1},
    ]
    again = slack_error(client.reactions_add, channel="CRELEASES", timestamp=ts, name="eyes")
    assert again.response["error"] == "already_reacted"
    client.reactions_remove(channel="CRELEASES", timestamp=ts, name="eyes")
    assert emulator.workspace.find_message("CRELEASES", ts).reactions == {"white_check_mark": ["UMAYA0001"]}


# --- views ----------------------------------------------------------------------------------------


MODAL = {"type": "modal", "title": {"type": "plain_text", "text": "New release"}, "blocks": [section("hi")]}


def test_views_open_push_update_and_expired_trigger(client: WebClient, emulator: SlackEmulator) -> None:
    trigger = emulator.new_trigger_id("UMAYA0001")
    opened = client.views_open(trigger_id=trigger, view=MODAL)["view"]
    pushed = client.views_push(trigger_id=trigger, view={**MODAL, "blocks": [section("step 2")]})["view"]
    assert pushed["root_view_id"] == opened["id"] and pushed["previous_view_id"] == opened["id"]
    updated = client.views_update(
        view_id=opened["id"], hash=opened["hash"], view={**MODAL, "blocks": [section("x")]}
    )
    assert updated["view"]["blocks"] == [section("x")]
    assert [v["id"] for v in emulator.modal_stack("UMAYA0001")] == [opened["id"], pushed["id"]]
    stale = slack_error(client.views_update, view_id=opened["id"], hash=opened["hash"], view=MODAL)
    assert stale.response["error"] == "hash_conflict"
    emulator.expire_trigger("123.456.expired")
    expired = slack_error(client.views_open, trigger_id="123.456.expired", view=MODAL)
    assert expired.response["error"] == "expired_trigger_id"


def test_views_reject_long_titles_and_bad_blocks(client: WebClient) -> None:
    long_title = {**MODAL, "title": {"type": "plain_text", "text": "x" * 25}}
    error = slack_error(client.views_open, trigger_id="1.2.3", view=long_title)
    assert error.response["error"] == "invalid_arguments"
    assert "json-pointer:/view/title" in error.response["response_metadata"]["messages"][0]
    too_many = {**MODAL, "blocks": [section("b")] * 101}
    assert (
        slack_error(client.views_open, trigger_id="1.2.3", view=too_many).response["error"]
        == "invalid_arguments"
    )


def test_views_publish_stores_the_home_tab(client: WebClient, emulator: SlackEmulator) -> None:
    home = {"type": "home", "blocks": [section("Your releases")]}
    client.views_publish(user_id="ULEE00001", view=home)
    assert emulator.home_view("ULEE00001")["blocks"] == [section("Your releases")]
    unknown = slack_error(client.views_publish, user_id="UNOBODY01", view=home)
    assert unknown.response["error"] == "invalid_arguments"


# --- Slack-style rejections -----------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"channel": "CNOPE0001", "text": "x"}, "channel_not_found"),
        ({"channel": "CRANDOM1", "text": "x"}, "not_in_channel"),
        ({"channel": "CARCHIVE1", "text": "x"}, "is_archived"),
        ({"channel": "CRELEASES", "text": ""}, "no_text"),
        ({"channel": "CRELEASES", "text": "x" * 40_001}, "msg_too_long"),
        ({"channel": "CRELEASES", "text": "x", "blocks": [section("b")] * 51}, "invalid_blocks"),
        ({"channel": "CRELEASES", "text": "x", "blocks": [{"type": "no_such_block"}]}, "invalid_blocks"),
        ({"channel": "CRELEASES", "text": "x", "metadata": {"event_payload": {}}}, "invalid_metadata_format"),
    ],
)
def test_post_message_rejections(
    client: WebClient, emulator: SlackEmulator, kwargs: dict, error: str
) -> None:
    assert slack_error(client.chat_postMessage, **kwargs).response["error"] == error
    assert emulator.workspace.messages(kwargs["channel"]) == []


def test_invalid_blocks_explain_the_limit(client: WebClient) -> None:
    error = slack_error(client.chat_postMessage, channel="CRELEASES", text="x", blocks=[section("y" * 3001)])
    assert error.response.status_code == 200  # Slack-level errors are HTTP 200
    assert error.response["error"] == "invalid_blocks"
    [message] = error.response["response_metadata"]["messages"]
    assert "3000" in message and "/blocks/0" in message


def test_auth_errors_and_unknown_method(emulator: SlackEmulator) -> None:
    wrong = WebClient(token="xoxb-wrong", base_url=emulator.api_url, retry_handlers=[])
    assert slack_error(wrong.auth_test).response["error"] == "invalid_auth"
    anonymous = WebClient(base_url=emulator.api_url, retry_handlers=[])
    assert slack_error(anonymous.api_call, api_method="auth.test").response["error"] == "not_authed"
    right = WebClient(token=TOKEN, base_url=emulator.api_url, retry_handlers=[])
    assert slack_error(right.api_call, api_method="chat.teleport").response["error"] == "unknown_method"


def test_token_arg_in_a_form_body_and_get_query_strings(emulator: SlackEmulator) -> None:
    form = b"token=xoxb-sandbox-token&channel=CRELEASES&text=hello&blocks=%5B%5D"
    with urllib.request.urlopen(emulator.api_url + "chat.postMessage", data=form, timeout=5) as response:
        assert json.loads(response.read())["ok"] is True
    query = "conversations.history?token=xoxb-sandbox-token&channel=CRELEASES"
    with urllib.request.urlopen(emulator.api_url + query, timeout=5) as response:
        assert [m["text"] for m in json.loads(response.read())["messages"]] == ["hello"]


# --- response URLs --------------------------------------------------------------------------------


def test_response_url_ephemeral_in_channel_and_replace(emulator: SlackEmulator) -> None:
    url = emulator.new_response_url("CRELEASES", "ULEE00001")
    assert post_json(url, {"text": "working on it"}) == (200, {"ok": True})
    assert post_json(url, {"text": "done", "replace_original": True}) == (200, {"ok": True})
    assert [e.text for e in emulator.ephemerals(user="ULEE00001")] == ["done"]
    assert post_json(url, {"text": "Release 1.2 is live", "response_type": "in_channel"})[0] == 200
    assert [m.text for m in emulator.workspace.messages("CRELEASES")] == ["Release 1.2 is live"]
    assert post_json(url, {})[1]["error"] == "no_text"
    assert [c.error for c in emulator.calls_to("response_url")] == [None, None, None, "no_text"]


def test_response_url_can_edit_the_clicked_message(client: WebClient, emulator: SlackEmulator) -> None:
    ts = button_message(client)
    url = emulator.new_response_url("CRELEASES", "UMAYA0001", message_ts=ts)
    post_json(url, {"text": "Approved by maya", "replace_original": True})
    assert emulator.workspace.find_message("CRELEASES", ts).text == "Approved by maya"
    post_json(url, {"delete_original": True})
    assert emulator.workspace.find_message("CRELEASES", ts) is None


def test_response_url_works_five_times_within_thirty_minutes() -> None:
    now = [1000.0]
    with SlackEmulator(time_fn=lambda: now[0]) as emulator:
        used = emulator.new_response_url("CRELEASES", "ULEE00001")
        statuses = [post_json(used, {"text": f"#{i}"})[0] for i in range(6)]
        assert statuses == [200] * 5 + [404]
        assert post_json(used, {"text": "again"})[1]["error"] == "used_url"
        stale = emulator.new_response_url("CRELEASES", "ULEE00001")
        now[0] += 30 * 60 + 1
        assert post_json(stale, {"text": "late"}) == (404, {"ok": False, "error": "expired_url"})


# --- faults ---------------------------------------------------------------------------------------


def test_ratelimited_is_a_429_with_retry_after(client: WebClient, emulator: SlackEmulator) -> None:
    emulator.inject("chat.postMessage", "ratelimited", retry_after=7)
    error = slack_error(client.chat_postMessage, channel="CRELEASES", text="x")
    assert error.response.status_code == 429
    assert error.response.headers["Retry-After"] == "7"
    assert error.response["error"] == "ratelimited"
    assert emulator.workspace.messages("CRELEASES") == []
    assert client.chat_postMessage(channel="CRELEASES", text="x")["ok"]  # count=1: the next call passes
    assert [(c.status, c.error) for c in emulator.calls_to("chat.postMessage")] == [
        (429, "ratelimited"),
        (200, None),
    ]


def test_retry_handler_gets_through_a_rate_limit(emulator: SlackEmulator) -> None:
    emulator.inject("*", "ratelimited", retry_after=0)
    patient = WebClient(token=TOKEN, base_url=emulator.api_url, retry_handlers=[RateLimitErrorRetryHandler()])
    assert patient.auth_test()["ok"]
    assert [c.status for c in emulator.calls] == [429, 200]


@pytest.mark.parametrize("status", [500, 503])
def test_server_error(client: WebClient, emulator: SlackEmulator, status: int) -> None:
    emulator.inject("*", "server_error", count=2, status=status)
    assert slack_error(client.auth_test).response.status_code == status
    assert slack_error(client.users_info, user="ULEE00001").response.status_code == status
    assert client.auth_test()["ok"]


def test_internal_error_still_applies_the_effect(client: WebClient, emulator: SlackEmulator) -> None:
    emulator.inject("chat.postMessage", "internal_error")
    assert slack_error(client.chat_postMessage, channel="CRELEASES", text="maybe").response["error"] == (
        "internal_error"
    )
    assert [m.text for m in emulator.workspace.messages("CRELEASES")] == ["maybe"]


def test_timeout_holds_the_reply_past_the_client_timeout(emulator: SlackEmulator) -> None:
    emulator.inject("chat.postMessage", "timeout")
    impatient = WebClient(token=TOKEN, base_url=emulator.api_url, timeout=0.3, retry_handlers=[])
    with pytest.raises((TimeoutError, URLError)):
        impatient.chat_postMessage(channel="CRELEASES", text="slow")
    assert [m.text for m in emulator.workspace.messages("CRELEASES")] == ["slow"]  # applied before the hang


def test_pause_refuses_connections_until_resume(client: WebClient, emulator: SlackEmulator) -> None:
    port = emulator.port
    emulator.pause()
    with pytest.raises(URLError) as info:
        client.auth_test()
    assert isinstance(info.value.reason, ConnectionRefusedError)
    emulator.resume()
    assert emulator.port == port and client.auth_test()["ok"]


def test_pause_drop_closes_without_answering(client: WebClient, emulator: SlackEmulator) -> None:
    emulator.pause("drop")
    with pytest.raises((ConnectionError, URLError)):
        client.auth_test()
    emulator.resume()
    assert client.auth_test()["ok"]
    emulator.inject("*", "ratelimited", count=5)
    emulator.clear_faults()
    assert client.auth_test()["ok"]


# --- SlackSender ----------------------------------------------------------------------------------


class CaptureBot:
    """A stand-in bot endpoint that records requests and answers 200 with `reply`."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], str]] = []
        self.reply = b""
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                capture.requests.append((dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Length", str(len(capture.reply)))
                self.end_headers()
                self.wfile.write(capture.reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/slack/events"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def last(self) -> tuple[dict[str, str], str]:
        """Headers and body of the latest request."""
        return self.requests[-1]


@pytest.fixture
def bot() -> Iterator[CaptureBot]:
    capture = CaptureBot()
    yield capture
    capture.server.shutdown()
    capture.server.server_close()


@pytest.fixture
def sender(bot: CaptureBot, emulator: SlackEmulator) -> SlackSender:
    return SlackSender(bot.url, SECRET, emulator.workspace, emulator)


def verified(headers: dict[str, str], body: str, secret: str = SECRET) -> bool:
    """What Bolt checks before running any listener."""
    return SignatureVerifier(secret).is_valid_request(body, headers)


def test_command_is_signed_and_shaped_like_slack(bot: CaptureBot, sender: SlackSender) -> None:
    bot.reply = b'{"text": "ok"}'
    assert sender.command("UMAYA0001", "CRELEASES", "start 1.2") == (200, {"text": "ok"})
    headers, body = bot.last()
    assert verified(headers, body)
    fields = dict(parse_qsl(body))
    real = dict(parse_qsl((FIXTURES / "slash_command.bolt-python-test.form.txt").read_text().strip()))
    assert set(real) - {"enterprise_id", "enterprise_name"} <= set(fields)
    assert list(fields)[:3] == ["token", "team_id", "team_domain"]
    assert (fields["command"], fields["text"], fields["user_name"], fields["channel_name"]) == (
        "/release",
        "start 1.2",
        "maya",
        "releases",
    )
    assert fields["response_url"].startswith(sender.emulator.base_url + "response/")
    assert post_json(fields["response_url"], {"text": "hi"})[0] == 200


def test_bad_signatures_on_request(bot: CaptureBot, sender: SlackSender) -> None:
    sender.command("UMAYA0001", "CRELEASES", "x", secret="not-the-secret")
    assert not verified(*bot.last())
    sender.command("UMAYA0001", "CRELEASES", "x", timestamp=1_500_000_000)
    assert not verified(*bot.last())


def test_event_envelope_and_retry_headers(bot: CaptureBot, sender: SlackSender) -> None:
    sender.event({"type": "app_mention", "user": "ULEE00001", "text": "hi"}, event_id="Ev1", retry_num=1)
    headers, body = bot.last()
    assert verified(headers, body)
    envelope = json.loads(body)
    real = json.loads((FIXTURES / "reaction_added.slack-docs.json").read_text())
    assert set(real) <= set(envelope)
    assert (envelope["type"], envelope["event_id"], envelope["team_id"]) == (
        "event_callback",
        "Ev1",
        "T0RELCAPT",
    )
    assert headers["X-Slack-Retry-Num"] == "1" and headers["X-Slack-Retry-Reason"] == "http_timeout"


def test_reaction_updates_the_workspace_then_notifies(
    bot: CaptureBot, sender: SlackSender, client: WebClient, emulator: SlackEmulator
) -> None:
    ts = client.chat_postMessage(channel="CRELEASES", text="go?")["ts"]
    sender.reaction("UANA00001", "CRELEASES", ts, "white_check_mark")
    assert emulator.workspace.find_message("CRELEASES", ts).reactions == {"white_check_mark": ["UANA00001"]}
    event = json.loads(bot.last()[1])["event"]
    assert (event["type"], event["item"], event["item_user"]) == (
        "reaction_added",
        {"type": "message", "channel": "CRELEASES", "ts": ts},
        "UBOT00001",
    )
    sender.reaction("UANA00001", "CRELEASES", ts, "white_check_mark", added=False)
    assert json.loads(bot.last()[1])["event"]["type"] == "reaction_removed"


def test_block_action_payload(bot: CaptureBot, sender: SlackSender, client: WebClient) -> None:
    ts = button_message(client)
    sender.action("UMAYA0001", "CRELEASES", ts, "approve", "r1")
    headers, body = bot.last()
    assert verified(headers, body)
    payload = json.loads(parse_qs(body)["payload"][0])
    real = json.loads((FIXTURES / "block_actions.message_button.bolt-python-test.json").read_text())
    assert set(real) <= set(payload)
    assert payload["container"] == {
        "type": "message",
        "message_ts": ts,
        "channel_id": "CRELEASES",
        "is_ephemeral": False,
    }
    [action] = payload["actions"]
    assert (action["action_id"], action["block_id"], action["value"], action["type"]) == (
        "approve",
        "signoff",
        "r1",
        "button",
    )
    assert payload["message"]["ts"] == ts


def test_view_submission_payload(bot: CaptureBot, sender: SlackSender, emulator: SlackEmulator) -> None:
    client = WebClient(token=TOKEN, base_url=emulator.api_url, retry_handlers=[])
    client.views_open(trigger_id=emulator.new_trigger_id("UMAYA0001"), view={**MODAL, "callback_id": "new"})
    [view] = emulator.modal_stack("UMAYA0001")
    sender.view_submission("UMAYA0001", view, {"version": {"value": "1.2.0"}})
    payload = json.loads(parse_qs(bot.last()[1])["payload"][0])
    real = json.loads((FIXTURES / "view_submission.bolt-python-test.json").read_text())
    assert set(real) <= set(payload)
    assert set(real["view"]) <= set(payload["view"])
    assert payload["view"]["callback_id"] == "new"
    assert payload["view"]["state"]["values"] == {
        "version": {"value": {"type": "plain_text_input", "value": "1.2.0"}}
    }
