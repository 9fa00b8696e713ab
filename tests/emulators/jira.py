"""A stateful Jira REST v2 emulator (Cloud or Server / Data Center flavour), driven by the real `jira` client.

Routes (under /rest/api/2 or /rest/api/latest): serverInfo, field, project/{key}, issue (create), issue/{key}
(get, update), issue/{key}/comment (list, add), issue/{key}/transitions (list, do), search (Server: startAt
paging; Cloud answers 410 as after Atlassian's removal) and search/jql (Cloud: nextPageToken paging; Server 404).
JQL: AND / OR / NOT / parentheses over labels, statusCategory, status, key, project, issuetype with = != in,
not in, and summary ~ text; ORDER BY is accepted and ignored except `created DESC`.

Controls: POST /_emulator/status {"key": "SEC-1", "status": "Done"} moves a ticket (a person closing it).
Run alone: python -m tests.emulators.jira --port 0 [--deployment cloud|server] [--project SEC ...]
"""

from __future__ import annotations

import argparse
import base64
import itertools
import re
from datetime import UTC, datetime
from typing import Any

from tests.emulators.common import App, Req, Resp, serve_main
from tests.emulators.jql import STATUSES, JqlError, parse_jql

TRANSITIONS = [("11", "To Do"), ("21", "In Progress"), ("31", "Done")]
PRIORITIES = {"Highest": "1", "High": "2", "Medium": "3", "Low": "4", "Lowest": "5"}
FIELDS = [
    ("summary", "Summary", ["summary"]), ("description", "Description", ["description"]),
    ("labels", "Labels", ["labels"]), ("priority", "Priority", ["priority"]), ("duedate", "Due date", ["due", "duedate"]),
    ("status", "Status", ["status"]), ("project", "Project", ["project"]), ("issuetype", "Issue Type", ["issuetype", "type"]),
    ("created", "Created", ["created", "createdDate"]), ("updated", "Updated", ["updated", "updatedDate"]),
    ("comment", "Comment", ["comment"]),
]
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class JiraApp(App):
    faults_prefixes = ("/rest/",)

    def __init__(self, *, deployment: str = "server", projects: dict[str, list[str]] | None = None,
                 user: str | None = "breachline@example.com", token: str | None = "jira-test-token") -> None:
        self.deployment = "Cloud" if deployment.lower() == "cloud" else "Server"
        self.projects_spec = projects or {"SEC": ["Task", "Incident", "Bug"]}
        self.user, self.token = user, token
        self.reset()

    def reset(self) -> None:
        self.projects: dict[str, dict[str, Any]] = {key: {"id": str(10000 + i), "key": key, "name": f"{key} project",
                               "issue_types": {t: str(10001 + j) for j, t in enumerate(types)}}
                         for i, (key, types) in enumerate(self.projects_spec.items())}
        self.issues: dict[str, dict[str, Any]] = {}
        self.ids = itertools.count(10001)
        self.comment_ids = itertools.count(20001)
        self.counters: dict[str, int] = {}
        self.created_order: list[str] = []

    # --- plumbing --------------------------------------------------------------------------------------------

    def _authorised(self, req: Req) -> bool:
        if self.token is None:
            return True
        auth = req.headers.get("authorization", "")
        if auth.startswith("Bearer "):
            return auth[7:] == self.token
        if auth.startswith("Basic "):
            try:
                user, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                return False
            return secret == self.token and (self.user is None or user == self.user)
        return False

    def handle(self, req: Req, base_url: str) -> Resp:
        m = re.match(r"^(?:/[^/]+)*?/rest/api/(?:2|latest)/(.*)$", req.path)
        if not m:
            return Resp(404, {"errorMessages": [f"no route {req.path}"]})
        if not self._authorised(req):
            return Resp(401, {"errorMessages": ["You are not authenticated. Authentication required to perform "
                                                "this operation."], "errors": {}},
                        {"X-Seraph-LoginReason": "AUTHENTICATED_FAILED"})
        route, method = m.group(1).rstrip("/"), req.method
        base = base_url + req.path[: m.start(1)]
        if route == "serverInfo":
            return Resp(200, self._server_info(base_url))
        if route == "field":
            return Resp(200, [{"id": fid, "key": fid, "name": name, "custom": False, "navigable": True,
                               "searchable": True, "clauseNames": clauses} for fid, name, clauses in FIELDS])
        if route.startswith("project/"):
            p = self._project(route.split("/", 1)[1])
            return Resp(200, self._project_json(p, base)) if p else Resp(
                404, {"errorMessages": [f"No project could be found with key '{route.split('/', 1)[1]}'."],
                      "errors": {}})
        if route == "issue" and method == "POST":
            return self._create(req, base)
        if route in ("search", "search/jql"):
            return self._search(req, route, base)
        m2 = re.match(r"^issue/([^/]+)(?:/(comment|transitions))?$", route)
        if m2:
            issue = self._issue(m2.group(1))
            if issue is None:
                return Resp(404, {"errorMessages": ["Issue does not exist or you do not have permission to see it."],
                                  "errors": {}})
            sub = m2.group(2)
            if sub is None and method == "GET":
                return Resp(200, self._issue_json(issue, base, req.param("fields")))
            if sub is None and method == "PUT":
                return self._update(issue, req)
            if sub == "comment":
                return self._comments(issue, req, base)
            if sub == "transitions":
                return self._transitions(issue, req)
        return Resp(404, {"errorMessages": [f"no route {method} {route}"], "errors": {}})

    def fault_response(self, kind: str, req: Req, retry_after: int) -> Resp | None:
        if kind == "429":
            return Resp(429, {"errorMessages": ["Rate limit exceeded."]}, {"Retry-After": str(retry_after)})
        if kind == "500":
            return Resp(500, {"errorMessages": ["Internal server error"], "errors": {}})
        if kind == "401":
            return Resp(401, {"errorMessages": ["You are not authenticated."], "errors": {}})
        return None

    def _server_info(self, base_url: str) -> dict[str, Any]:
        cloud = self.deployment == "Cloud"
        return {"baseUrl": base_url, "version": "1001.0.0-SNAPSHOT" if cloud else "9.12.15",
                "versionNumbers": [1001, 0, 0] if cloud else [9, 12, 15], "deploymentType": self.deployment,
                "buildNumber": 100280 if cloud else 9120015, "serverTitle": "Jira emulator",
                "serverTime": _now()}

    # --- projects and issues -----------------------------------------------------------------------------------

    def _project(self, key_or_id: str) -> dict[str, Any] | None:
        for p in self.projects.values():
            if key_or_id in (p["key"], p["id"]):
                return p
        return None

    def _project_json(self, p: dict[str, Any], base: str) -> dict[str, Any]:
        return {"id": p["id"], "key": p["key"], "name": p["name"], "self": f"{base}project/{p['id']}",
                "issueTypes": [{"id": i, "name": n} for n, i in p["issue_types"].items()]}

    def _issue(self, key_or_id: str) -> dict[str, Any] | None:
        if key_or_id in self.issues:
            return self.issues[key_or_id]
        for issue in self.issues.values():
            if issue["id"] == key_or_id:
                return issue
        return None

    def _create(self, req: Req, base: str) -> Resp:
        try:
            fields = (req.json() or {}).get("fields") or {}
        except ValueError:
            return Resp(400, {"errorMessages": ["Unexpected character in request body"], "errors": {}})
        errors: dict[str, str] = {}
        pref = fields.get("project") or {}
        project = self._project(str(pref.get("key") or pref.get("id") or "")) if isinstance(pref, dict) else None
        if project is None:
            errors["project"] = "valid project is required"
        itype = fields.get("issuetype") or {}
        type_name = None
        if project is not None and isinstance(itype, dict):
            for name, tid in project["issue_types"].items():
                if itype.get("name") == name or itype.get("id") == tid:
                    type_name = name
            if type_name is None:
                errors["issuetype"] = "Specify a valid issue type"
        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            errors["summary"] = "You must specify a summary of the issue."
        elif "\n" in summary or len(summary) > 255:
            errors["summary"] = "The summary is invalid because it contains newline characters or is too long."
        description = fields.get("description")
        if description is not None and not isinstance(description, str):
            errors["description"] = "Operation value must be a string"
        priority = (fields.get("priority") or {}).get("name", "Medium")
        if priority not in PRIORITIES:
            errors["priority"] = f"The priority selected is invalid: {priority}"
        labels = fields.get("labels") or []
        for label in labels:
            if not isinstance(label, str) or " " in label or not label:
                errors["labels"] = f"The label '{label}' contains spaces which is invalid."
        due = fields.get("duedate")
        if due is not None and not (isinstance(due, str) and _DATE.match(due)):
            errors["duedate"] = f"Error parsing date string: {due}"
        if errors:
            return Resp(400, {"errorMessages": [], "errors": errors})
        assert project is not None and type_name is not None
        n = self.counters.get(project["key"], 0) + 1
        self.counters[project["key"]] = n
        key, iid = f"{project['key']}-{n}", str(next(self.ids))
        now = _now()
        self.issues[key] = {
            "id": iid, "key": key, "project": project["key"], "issuetype": type_name, "summary": summary,
            "description": description, "labels": list(labels), "priority": priority, "duedate": due,
            "status": "To Do", "created": now, "updated": now, "comments": [],
        }
        self.created_order.append(key)
        return Resp(201, {"id": iid, "key": key, "self": f"{base}issue/{iid}"})

    def _issue_json(self, issue: dict[str, Any], base: str, fields_param: str | None = None) -> dict[str, Any]:
        status = STATUSES[issue["status"]]
        cat_key, cat_name, cat_id = status["category"]
        project = self.projects[issue["project"]]
        fields = {
            "summary": issue["summary"], "description": issue["description"], "labels": issue["labels"],
            "priority": {"name": issue["priority"], "id": PRIORITIES[issue["priority"]]},
            "duedate": issue["duedate"],
            "status": {"name": issue["status"], "id": status["id"],
                       "statusCategory": {"key": cat_key, "name": cat_name, "id": cat_id}},
            "project": {"key": project["key"], "id": project["id"], "name": project["name"]},
            "issuetype": {"name": issue["issuetype"], "id": project["issue_types"][issue["issuetype"]]},
            "created": issue["created"], "updated": issue["updated"],
            "comment": {"comments": [self._comment_json(issue, c, base) for c in issue["comments"]],
                        "maxResults": len(issue["comments"]), "total": len(issue["comments"]), "startAt": 0},
        }
        wanted = [f for f in (fields_param or "*all").split(",") if f]
        if "*all" not in wanted and "*navigable" not in wanted:
            fields = {k: v for k, v in fields.items() if k in wanted}
        return {"id": issue["id"], "key": issue["key"], "self": f"{base}issue/{issue['id']}", "fields": fields}

    def _update(self, issue: dict[str, Any], req: Req) -> Resp:
        fields = (req.json() or {}).get("fields") or {}
        for name in ("summary", "description", "labels", "duedate"):
            if name in fields:
                issue[name] = fields[name]
        if "priority" in fields:
            issue["priority"] = fields["priority"].get("name", issue["priority"])
        issue["updated"] = _now()
        return Resp(204)

    def _comment_json(self, issue: dict[str, Any], c: dict[str, Any], base: str) -> dict[str, Any]:
        author = {"name": "breachline", "displayName": "breachline bot", "emailAddress": self.user}
        return {"id": c["id"], "self": f"{base}issue/{issue['id']}/comment/{c['id']}", "body": c["body"],
                "author": author, "updateAuthor": author, "created": c["created"], "updated": c["created"]}

    def _comments(self, issue: dict[str, Any], req: Req, base: str) -> Resp:
        if req.method == "POST":
            body = (req.json() or {}).get("body")
            if not isinstance(body, str) or not body.strip():
                return Resp(400, {"errorMessages": [], "errors": {"comment": "Comment body can not be empty!"}})
            c = {"id": str(next(self.comment_ids)), "body": body, "created": _now()}
            issue["comments"].append(c)
            issue["updated"] = c["created"]
            return Resp(201, self._comment_json(issue, c, base))
        comments = list(issue["comments"])
        if (req.param("orderBy") or "").startswith("-"):
            comments.reverse()
        start, size = int(req.param("startAt") or 0), int(req.param("maxResults") or 50)
        page = comments[start : start + size]
        return Resp(200, {"startAt": start, "maxResults": size, "total": len(comments),
                          "comments": [self._comment_json(issue, c, base) for c in page]})

    def _transitions(self, issue: dict[str, Any], req: Req) -> Resp:
        if req.method == "GET":
            out = []
            for tid, to in TRANSITIONS:
                if to == issue["status"]:
                    continue
                cat_key, cat_name, cat_id = STATUSES[to]["category"]
                out.append({"id": tid, "name": to if to != "To Do" else "Reopen", "hasScreen": False,
                            "to": {"name": to, "id": STATUSES[to]["id"],
                                   "statusCategory": {"key": cat_key, "name": cat_name, "id": cat_id}}})
            return Resp(200, {"expand": "transitions", "transitions": out})
        tid = str(((req.json() or {}).get("transition") or {}).get("id"))
        for t, to in TRANSITIONS:
            if t == tid and to != issue["status"]:
                issue["status"], issue["updated"] = to, _now()
                return Resp(204)
        return Resp(400, {"errorMessages": [f"Transition id '{tid}' is not valid for this issue."], "errors": {}})

    # --- search ------------------------------------------------------------------------------------------------

    def _search(self, req: Req, route: str, base: str) -> Resp:
        cloud = self.deployment == "Cloud"
        if route == "search" and cloud:
            return Resp(410, {"errorMessages": ["The requested API has been removed. Please migrate to the "
                                                "/rest/api/3/search/jql API."], "errors": {}})
        if route == "search/jql" and not cloud:
            return Resp(404, {"errorMessages": ["null for uri: /rest/api/2/search/jql"], "errors": {}})
        params: dict[str, Any] = {k: v[0] for k, v in req.query.items()}
        if req.method == "POST":
            params.update(req.json() or {})
        jql = str(params.get("jql") or "")
        try:
            matcher, order_desc = parse_jql(jql)
        except JqlError as exc:
            return Resp(400, {"errorMessages": [str(exc)], "errors": {}})
        found = [self.issues[k] for k in self.created_order if matcher(self.issues[k])]
        if order_desc:
            found.reverse()
        size = min(int(params.get("maxResults") or 50), 100)
        fields = params.get("fields")
        if isinstance(fields, list):
            fields = ",".join(fields)
        if route == "search":
            start = int(params.get("startAt") or 0)
            page = found[start : start + size]
            return Resp(200, {"expand": "schema,names", "startAt": start, "maxResults": size, "total": len(found),
                              "issues": [self._issue_json(i, base, fields) for i in page]})
        token = params.get("nextPageToken")
        start = int(base64.urlsafe_b64decode(token).decode()) if token else 0
        page = found[start : start + size]
        out: dict[str, Any] = {"issues": [self._issue_json(i, base, fields) for i in page],
                               "isLast": start + size >= len(found)}
        if not out["isLast"]:
            out["nextPageToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
        return Resp(200, out)

    # --- controls and state ------------------------------------------------------------------------------------

    def control(self, name: str, body: Any) -> Resp:
        if name == "status":
            issue = self._issue(str(body.get("key")))
            if issue is None or body.get("status") not in STATUSES:
                return Resp(400, {"error": "need an existing key and a status in " + ", ".join(STATUSES)})
            issue["status"], issue["updated"] = body["status"], _now()
            return Resp(200, {"ok": True})
        return super().control(name, body)

    def state(self) -> dict[str, Any]:
        issues = []
        for key in self.created_order:
            i = self.issues[key]
            issues.append({**{k: v for k, v in i.items() if k != "comments"},
                           "statusCategory": STATUSES[i["status"]]["category"][0],
                           "comments": [{"id": c["id"], "body": c["body"]} for c in i["comments"]]})
        return {"deployment": self.deployment, "issues": issues}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def main(argv: list[str] | None = None) -> int:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--deployment", choices=["cloud", "server"], default="server")
        p.add_argument("--project", action="append", default=None, help="project key (repeatable)")
        p.add_argument("--user", default="breachline@example.com")
        p.add_argument("--token", default="jira-test-token")

    def make(args: argparse.Namespace) -> App:
        projects = {k: ["Task", "Incident", "Bug"] for k in (args.project or ["SEC"])}
        return JiraApp(deployment=args.deployment, projects=projects, user=args.user or None,
                       token=args.token or None)

    return serve_main(make, add, "python -m tests.emulators.jira", argv)


if __name__ == "__main__":
    raise SystemExit(main())
