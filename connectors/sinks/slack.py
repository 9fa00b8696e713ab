"""Slack sinks: the Web API (bot token; root message + thread + chat.update) and incoming webhooks (no threads).

Messages carry metadata {incident_id, outbox_id}: when an earlier attempt may have landed (the process died, or
the answer was lost), conversations.history / conversations.replies find the message instead of posting twice.
Client-side retries: rate limits (honouring Retry-After), 500/503, and connection errors that happened before
the request was sent. An answer lost after sending is not retried inside the client (a second post would be a
duplicate): it goes back to the outbox, which looks before it resends.
"""

from __future__ import annotations

import http.client
import threading
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.webhook import WebhookClient

from connectors.sinks.base import Request, SinkFailure, parse_retry_after
from connectors.sinks.render import compact
from connectors.sinks.settings import SlackSettings

ROOT_EVENT = "breachline_incident"
REPLY_EVENT = "breachline_update"
_AUTH_ERRORS = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
                "no_permission", "team_access_not_granted", "org_login_required", "ekm_access_denied"}
_CHANNEL_ERRORS = {"channel_not_found", "not_in_channel", "is_archived", "restricted_action"}
_TRANSIENT_ERRORS = {"ratelimited", "service_unavailable", "fatal_error", "internal_error", "request_timeout"}
_TOO_LONG = {"msg_too_long", "invalid_blocks", "invalid_blocks_format", "too_many_attachments"}


def retry_handlers(count: int) -> list[RetryHandler]:
    """Rate limit (Retry-After), 500/503, and connection errors raised before the request left (URLError)."""
    return [
        RateLimitErrorRetryHandler(max_retry_count=count),
        ServerErrorRetryHandler(max_retry_count=count),
        ConnectionErrorRetryHandler(max_retry_count=count, error_types=[URLError]),
    ]


class SlackSink:
    name = "slack"
    target = "slack"
    real = True

    def __init__(self, settings: SlackSettings, token: str) -> None:
        self.settings = settings
        self.client = WebClient(token=token, base_url=settings.base_url, timeout=settings.timeout_seconds,  # type: ignore[arg-type]
                                retry_handlers=retry_handlers(settings.client_retries))
        self._lock = threading.Lock()
        self._workspace_url: str | None = None
        self._channel_ids: dict[str, str] = {}

    def close(self) -> None:
        pass

    # --- actions -------------------------------------------------------------------------------------------

    def execute(self, request: Request) -> dict[str, Any]:
        f = request.fields
        channel = f["channel"]
        try:
            if request.action == "post_root":
                return self._post_root(request, channel)
            if request.action == "thread_reply":
                return self._reply(request, channel)
            if request.action == "update_root":
                self._call(self.client.chat_update, channel=channel, ts=f["ts"], text=f["text"], blocks=f["blocks"])
                return {"channel": channel, "ts": f["ts"]}
        except SinkFailure:
            raise
        except Exception as exc:
            raise self._failure(exc, request.action, channel) from exc
        raise SinkFailure(f"slack cannot {request.action}", kind="permanent")

    def _post_root(self, request: Request, channel: str) -> dict[str, Any]:
        f = request.fields
        # Every call that can fail comes before the post: once the message exists, this attempt must not fail.
        workspace = self.workspace_url()
        if request.check_first:
            found = self._find_root(request, channel)
            if found:
                return found
        resp = self._call(self.client.chat_postMessage, channel=channel, text=f["text"], blocks=f["blocks"],
                          metadata=f["metadata"], unfurl_links=False, unfurl_media=False)
        channel_id, ts = resp["channel"], resp["ts"]
        with self._lock:
            self._channel_ids[channel] = channel_id
        return {"channel": channel_id, "ts": ts, "permalink": _permalink(workspace, channel_id, ts)}

    def _reply(self, request: Request, channel: str) -> dict[str, Any]:
        f = request.fields
        if request.check_first:
            found = self._find_reply(request, channel, f["thread_ts"])
            if found:
                return found
        resp = self._call(self.client.chat_postMessage, channel=channel, thread_ts=f["thread_ts"], text=f["text"],
                          blocks=f["blocks"], metadata=f["metadata"], unfurl_links=False, unfurl_media=False)
        return {"channel": resp["channel"], "ts": resp["ts"]}

    def _call(self, method: Any, **kwargs: Any) -> Any:
        """Call; on msg_too_long / invalid_blocks send once more as a short plain message rather than give up."""
        try:
            return method(**kwargs)
        except SlackApiError as exc:
            if _error_code(exc) not in _TOO_LONG or "text" not in kwargs:
                raise
        kwargs = {**kwargs, "text": compact(kwargs["text"]), "blocks": None}
        try:
            return method(**kwargs)
        except SlackApiError as exc:
            if _error_code(exc) in _TOO_LONG:
                # The compact form is far below Slack's limits: a refusal of it is a glitch (or a changed limit),
                # so retry later and let max_attempts decide, rather than dead-letter on the first refusal.
                raise SinkFailure(f"Slack refused even the compact message ({_error_code(exc)})",
                                  kind="transient") from exc
            raise

    # --- finding what an earlier attempt posted ------------------------------------------------------------

    def _find_root(self, request: Request, channel: str) -> dict[str, Any] | None:
        channel_id = self.channel_id(channel)
        oldest = f"{request.first_attempt_at.timestamp() - 300:.6f}" if request.first_attempt_at else None
        cursor = None
        while True:
            resp = self.client.conversations_history(channel=channel_id, include_all_metadata=True, limit=200,
                                                     oldest=oldest, cursor=cursor)
            for msg in list(resp.get("messages") or []):
                meta = msg.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                if meta.get("event_type") == ROOT_EVENT and payload.get("incident_id") == request.incident_id:
                    return {"channel": channel_id, "ts": msg["ts"], "found_existing": True,
                            "permalink": _permalink(self.workspace_url(), channel_id, msg["ts"])}
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not resp.get("has_more") or not cursor:
                return None

    def _find_reply(self, request: Request, channel: str, thread_ts: str) -> dict[str, Any] | None:
        channel_id = self.channel_id(channel)
        cursor = None
        while True:
            resp = self.client.conversations_replies(channel=channel_id, ts=thread_ts, include_all_metadata=True,
                                                     limit=200, cursor=cursor)
            for msg in list(resp.get("messages") or []):
                payload = (msg.get("metadata") or {}).get("event_payload") or {}
                if payload.get("outbox_id") == request.outbox_id:
                    return {"channel": channel_id, "ts": msg["ts"], "found_existing": True}
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not resp.get("has_more") or not cursor:
                return None

    def channel_id(self, channel: str) -> str:
        """C…/G… IDs pass through; a #name is resolved once with conversations.list (scope channels:read)."""
        if channel[:1] in "CGD" and channel.isupper() and channel.isalnum():
            return channel
        with self._lock:
            if channel in self._channel_ids:
                return self._channel_ids[channel]
        name = channel.lstrip("#")
        cursor = None
        while True:
            resp = self.client.conversations_list(types="public_channel,private_channel", limit=1000,
                                                  exclude_archived=True, cursor=cursor)
            for c in list(resp.get("channels") or []):
                if c.get("name") == name:
                    with self._lock:
                        self._channel_ids[channel] = c["id"]
                    return str(c["id"])
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                raise SinkFailure(f"Slack channel {channel!r} not found: fix notify.slack.channel in the playbook "
                                  "or [slack] channel (an ID such as C0123456789 avoids the lookup)",
                                  kind="config", scope=channel)

    def workspace_url(self) -> str | None:
        with self._lock:
            if self._workspace_url is not None:
                return self._workspace_url or None
        try:
            url = str(self.client.auth_test().get("url") or "")
        except Exception as exc:
            raise self._failure(exc, "auth.test", None) from exc
        with self._lock:
            self._workspace_url = url
        return url or None

    # --- errors --------------------------------------------------------------------------------------------

    def _failure(self, exc: Exception, doing: str, channel: str | None) -> SinkFailure:
        s = self.settings
        if isinstance(exc, SlackApiError):
            status = exc.response.status_code
            code = _error_code(exc)
            if status == 429 or code == "ratelimited":
                return SinkFailure("Slack rate limit (429)", kind="transient",
                                   retry_after=parse_retry_after(_header(exc, "Retry-After")))
            if status >= 500:
                return SinkFailure(f"Slack server error (HTTP {status}, {doing})", kind="transient", ambiguous=True,
                                   retry_after=parse_retry_after(_header(exc, "Retry-After")))
            if code in _AUTH_ERRORS:
                return SinkFailure(f"Slack rejected the bot token ({code}): put a valid xoxb- token in "
                                   f"${s.token_env} ([slack] token_env)", kind="config")
            if code == "missing_scope":
                needed = (exc.response.data or {}).get("needed", "?") if isinstance(exc.response.data, dict) else "?"
                return SinkFailure(f"the Slack app lacks the scope {needed} ({doing}): add it under OAuth & "
                                   "Permissions and reinstall the app", kind="config")
            if code in _CHANNEL_ERRORS:
                return SinkFailure(f"Slack channel {channel!r} not usable ({code}): fix notify.slack.channel in the "
                                   "playbook or [slack] channel, and invite the bot to it", kind="config",
                                   scope=channel)
            if code in _TRANSIENT_ERRORS:
                return SinkFailure(f"Slack error {code} ({doing})", kind="transient")
            return SinkFailure(f"Slack refused {doing}: {code}", kind="permanent")
        if isinstance(exc, URLError):  # raised while connecting or sending: the request never arrived whole
            return SinkFailure(f"Slack unreachable ({doing}): {exc.reason}", kind="transient")
        if isinstance(exc, TimeoutError):
            return SinkFailure(f"Slack did not answer within {s.timeout_seconds:g}s ({doing})", kind="transient",
                               ambiguous=True)
        if isinstance(exc, http.client.HTTPException | ConnectionError):
            return SinkFailure(f"Slack connection lost ({doing}): {type(exc).__name__}", kind="transient",
                               ambiguous=True)
        return SinkFailure(f"Slack call failed ({doing}): {type(exc).__name__}: {str(exc)[:200]}",
                           kind="transient", ambiguous=True)


class WebhookSink:
    """Incoming webhook: one message per action, no threads, no updates (at-least-once: it cannot look back)."""

    name = "webhook"
    target = "slack"
    real = False  # no ts to record, no thread

    def __init__(self, settings: SlackSettings, url: str) -> None:
        self.settings = settings
        self.client = WebhookClient(url, timeout=settings.timeout_seconds,  # type: ignore[arg-type]
                                    retry_handlers=retry_handlers(settings.client_retries))

    def close(self) -> None:
        pass

    def execute(self, request: Request) -> dict[str, Any]:
        if request.action == "update_root":
            return {"skipped": "incoming webhooks cannot update a message"}
        f = request.fields
        text, blocks = f["text"], f.get("blocks")
        try:
            resp = self.client.send(text=text, blocks=blocks)
            if resp.status_code == 400 and resp.body in _TOO_LONG | {"invalid_payload", "invalid_blocks"}:
                resp = self.client.send(text=compact(text))
        except Exception as exc:
            if isinstance(exc, TimeoutError | http.client.HTTPException | ConnectionError):
                raise SinkFailure(f"Slack webhook: no answer ({type(exc).__name__})", kind="transient",
                                  ambiguous=True) from exc
            raise SinkFailure(f"Slack webhook unreachable: {exc}", kind="transient") from exc
        if resp.status_code == 200:
            return {"status": 200}
        body = (resp.body or "").strip()
        hint = f"fix the URL in ${self.settings.webhook_url_env} ([slack] webhook_url_env)"
        if resp.status_code == 429:
            raise SinkFailure("Slack webhook rate limit (429)", kind="transient",
                              retry_after=parse_retry_after(resp.headers.get("Retry-After") or
                                                            resp.headers.get("retry-after")))
        if resp.status_code >= 500:
            raise SinkFailure(f"Slack webhook server error ({resp.status_code})", kind="transient", ambiguous=True)
        if resp.status_code in (403, 404, 410) or body in {"no_service", "no_team", "invalid_token",
                                                            "channel_not_found", "channel_is_archived",
                                                            "action_prohibited"}:
            raise SinkFailure(f"Slack webhook refused ({resp.status_code} {body}): {hint}", kind="config")
        raise SinkFailure(f"Slack webhook refused the message ({resp.status_code} {body})", kind="permanent")


def _permalink(workspace: str | None, channel_id: str, ts: str) -> str | None:
    # The documented permalink shape; chat.getPermalink would be one more call after the post, one more way to fail.
    return f"{workspace.rstrip('/')}/archives/{channel_id}/p{ts.replace('.', '')}" if workspace else None


def _error_code(exc: SlackApiError) -> str:
    data = exc.response.data
    return str(data.get("error", "")) if isinstance(data, dict) else ""


def _header(exc: SlackApiError, name: str) -> Any:
    headers = exc.response.headers or {}
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v
    return None
