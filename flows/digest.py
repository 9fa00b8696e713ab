"""The `digest` flow: once a day, per playbook, what the store saw.

For each playbook active in the period (processing time: when correlate and notify wrote the rows): alerts,
incidents opened, matches suppressed by exceptions, which exceptions did the suppressing, and the noisiest groups.
Always published as the `breachline-digest` markdown artifact; then posted to Slack through the project's Slack
sink when [slack] is configured (Web API or incoming webhook), else printed by the console sink.

Every data-derived string (group values, exception owners, ...) passes through the same redactor as incident
messages, in the artifact too: the Prefect server is one more place the text goes.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field, replace
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.states import State

from breachline.config import Config, load_config, parse_duration
from breachline.store import open_store
from connectors.sinks import DeliverySettings, Request, SinkFailure, build_sinks

ARTIFACT_KEY = "breachline-digest"
DIGEST_EVENT = "breachline_digest"   # Slack message metadata: finds a digest already posted (retries, reruns)
MAX_PLAYBOOK_BLOCKS = 40             # Slack allows 50 blocks per message; the rest are summarised in one line
STORE_WAIT_SECONDS = 600.0           # a pipeline step may hold the DuckDB file for minutes: wait, don't fail


@dataclass
class PlaybookDigest:
    playbook_id: str
    alerts: int = 0
    incidents: int = 0
    folded: int = 0                  # incidents opened past the alert budget, reported through a digest incident
    suppressed: int = 0
    exceptions: list[tuple[str, str, int]] = field(default_factory=list)  # (exception ref, owner, matches)
    noisiest: list[tuple[str, int]] = field(default_factory=list)         # (group values as text, alerts)


@dataclass
class Digest:
    since: dt.datetime
    until: dt.datetime
    playbooks: list[PlaybookDigest]

    @property
    def digest_id(self) -> str:
        """Stable for one period: a retried or rerun digest finds its earlier message instead of posting again."""
        hours = (self.until - self.since).total_seconds() / 3600
        return f"digest-{self.until:%Y%m%dT%H%M%SZ}-{hours:g}h"

    def as_dict(self) -> dict[str, Any]:
        return {"digest_id": self.digest_id, "since": self.since.isoformat(), "until": self.until.isoformat(),
                "playbooks": [p.__dict__ for p in self.playbooks]}


# --- reading the store (no Prefect) --------------------------------------------------------------------------

def collect_digest(config: Config, since: dt.datetime, until: dt.datetime, *, top: int = 3) -> Digest:
    """The digest of [since, until) from the store, redacted. A store that does not exist yet is empty."""
    if not config.db_path.exists():
        return Digest(since, until, [])
    with open_store(config.db_path, read_only=True, migrate_schema=False, wait_seconds=STORE_WAIT_SECONDS) as con:
        window = [since, until]
        by_id: dict[str, PlaybookDigest] = {}

        def pb(pid: str) -> PlaybookDigest:
            return by_id.setdefault(pid, PlaybookDigest(pid))

        for pid, n in con.execute(
                "SELECT playbook_id, count(*) FROM alerts WHERE created_at >= ? AND created_at < ? GROUP BY 1",
                window).fetchall():
            pb(pid).alerts = int(n)
        for pid, opened, folded in con.execute(
                "SELECT playbook_id, count(*), count(*) FILTER (WHERE status = 'folded') FROM incidents"
                " WHERE kind = 'incident' AND opened_at >= ? AND opened_at < ? GROUP BY 1", window).fetchall():
            pb(pid).incidents, pb(pid).folded = int(opened), int(folded)
        for pid, n in con.execute(
                "SELECT playbook_id, count(DISTINCT alert_id) FROM suppressed_matches"
                " WHERE suppressed_at >= ? AND suppressed_at < ? GROUP BY 1", window).fetchall():
            pb(pid).suppressed = int(n)
        for pid, ref, owner, n in con.execute(
                "SELECT playbook_id, exception_ref, any_value(exception_owner), count(*) AS n FROM suppressed_matches"
                " WHERE suppressed_at >= ? AND suppressed_at < ? GROUP BY 1, 2 ORDER BY 1, n DESC, 2",
                window).fetchall():
            pb(pid).exceptions.append((str(ref), str(owner), int(n)))
        for pid, groups, n in con.execute(
                "SELECT playbook_id, CAST(group_values AS VARCHAR) AS g, count(*) AS n FROM alerts"
                " WHERE created_at >= ? AND created_at < ? GROUP BY 1, 2"
                " QUALIFY row_number() OVER (PARTITION BY playbook_id ORDER BY n DESC, g) <= ?"
                " ORDER BY 1, n DESC, 2", [*window, top]).fetchall():
            pb(pid).noisiest.append((_group_text(groups), int(n)))
    return _redacted(Digest(since, until, sorted(by_id.values(), key=lambda p: (-p.alerts, p.playbook_id))))


def _group_text(raw: str | None) -> str:
    try:
        values = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        return str(raw)
    if not isinstance(values, dict) or not values:
        return "-"
    return ", ".join(f"{k} = {v if isinstance(v, str) else json.dumps(v, default=str)}" for k, v in values.items())


def _redacted(digest: Digest) -> Digest:
    from connectors.sinks.redact import prime, redact

    texts = [s for p in digest.playbooks
             for s in (p.playbook_id, *(r for r, _, _ in p.exceptions), *(o for _, o, _ in p.exceptions),
                       *(g for g, _ in p.noisiest))]
    prime(texts)  # one batched redactor call instead of one per string
    return replace(digest, playbooks=[
        replace(p, playbook_id=redact(p.playbook_id),
                exceptions=[(redact(r), redact(o), n) for r, o, n in p.exceptions],
                noisiest=[(redact(g), n) for g, n in p.noisiest])
        for p in digest.playbooks])


# --- rendering -------------------------------------------------------------------------------------------------

def _period(digest: Digest) -> str:
    return f"{digest.since:%Y-%m-%d %H:%M} → {digest.until:%Y-%m-%d %H:%M} UTC"


def _exceptions_text(p: PlaybookDigest) -> str:
    return ", ".join(f"{ref} ({owner}) ×{n}" for ref, owner, n in p.exceptions) or "-"


def _noisiest_text(p: PlaybookDigest) -> str:
    return "; ".join(f"{g} ×{n}" for g, n in p.noisiest) or "-"


def md_cell(text: object) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def digest_markdown(digest: Digest) -> str:
    head = f"## breachline digest\n\n{_period(digest)} (processing time)\n\n"
    if not digest.playbooks:
        return head + "_no alerts, incidents or suppressed matches in this period_\n"
    cols = ["playbook", "alerts", "incidents", "suppressed", "exceptions applied", "noisiest groups"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for p in digest.playbooks:
        incidents = f"{p.incidents}" + (f" ({p.folded} folded)" if p.folded else "")
        cells = [p.playbook_id, p.alerts, incidents, p.suppressed, _exceptions_text(p), _noisiest_text(p)]
        lines.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
    totals = (sum(p.alerts for p in digest.playbooks), sum(p.incidents for p in digest.playbooks),
              sum(p.suppressed for p in digest.playbooks))
    return head + "\n".join(lines) + (f"\n\n**Total:** {totals[0]} alerts, {totals[1]} incidents, "
                                      f"{totals[2]} suppressed\n")


def _mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def slack_message(digest: Digest) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, Block Kit blocks), within Slack's limits whatever the number of playbooks."""
    title = f"breachline digest · {_period(digest)}"
    lines = [title]
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": _cut(title, 150)}}]
    if not digest.playbooks:
        lines.append("No alerts, incidents or suppressed matches in this period.")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": lines[-1]}})
    for i, p in enumerate(digest.playbooks):
        summary = (f"{p.alerts} alerts, {p.incidents} incidents"
                   + (f" ({p.folded} folded)" if p.folded else "") + f", {p.suppressed} suppressed")
        detail = f"exceptions: {_exceptions_text(p)}\nnoisiest: {_noisiest_text(p)}"
        lines.append(f"{p.playbook_id}: {summary}; {detail.replace(chr(10), '; ')}")
        if i < MAX_PLAYBOOK_BLOCKS:
            body = f"*{_mrkdwn(p.playbook_id)}*: {summary}\n{_mrkdwn(detail)}"
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(body, 3000)}})
    if len(digest.playbooks) > MAX_PLAYBOOK_BLOCKS:
        rest = len(digest.playbooks) - MAX_PLAYBOOK_BLOCKS
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"… and {rest} more playbook(s): see the `{ARTIFACT_KEY}` artifact"}]})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"`{digest.digest_id}`"}]})
    return _cut("\n".join(lines), 3000), blocks


# --- delivery --------------------------------------------------------------------------------------------------

def _transient(task: Any, task_run: TaskRun, state: State[Any]) -> bool:
    """Retry a post only when the failure may go away (rate limit, 5xx, network), never a wrong setting."""
    exc = state.data if isinstance(state.data, BaseException) else None
    return isinstance(exc, SinkFailure) and exc.kind == "transient"


@task(retries=2, retry_delay_seconds=[10, 60], retry_condition_fn=_transient, cache_policy=NO_CACHE)
def post_digest(settings: DeliverySettings, channel: str | None, digest_id: str, text: str,
                blocks: list[dict[str, Any]], oldest: float, console_path: str | None = None) -> dict[str, Any]:
    """Post through the Slack sink (or print through the console sink). Safe to retry with the Web API: it first
    looks for a message carrying this digest's id in its metadata."""
    from connectors.sinks.slack import SlackSink, WebhookSink

    console = open(console_path, "a", encoding="utf-8") if console_path else None  # noqa: SIM115 (closed below)
    # Jira has no part in the digest: leave it out so no Jira client is built (and no Jira call can fail it).
    sinks = build_sinks(replace(settings, jira=None), console=console)
    try:
        if "slack" in sinks.problems:
            raise SinkFailure(sinks.problems["slack"], kind="config")
        sink = sinks.sinks["slack"]
        if isinstance(sink, SlackSink) and not channel:
            raise SinkFailure("the digest has no Slack channel: set [slack] channel in breachline.toml or the "
                              "deployment's `channel` parameter", kind="config")
        if isinstance(sink, SlackSink):
            assert channel is not None
            found = _find_posted(sink, channel, digest_id, oldest)
            if found:
                return {"sink": sink.name, **found}
        request = Request(outbox_id=0, incident_id=digest_id, target="slack", action="post_root",
                          fields={"channel": channel, "text": text, "blocks": blocks,
                                  "metadata": {"event_type": DIGEST_EVENT, "event_payload": {"digest_id": digest_id}}})
        try:
            result = sink.execute(request)
        except SinkFailure as exc:
            if isinstance(sink, WebhookSink) and exc.ambiguous:
                # A webhook cannot look back: a retry after an answer lost could post the digest twice.
                raise SinkFailure(f"{exc} (the digest may have been posted; not retried)", kind="permanent") from exc
            raise
        return {"sink": sink.name, **result}
    finally:
        sinks.close()
        if console is not None:
            console.close()


def _find_posted(sink: Any, channel: str, digest_id: str, oldest: float) -> dict[str, Any] | None:
    """The digest's message if an earlier attempt (or an earlier run for the same period) posted it."""
    from slack_sdk.errors import SlackApiError

    try:
        channel_id = sink.channel_id(channel)
        cursor = None
        while True:
            resp = sink.client.conversations_history(channel=channel_id, include_all_metadata=True, limit=200,
                                                     oldest=f"{oldest:.6f}", cursor=cursor)
            for msg in list(resp.get("messages") or []):
                meta = msg.get("metadata") or {}
                if (meta.get("event_type") == DIGEST_EVENT
                        and (meta.get("event_payload") or {}).get("digest_id") == digest_id):
                    return {"channel": channel_id, "ts": msg["ts"], "found_existing": True}
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not resp.get("has_more") or not cursor:
                return None
    except SinkFailure:
        raise
    except SlackApiError as exc:
        status = exc.response.status_code
        code = exc.response.data.get("error") if isinstance(exc.response.data, dict) else None
        transient = status == 429 or status >= 500 or code in ("ratelimited", "internal_error", "fatal_error")
        raise SinkFailure(f"Slack conversations.history failed ({status} {code}) in {channel}",
                          kind="transient" if transient else "config") from exc
    except Exception as exc:  # network: a read, always safe to try again
        raise SinkFailure(f"Slack unreachable (conversations.history): {type(exc).__name__}: {exc}",
                          kind="transient") from exc


# --- the flow --------------------------------------------------------------------------------------------------

def period_end(until: str | None, now: dt.datetime | None = None) -> dt.datetime:
    """The end of the digest's period: `until` (ISO 8601, UTC if naive), else the start of the current hour, so a
    rerun within the hour covers the same period (and finds its own message)."""
    if until:
        end = dt.datetime.fromisoformat(until)
        return end.replace(tzinfo=dt.UTC) if end.tzinfo is None else end.astimezone(dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    return now.replace(minute=0, second=0, microsecond=0)


@flow(name="digest")
def digest_flow(
    config_path: str | None = None,
    db: str | None = None,
    period: str = "24h",
    until: str | None = None,
    channel: str | None = None,
    top: int = 3,
    console_path: str | None = None,
) -> dict[str, Any]:
    """period: how far back from `until` (e.g. 24h, 7d). channel: overrides [slack] channel.
    console_path: where the console sink writes when Slack is not configured (default: standard output)."""
    config = load_config(config_path, db=db)
    end = period_end(until)
    start = end - dt.timedelta(seconds=parse_duration(period, "period"))
    digest = collect_digest(config, start, end, top=top)
    # The artifact comes first: whatever happens to the Slack post, the digest is on record.
    create_markdown_artifact(markdown=digest_markdown(digest), key=ARTIFACT_KEY,
                             description=f"breachline digest {_period(digest)}")
    settings = DeliverySettings.from_config(config)
    target = channel or (settings.slack.channel if settings.slack else None)
    text, blocks = slack_message(digest)
    delivered = post_digest(settings, target, digest.digest_id, text, blocks, end.timestamp() - 60, console_path)
    get_run_logger().info("digest %s: %d playbook(s) active, delivered via %s%s", digest.digest_id,
                          len(digest.playbooks), delivered.get("sink"),
                          " (already posted)" if delivered.get("found_existing") else "")
    return {**digest.as_dict(), "delivery": delivered}
