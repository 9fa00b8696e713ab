"""The Slack emulator, driven by the real slack_sdk clients: methods, threads, metadata, paging, faults, process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from tests.emulators.common import Control
from tests.emulators.fixtures import Running, slack_emulator  # noqa: F401
from tests.emulators.slack import WEBHOOK_PATH

REPO = Path(__file__).resolve().parents[1]


def client(emulator: Running, token: str = "xoxb-test-token") -> WebClient:
    return WebClient(token=token, base_url=emulator.url + "/api/", timeout=2, retry_handlers=[])


def test_threads_updates_metadata_and_paging(slack_emulator: Running) -> None:  # noqa: F811
    w = client(slack_emulator)
    roots = [w.chat_postMessage(channel="#sec-alerts", text=f"root {i}",
                                metadata={"event_type": "t", "event_payload": {"n": i}}) for i in range(5)]
    channel = roots[0]["channel"]
    w.chat_postMessage(channel=channel, thread_ts=roots[0]["ts"], text="reply",
                       metadata={"event_type": "r", "event_payload": {"outbox_id": 7}})
    w.chat_update(channel=channel, ts=roots[1]["ts"], text="root 1 (updated)")
    page = w.conversations_history(channel=channel, limit=2, include_all_metadata=True)
    assert [m["text"] for m in page["messages"]] == ["root 4", "root 3"] and page["has_more"]
    rest = w.conversations_history(channel=channel, cursor=page["response_metadata"]["next_cursor"], limit=10)
    assert [m["text"] for m in rest["messages"]] == ["root 2", "root 1 (updated)", "root 0"]
    assert "metadata" not in rest["messages"][0]  # only with include_all_metadata
    thread = w.conversations_replies(channel=channel, ts=roots[0]["ts"], include_all_metadata=True)["messages"]
    assert [m["text"] for m in thread] == ["root 0", "reply"]
    assert thread[1]["metadata"]["event_payload"] == {"outbox_id": 7}
    assert w.auth_test()["url"] == "https://breachline-test.slack.com/"


@pytest.mark.parametrize(("call", "error"), [
    ({"channel": "#nowhere", "text": "x"}, "channel_not_found"),
    ({"channel": "#sec-alerts", "text": "x" * 40_001}, "msg_too_long"),
    ({"channel": "#sec-alerts"}, "no_text"),
    ({"channel": "#sec-alerts", "text": "x", "thread_ts": "1.000001"}, "thread_not_found"),
    ({"channel": "#sec-alerts", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]},
     "invalid_blocks"),
])
def test_errors_are_ok_false(slack_emulator: Running, call: dict[str, object], error: str) -> None:  # noqa: F811
    with pytest.raises(SlackApiError) as failed:
        client(slack_emulator).chat_postMessage(**call)  # type: ignore[arg-type]
    assert failed.value.response.status_code == 200 and failed.value.response["error"] == error


def test_bad_token(slack_emulator: Running) -> None:  # noqa: F811
    with pytest.raises(SlackApiError) as failed:
        client(slack_emulator, "xoxb-nope").auth_test()
    assert failed.value.response["error"] == "invalid_auth"


def test_faults_are_switched_over_http(slack_emulator: Running) -> None:  # noqa: F811
    w = client(slack_emulator)
    slack_emulator.control.faults(rate=1.0, kinds=["429"], retry_after=[3])
    with pytest.raises(SlackApiError) as limited:
        w.auth_test()
    assert limited.value.response.status_code == 429 and limited.value.response.headers["Retry-After"] == "3"
    slack_emulator.control.faults(rate=1.0, kinds=["invalid_auth", "channel_not_found"], seed=3)
    errors = set()
    for _ in range(12):
        with pytest.raises(SlackApiError) as failed:
            w.chat_postMessage(channel="#sec-alerts", text="x")
        errors.add(failed.value.response["error"])
    assert errors == {"invalid_auth", "channel_not_found"}
    slack_emulator.control.faults(rate=1.0, kinds=["msg_too_long"])
    w.auth_test()  # a read is never "too long": the fault does not apply
    slack_emulator.control.faults(rate=1.0, kinds=["drop_after"], paths=["chat.postMessage"])
    with pytest.raises(ConnectionError):
        w.chat_postMessage(channel="#sec-alerts", text="landed")
    slack_emulator.control.faults()
    history = w.conversations_history(channel="C0000000001")["messages"]
    assert [m["text"] for m in history] == ["landed"]  # processed, though the answer was lost


def test_incoming_webhook(slack_emulator: Running) -> None:  # noqa: F811
    hook = WebhookClient(slack_emulator.url + WEBHOOK_PATH, timeout=2)
    resp = hook.send(text="hello", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}])
    assert (resp.status_code, resp.body) == (200, "ok")
    assert WebhookClient(slack_emulator.url + "/services/T/B/x", timeout=2).send(text="x").status_code == 404
    assert hook.send(text="").body == "no_text"
    slack_emulator.control.faults(rate=1.0, kinds=["429"], retry_after=[0])
    resp = hook.send(text="limited")
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "0"
    assert slack_emulator.control.state()["webhook_messages"][0]["text"] == "hello"


def test_runs_as_a_separate_process() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "tests.emulators.slack", "--port", "0", "--channel", "ops"],
                            cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        w = WebClient(token="xoxb-test-token", base_url=url + "/api/", timeout=5)
        w.chat_postMessage(channel="#ops", text="from another process")
        state = Control(url).state()
        assert state["channels"]["C0000000001"]["name"] == "ops"
        assert state["channels"]["C0000000001"]["messages"][0]["text"] == "from another process"
        assert state["_requests"] == 1
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
