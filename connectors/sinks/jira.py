"""Jira sink (REST v2 through the `jira` client; Jira Cloud and Data Center both accept v2 with wiki markup).

Idempotency: a ticket carries the label bl-<incident hash>; before creating one we search
`labels = "bl-…" AND statusCategory != Done`, so a crash between "created" and "recorded" never makes a second
ticket. A comment carries `ref bl-ref-<outbox id>`, looked for when an earlier attempt may have landed.
The client's own retries are off by default (they sleep up to a minute): the outbox retries with backoff.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from typing import Any

import requests
from jira import JIRA, JIRAError

from connectors.sinks.base import Request, SinkFailure, parse_retry_after
from connectors.sinks.settings import JiraSettings

_DONE = "done"


class JiraSink:
    name = "jira"
    target = "jira"
    real = True

    def __init__(self, settings: JiraSettings, token: str) -> None:
        self.settings = settings
        self._token = token
        self._local = threading.local()  # requests sessions are not meant to be shared between threads

    # --- connection ----------------------------------------------------------------------------------------

    def _client(self) -> JIRA:
        client: JIRA | None = getattr(self._local, "client", None)
        if client is None:
            s = self.settings
            auth: dict[str, Any] = {"basic_auth": (s.user, self._token)} if s.user else {"token_auth": self._token}
            try:
                client = JIRA(server=s.url, max_retries=s.client_retries, timeout=s.timeout_seconds,
                              logging=False, **auth)
            except Exception as exc:
                raise self._failure(exc, "connecting") from exc
            if s.deployment is not None:  # an explicit setting wins over what serverInfo said
                client.deploymentType = "Cloud" if s.deployment == "cloud" else "Server"
            self._local.client = client
        return client

    def close(self) -> None:
        client = getattr(self._local, "client", None)
        if client is not None:
            client.close()

    @property
    def browse_base(self) -> str:
        return self.settings.url.rstrip("/") + "/browse/"

    # --- actions -------------------------------------------------------------------------------------------

    def execute(self, request: Request) -> dict[str, Any]:
        f = request.fields
        try:
            if request.action == "create_ticket":
                return self._create(f)
            if request.action == "comment":
                return self._comment(f, check_first=request.check_first)
            if request.action == "transition":
                return self._transition(f["key"], f["to"])
            if request.action == "update_ticket":
                self._put_fields(f["key"], {"description": f["description"]})
                return {"key": f["key"]}
        except SinkFailure:
            raise
        except Exception as exc:
            raise self._failure(exc, request.action, project=f.get("project")) from exc
        raise SinkFailure(f"jira cannot {request.action}", kind="permanent")

    def _create(self, f: dict[str, Any]) -> dict[str, Any]:
        found = self.find_open(f["label"])
        if found:
            return {"key": found, "url": self.browse_base + found, "found_existing": True}
        fields = {
            "project": {"key": f["project"]},
            "issuetype": {"name": f["issue_type"]},
            "summary": f["summary"],
            "description": f["description"],
            "labels": f["labels"],
            "priority": {"name": f["priority"]},
            "duedate": f["duedate"],
        }
        issue = self._client().create_issue(fields=fields, prefetch=False)
        return {"key": issue.key, "url": self.browse_base + issue.key}

    def find_open(self, label: str) -> str | None:
        """The key of the open ticket carrying `label` (Cloud: /search/jql, Server and DC: /search)."""
        jql = f'labels = "{_jql_string(label)}" AND statusCategory != Done ORDER BY created ASC'
        issues = self._client().search_issues(jql, maxResults=5, fields="status,labels")
        keys = [i.key for i in issues]
        return keys[0] if keys else None

    def _comment(self, f: dict[str, Any], *, check_first: bool) -> dict[str, Any]:
        client = self._client()
        if check_first:
            pattern = re.compile(re.escape(f["ref"]) + r"(?!\d)")  # bl-ref-12 must not match bl-ref-123
            for c in client.comments(f["key"], max_results=100, order_by="-created"):
                if pattern.search(c.body or ""):
                    return {"key": f["key"], "comment_id": c.id, "found_existing": True}
        comment = client.add_comment(f["key"], f["body"])
        return {"key": f["key"], "comment_id": comment.id}

    def _transition(self, key: str, to_category: str) -> dict[str, Any]:
        client = self._client()
        issue = client.issue(key, fields="status")
        current = issue.fields.status.statusCategory.key
        if current == to_category:
            return {"key": key, "status": issue.fields.status.name, "already": True}
        # Workflows differ in transition names: pick one by the category of the status it leads to.
        for t in client.transitions(key):
            if t.get("to", {}).get("statusCategory", {}).get("key") == to_category:
                client.transition_issue(key, t["id"])
                return {"key": key, "status": t["to"].get("name")}
        raise SinkFailure(f"Jira ticket {key}: the workflow offers no transition to a '{to_category}' status",
                          kind="permanent")

    def _put_fields(self, key: str, fields: dict[str, Any]) -> None:
        client = self._client()
        # Issue.update() would GET the issue first; a plain PUT is one call and idempotent.
        client._session.put(client._get_url(f"issue/{key}"), data=json.dumps({"fields": fields}))

    def done_keys(self, keys: Iterable[str]) -> set[str]:
        """Which of these tickets are in a Done status category (read back to close incidents)."""
        keys = list(keys)
        done: set[str] = set()
        try:
            for i in range(0, len(keys), 50):
                chunk = keys[i : i + 50]
                jql = f"key in ({', '.join(chunk)}) AND statusCategory = Done"
                for issue in self._client().search_issues(jql, maxResults=False, fields="status"):
                    done.add(issue.key)
        except SinkFailure:
            raise
        except Exception as exc:
            raise self._failure(exc, "reading ticket status") from exc
        return done

    # --- errors --------------------------------------------------------------------------------------------

    def _failure(self, exc: Exception, doing: str, *, project: str | None = None) -> SinkFailure:
        s = self.settings
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return SinkFailure(f"Jira at {s.url} did not accept a connection ({doing})", kind="transient")
        if isinstance(exc, requests.exceptions.Timeout):
            return SinkFailure(f"Jira did not answer within {s.timeout_seconds:g}s ({doing})", kind="transient",
                               ambiguous=True)
        if isinstance(exc, requests.exceptions.ConnectionError):
            text = str(exc)
            before_send = "NewConnectionError" in text or "Connection refused" in text
            return SinkFailure(f"Jira connection failed ({doing}): {_short(text)}", kind="transient",
                               ambiguous=not before_send)
        if isinstance(exc, JIRAError):
            return self._http_failure(exc, doing, project)
        return SinkFailure(f"Jira call failed ({doing}): {type(exc).__name__}: {_short(str(exc))}",
                           kind="transient", ambiguous=True)

    def _http_failure(self, exc: JIRAError, doing: str, project: str | None) -> SinkFailure:
        s = self.settings
        status = exc.status_code or 0
        headers = exc.response.headers if exc.response is not None else {}
        errors = _error_fields(exc)
        token_hint = f"${s.token_env} ([jira] token_env)"
        if status == 401:
            who = f"[jira] user {s.user!r} with the API token in " if s.user else "the personal access token in "
            return SinkFailure(f"Jira rejected the credentials (HTTP 401): check {who}{token_hint}", kind="config")
        if status == 403:
            return SinkFailure(f"Jira refused access (HTTP 403, {doing}): give the breachline user permission to "
                               f"browse and create issues in project {project or s.project}", kind="config")
        if status == 429:
            return SinkFailure("Jira rate limit (HTTP 429)", kind="transient",
                               retry_after=parse_retry_after(headers.get("Retry-After")))
        if status >= 500:
            return SinkFailure(f"Jira server error (HTTP {status}, {doing})", kind="transient", ambiguous=status != 503,
                               retry_after=parse_retry_after(headers.get("Retry-After")))
        if doing == "connecting" and status in (404, 410):
            return SinkFailure(f"no Jira REST API at {s.url} (HTTP {status}): check [jira] url", kind="config")
        if status == 410:
            return SinkFailure("Jira removed this search API (HTTP 410): set [jira] deployment = \"cloud\"",
                               kind="config")
        if "project" in errors or "pid" in errors:
            return SinkFailure(f"Jira project {project!r} does not exist or the user cannot create issues in it: "
                               "fix notify.jira.project in the playbook or [jira] project", kind="config",
                               scope=project)
        if "issuetype" in errors:
            return SinkFailure(f"Jira issue type not valid in project {project!r} ({errors['issuetype']}): fix "
                               "notify.jira.issue_type in the playbook or [jira] issue_type", kind="config",
                               scope=project)
        if "priority" in errors:
            return SinkFailure(f"Jira priority refused ({errors['priority']}): fix [jira] priorities",
                               kind="config", scope=project)
        detail = "; ".join(f"{k}: {v}" for k, v in errors.items()) or _short(exc.text or "")
        return SinkFailure(f"Jira refused {doing} (HTTP {status}): {detail}", kind="permanent")


def _error_fields(exc: JIRAError) -> dict[str, str]:
    try:
        data = exc.response.json() if exc.response is not None else {}
    except ValueError:
        return {}
    errors = data.get("errors") if isinstance(data, dict) else None
    return {str(k): str(v) for k, v in errors.items()} if isinstance(errors, dict) else {}


def _jql_string(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text[:200]
