"""Shared machinery of the Jira and Slack emulators: a threading HTTP server on 127.0.0.1, a request log,
switchable faults, and the /_emulator control routes.

Control routes (JSON):
  GET  /_emulator/state            the emulated service's state, injected fault counts, request count
  GET  /_emulator/requests         every request received: method, path, query, body text
  GET  /_emulator/count            {"requests": n}: cheap progress probe
  POST /_emulator/faults           {"rate": 0.2, "kinds": [...], "retry_after": [0, 1], "slow_seconds": 1.0,
                                    "paths": ["/rest/"], "seed": 1}   ({} switches faults off)
  POST /_emulator/reset            empty state and log
  POST /_emulator/<other>          service-specific controls (see each emulator)

Fault kinds: "429" (with Retry-After), "500", "502", "503", "slow" (the request is processed, the answer comes
after slow_seconds: past a client timeout it is an answer lost), "drop" (connection closed before processing),
"drop_after" (processed, connection closed without an answer), plus service-specific error kinds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import signal
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

GENERIC_FAULTS = ("429", "500", "502", "503", "slow", "drop", "drop_after")


@dataclass
class Req:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Resp:
    status: int
    body: Any = None                  # dict/list -> JSON, str -> text, None -> empty
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None

    def encode(self) -> tuple[bytes, str]:
        if self.body is None:
            return b"", self.content_type or "text/plain"
        if isinstance(self.body, str):
            return self.body.encode(), self.content_type or "text/plain; charset=utf-8"
        return json.dumps(self.body).encode(), self.content_type or "application/json;charset=UTF-8"


class FaultPlan:
    def __init__(self, spec: dict[str, Any] | None = None) -> None:
        spec = spec or {}
        self.rate = float(spec.get("rate", 0.0))
        self.kinds = list(spec.get("kinds", GENERIC_FAULTS))
        self.retry_after = list(spec.get("retry_after", [0, 1]))
        self.slow_seconds = float(spec.get("slow_seconds", 1.0))
        self.paths = spec.get("paths")
        self._rng = random.Random(spec.get("seed"))
        self._lock = threading.Lock()
        self.injected: Counter[str] = Counter()

    def spec(self) -> dict[str, Any]:
        return {"rate": self.rate, "kinds": self.kinds, "retry_after": self.retry_after,
                "slow_seconds": self.slow_seconds, "paths": self.paths}

    def pick(self, path: str, applies: Callable[[str], bool] = lambda kind: True) -> str | None:
        """With probability `rate`, one of the kinds that make sense for this request (uniformly)."""
        if self.rate <= 0 or not self.kinds:
            return None
        if self.paths and not any(p in path for p in self.paths):
            return None
        kinds = [k for k in self.kinds if applies(k)]
        with self._lock:
            if not kinds or self._rng.random() >= self.rate:
                return None
            kind = self._rng.choice(kinds)
            self.injected[kind] += 1
            return kind

    def retry_after_value(self) -> int:
        with self._lock:
            return int(self._rng.choice(self.retry_after)) if self.retry_after else 0


class App:
    """A service behind the emulator. Subclasses implement handle(); calls are serialised by the server."""

    faults_prefixes: tuple[str, ...] = ("/",)

    def handle(self, req: Req, base_url: str) -> Resp:
        raise NotImplementedError

    def fault_response(self, kind: str, req: Req, retry_after: int) -> Resp | None:
        """The service's own shape for an injected error (None: not a kind this service knows)."""
        return None

    def fault_applies(self, kind: str, req: Req) -> bool:
        """Whether this fault can happen on this request (a read is never 'too long')."""
        return True

    def control(self, name: str, body: Any) -> Resp:
        return Resp(404, {"error": f"unknown control {name}"})

    def state(self) -> dict[str, Any]:
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.app = app
        self.faults = FaultPlan()
        self.app_lock = threading.Lock()
        self.log_lock = threading.Lock()
        self.log: list[dict[str, Any]] = []
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> EmulatorServer:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout, killed process) resets its connection: expected, not worth a traceback.
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)

    def set_faults(self, spec: dict[str, Any] | None) -> None:
        self.faults = FaultPlan(spec)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: EmulatorServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = Req(method, parts.path, parse_qs(parts.query, keep_blank_values=True),
                  {k.lower(): v for k, v in self.headers.items()}, body)
        if req.path.startswith("/_emulator/"):
            self._send(self._control(req))
            return
        with self.server.log_lock:
            self.server.log.append({"method": method, "path": req.path, "query": parts.query,
                                    "body": req.text(), "time": time.time()})
        plan = self.server.faults
        app = self.server.app
        fault = (plan.pick(req.path, lambda kind: app.fault_applies(kind, req))
                 if any(req.path.startswith(p) for p in app.faults_prefixes) else None)
        if fault == "drop":
            self._drop()
            return
        if fault is not None and fault not in ("slow", "drop_after"):
            retry_after = plan.retry_after_value()
            resp = self.server.app.fault_response(fault, req, retry_after) or _generic_fault(fault, retry_after)
            self._send(resp)
            return
        with self.server.app_lock:
            try:
                resp = self.server.app.handle(req, self.server.url)
            except Exception as exc:  # an emulator bug must show as a 500, not a hung client
                resp = Resp(500, {"errorMessages": [f"emulator error: {type(exc).__name__}: {exc}"]})
        if fault == "drop_after":
            self._drop()
            return
        if fault == "slow":
            time.sleep(plan.slow_seconds)
        self._send(resp)

    def _control(self, req: Req) -> Resp:
        name = req.path[len("/_emulator/"):]
        server = self.server
        if name == "state" and req.method == "GET":
            with server.app_lock:
                state = server.app.state()
            with server.log_lock:
                n = len(server.log)
            return Resp(200, {**state, "_faults": {"plan": server.faults.spec(),
                                                   "injected": dict(server.faults.injected)},
                              "_requests": n})
        if name == "count" and req.method == "GET":
            with server.log_lock:
                return Resp(200, {"requests": len(server.log)})
        if name == "requests" and req.method == "GET":
            with server.log_lock:
                return Resp(200, list(server.log))
        if name == "faults" and req.method == "POST":
            server.set_faults(req.json() or {})
            return Resp(200, {"ok": True, "plan": server.faults.spec()})
        if name == "reset" and req.method == "POST":
            with server.app_lock:
                server.app.reset()
            with server.log_lock:
                server.log.clear()
            return Resp(200, {"ok": True})
        with server.app_lock:
            return server.app.control(name, req.json() if req.body else None)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, resp: Resp) -> None:
        data, ctype = resp.encode()
        try:
            self.send_response(resp.status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for k, v in resp.headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timeout): nothing to do


def _generic_fault(kind: str, retry_after: int) -> Resp:
    if kind == "429":
        return Resp(429, {"message": "rate limited"}, {"Retry-After": str(retry_after)})
    if kind == "502":
        return Resp(502, "<html><body><h1>502 Bad Gateway</h1></body></html>", content_type="text/html")
    if kind == "503":
        return Resp(503, "<html><body><h1>503 Service Unavailable</h1></body></html>",
                    {"Retry-After": str(retry_after)}, content_type="text/html")
    return Resp(500, "<html><body><h1>500 Internal Server Error</h1></body></html>", content_type="text/html")


def serve_main(make_app: Callable[[argparse.Namespace], App], add_args: Callable[[argparse.ArgumentParser], None],
               prog: str, argv: list[str] | None = None) -> int:
    """`python -m tests.emulators.<name> --port N`: prints the URL on its first line, serves until SIGTERM."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--faults", default=None, help="JSON fault plan to start with")
    add_args(parser)
    args = parser.parse_args(argv)
    server = EmulatorServer(make_app(args), args.host, args.port)
    if args.faults:
        server.set_faults(json.loads(args.faults))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server.start()
    print(server.url, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    sys.stdout.flush()
    return 0


class Control:
    """Talks to an emulator's /_emulator routes over HTTP (works the same for a thread or a separate process)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _call(self, method: str, name: str, body: Any = None) -> Any:
        import urllib.request

        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}/_emulator/{name}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"null")

    def state(self) -> Any:
        return self._call("GET", "state")

    def requests(self) -> Any:
        return self._call("GET", "requests")

    def count(self) -> int:
        return int(self._call("GET", "count")["requests"])

    def faults(self, **spec: Any) -> Any:
        return self._call("POST", "faults", spec)

    def reset(self) -> Any:
        return self._call("POST", "reset", {})

    def post(self, name: str, body: Any) -> Any:
        return self._call("POST", name, body)
