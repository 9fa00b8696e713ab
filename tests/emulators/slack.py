"""A stateful Slack Web API emulator (plus incoming webhooks), driven by the real slack_sdk clients.

Methods under /api/: auth.test, chat.postMessage, chat.update, conversations.history, conversations.replies,
conversations.list. Errors are HTTP 200 with {"ok": false, "error": ...} as Slack does; rate limits are 429 with
Retry-After. Message metadata is stored and returned with include_all_metadata. Incoming webhooks:
POST /services/T…/B…/<secret> answers `ok` as text, errors as status + text body.
Service-specific fault kinds: channel_not_found, invalid_auth, msg_too_long (ok: false answers).

Run alone: python -m tests.emulators.slack --port 0 [--channel sec-alerts ...]
"""

from __future__ import annotations

import argparse
import base64
import json
import time
from typing import Any
from urllib.parse import parse_qs

from tests.emulators.common import App, Req, Resp, serve_main

SLACK_FAULTS = ("channel_not_found", "invalid_auth", "msg_too_long")
TEAM = {"id": "T0BREACH1", "name": "breachline-test", "url": "https://breachline-test.slack.com/"}
WEBHOOK_PATH = "/services/T0BREACH1/B0HOOK0001/emulatorsecret"


class SlackApp(App):
    faults_prefixes = ("/api/", "/services/")

    def __init__(self, *, channels: list[str] | None = None, token: str | None = "xoxb-test-token") -> None:
        self.channel_names = channels or ["sec-alerts", "soc"]
        self.token = token
        self.reset()

    def reset(self) -> None:
        self.channels: dict[str, dict[str, Any]] = {}
        for i, name in enumerate(self.channel_names):
            cid = f"C0{i + 1:09d}"
            self.channels[cid] = {"id": cid, "name": name, "messages": [], "replies": {}}
        self.webhook_messages: list[dict[str, Any]] = []
        self._last_us = 0

    # --- plumbing --------------------------------------------------------------------------------------------

    def _ts(self) -> str:
        us = max(int(time.time() * 1_000_000), self._last_us + 1)
        self._last_us = us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def _args(self, req: Req) -> dict[str, Any]:
        args: dict[str, Any] = {k: v[0] for k, v in req.query.items()}
        ctype = req.headers.get("content-type", "")
        if req.body:
            if "json" in ctype:
                args.update(req.json() or {})
            else:
                args.update({k: v[0] for k, v in parse_qs(req.text()).items()})
        return args

    def _channel(self, ref: Any, *, by_name: bool) -> dict[str, Any] | None:
        if not isinstance(ref, str):
            return None
        if ref in self.channels:
            return self.channels[ref]
        if by_name:
            name = ref.lstrip("#")
            for c in self.channels.values():
                if c["name"] == name:
                    return c
        return None

    def handle(self, req: Req, base_url: str) -> Resp:
        if req.path.startswith("/services/"):
            return self._webhook(req)
        if not req.path.startswith("/api/"):
            return Resp(404, "not found")
        method = req.path[len("/api/"):]
        args = self._args(req)
        token = req.headers.get("authorization", "")[len("Bearer "):] or args.get("token")
        if not token:
            return _err("not_authed")
        if self.token is not None and token != self.token:
            return _err("invalid_auth")
        handler = {
            "auth.test": self._auth_test, "chat.postMessage": self._post, "chat.update": self._update,
            "conversations.history": self._history, "conversations.replies": self._replies,
            "conversations.list": self._list,
        }.get(method)
        if handler is None:
            return Resp(404, {"ok": False, "error": "unknown_method"})
        return handler(args)

    def fault_response(self, kind: str, req: Req, retry_after: int) -> Resp | None:
        webhook = req.path.startswith("/services/")
        if kind == "429":
            headers = {"Retry-After": str(retry_after)}
            return Resp(429, "rate_limited", headers) if webhook else Resp(
                429, {"ok": False, "error": "ratelimited"}, headers)
        if kind in ("500", "502", "503"):
            page = "<html><head><title>Server Error | Slack</title></head><body>Server Error</body></html>"
            return Resp(int(kind), page, content_type="text/html")
        if kind in SLACK_FAULTS:
            if webhook:
                status, text = {"channel_not_found": (404, "channel_not_found"),
                                "invalid_auth": (403, "invalid_token"),
                                "msg_too_long": (400, "msg_too_long")}[kind]
                return Resp(status, text)
            return _err(kind)
        return None

    def fault_applies(self, kind: str, req: Req) -> bool:
        method = req.path.rsplit("/", 1)[-1]
        if kind == "msg_too_long":
            return method in ("chat.postMessage", "chat.update") or req.path.startswith("/services/")
        if kind == "channel_not_found":
            return method != "auth.test"
        return True

    # --- methods ---------------------------------------------------------------------------------------------

    def _auth_test(self, args: dict[str, Any]) -> Resp:
        return Resp(200, {"ok": True, "url": TEAM["url"], "team": TEAM["name"], "user": "breachline",
                          "team_id": TEAM["id"], "user_id": "U0BOT00001", "bot_id": "B0BOT00001",
                          "is_enterprise_install": False})

    def _validate_content(self, args: dict[str, Any]) -> tuple[str | None, list[Any] | None]:
        text = args.get("text")
        blocks = args.get("blocks")
        if isinstance(blocks, str):
            try:
                blocks = json.loads(blocks)
            except ValueError:
                return "invalid_blocks_format", None
        if not text and not blocks:
            return "no_text", None
        if text and len(text) > 40000:
            return "msg_too_long", None
        if blocks is not None:
            if not isinstance(blocks, list) or len(blocks) > 50:
                return "invalid_blocks", None
            for b in blocks:
                if b.get("type") == "header" and len(b.get("text", {}).get("text", "")) > 150:
                    return "invalid_blocks", None
                if b.get("type") == "section" and (
                        len((b.get("text") or {}).get("text", "")) > 3000 or len(b.get("fields") or []) > 10):
                    return "invalid_blocks", None
        return None, blocks

    def _post(self, args: dict[str, Any]) -> Resp:
        channel = self._channel(args.get("channel"), by_name=True)
        if channel is None:
            return _err("channel_not_found")
        error, blocks = self._validate_content(args)
        if error:
            return _err(error)
        metadata = args.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        msg = {"type": "message", "ts": self._ts(), "text": args.get("text") or "", "blocks": blocks,
               "user": "U0BOT00001", "bot_id": "B0BOT00001", "metadata": metadata}
        thread_ts = args.get("thread_ts")
        if thread_ts:
            parent = next((m for m in channel["messages"] if m["ts"] == thread_ts), None)
            if parent is None:
                return _err("thread_not_found")
            msg["thread_ts"] = thread_ts
            channel["replies"].setdefault(thread_ts, []).append(msg)
            parent["reply_count"] = len(channel["replies"][thread_ts])
            parent["thread_ts"] = thread_ts
        else:
            channel["messages"].append(msg)
        return Resp(200, {"ok": True, "channel": channel["id"], "ts": msg["ts"], "message": _public(msg, True)})

    def _update(self, args: dict[str, Any]) -> Resp:
        channel = self._channel(args.get("channel"), by_name=False)
        if channel is None:
            return _err("channel_not_found")
        ts = args.get("ts")
        msg = next((m for m in channel["messages"] if m["ts"] == ts), None)
        if msg is None:
            msg = next((m for r in channel["replies"].values() for m in r if m["ts"] == ts), None)
        if msg is None:
            return _err("message_not_found")
        error, blocks = self._validate_content(args)
        if error:
            return _err(error)
        msg["text"], msg["blocks"] = args.get("text") or "", blocks
        msg["edited"] = {"user": "U0BOT00001", "ts": self._ts()}
        msg["update_count"] = msg.get("update_count", 0) + 1
        if args.get("metadata"):
            msg["metadata"] = args["metadata"]
        return Resp(200, {"ok": True, "channel": channel["id"], "ts": ts, "text": msg["text"],
                          "message": _public(msg, True)})

    def _history(self, args: dict[str, Any]) -> Resp:
        channel = self._channel(args.get("channel"), by_name=False)
        if channel is None:
            return _err("channel_not_found")
        oldest, latest = float(args.get("oldest") or 0), float(args.get("latest") or 1e12)
        msgs = [m for m in reversed(channel["messages"]) if oldest < float(m["ts"]) < latest]
        return self._page(msgs, args, "messages", _flag(args.get("include_all_metadata")))

    def _replies(self, args: dict[str, Any]) -> Resp:
        channel = self._channel(args.get("channel"), by_name=False)
        if channel is None:
            return _err("channel_not_found")
        parent = next((m for m in channel["messages"] if m["ts"] == args.get("ts")), None)
        if parent is None:
            return _err("thread_not_found")
        msgs = [parent, *channel["replies"].get(parent["ts"], [])]
        return self._page(msgs, args, "messages", _flag(args.get("include_all_metadata")))

    def _list(self, args: dict[str, Any]) -> Resp:
        chans = [{"id": c["id"], "name": c["name"], "is_channel": True, "is_private": False, "is_archived": False,
                  "is_member": True} for c in self.channels.values()]
        return self._page(chans, args, "channels", True, public=False)

    def _page(self, items: list[dict[str, Any]], args: dict[str, Any], key: str, with_meta: bool,
              public: bool = True) -> Resp:
        limit = max(1, min(int(args.get("limit") or 100), 999))
        cursor = args.get("cursor")
        start = int(base64.b64decode(cursor).decode().split(":")[1]) if cursor else 0
        page = items[start : start + limit]
        more = start + limit < len(items)
        next_cursor = base64.b64encode(f"next:{start + limit}".encode()).decode() if more else ""
        out = [_public(m, with_meta) for m in page] if public else page
        return Resp(200, {"ok": True, key: out, "has_more": more,
                          "response_metadata": {"next_cursor": next_cursor}})

    # --- incoming webhook ------------------------------------------------------------------------------------

    def _webhook(self, req: Req) -> Resp:
        if req.path != WEBHOOK_PATH:
            return Resp(404, "no_service")
        try:
            body = req.json() or {}
        except ValueError:
            return Resp(400, "invalid_payload")
        if not body.get("text") and not body.get("blocks") and not body.get("attachments"):
            return Resp(400, "no_text")
        if len(body.get("text") or "") > 40000:
            return Resp(400, "msg_too_long")
        self.webhook_messages.append({"ts": self._ts(), "text": body.get("text"), "blocks": body.get("blocks")})
        return Resp(200, "ok")

    # --- state -----------------------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        chans = {}
        for cid, c in self.channels.items():
            chans[cid] = {"name": c["name"], "messages": [
                {**_public(m, True), "replies": [_public(r, True) for r in c["replies"].get(m["ts"], [])]}
                for m in c["messages"]]}
        return {"channels": chans, "webhook_messages": list(self.webhook_messages)}


def _public(msg: dict[str, Any], with_meta: bool) -> dict[str, Any]:
    out = {k: v for k, v in msg.items() if v is not None and (with_meta or k != "metadata")}
    return out


def _flag(value: Any) -> bool:
    return str(value).lower() in ("1", "true")


def _err(code: str) -> Resp:
    return Resp(200, {"ok": False, "error": code})


def main(argv: list[str] | None = None) -> int:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--channel", action="append", default=None, help="channel name (repeatable)")
        p.add_argument("--token", default="xoxb-test-token")

    def make(args: argparse.Namespace) -> App:
        return SlackApp(channels=args.channel, token=args.token or None)

    return serve_main(make, add, "python -m tests.emulators.slack", argv)


if __name__ == "__main__":
    raise SystemExit(main())
