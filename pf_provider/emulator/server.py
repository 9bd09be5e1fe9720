"""The HTTP side: a threading HTTP/1.1 server on loopback that answers like the real service.

Request handling follows the production middleware order: scripted and injected faults
(standing in for the network and load balancer) first, then the JWT check, then the rate
limiter, then GraphQL. Every answer is written in one piece with an exact Content-Length,
so keep-alive clients never wait on Nagle's algorithm. Nothing is logged, ever: requests
carry credentials and tokens.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import itertools
import json
import math
import re
import shutil
import socket
import ssl
import tempfile
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socketserver import TCPServer
from typing import Any
from urllib.parse import urlsplit

from pf_provider.emulator.config import DATA_PERMISSION, STARTUP_ONLY, EmulatorConfig
from pf_provider.emulator.faults import FaultPlan, RawAnswer, body_bytes
from pf_provider.emulator.graphql_engine import GraphQLEngine
from pf_provider.emulator.resolver import get_dataset_statistics
from pf_provider.emulator.stats import EmulatorStats, RequestRecord, StatsCollector
from pf_provider.emulator.tokens import TokenAuthority, iso_utc

TOO_MANY_REQUESTS = "Too many requests, please try again later."
_JSON = "application/json; charset=utf-8"
_TEXT = "text/plain; charset=utf-8"
_HTML = "text/html; charset=utf-8"
_IDLE_TIMEOUT = 120.0  # seconds an idle keep-alive connection is kept


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _errors(message: str) -> bytes:
    return _json({"errors": [{"message": message}]})


@dataclass
class _Answer:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    outcome: str = "served"
    drop: bool = False
    truncate: bool = False
    hang: float | None = None
    operations: int = 0
    batch_size: int | None = None

    @classmethod
    def of(cls, status: int, body: bytes, content_type: str, **kwargs: Any) -> _Answer:
        return cls(status, body, [("Content-Type", content_type)], **kwargs)


class _FixedWindow:
    """express-rate-limit's fixed window, one per client IP, opened by the IP's first request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, list[float]] = {}  # ip -> [window start (monotonic), hits]

    def hit(self, key: str, config: EmulatorConfig) -> tuple[bool, list[tuple[str, str]], int]:
        """Count one request: (over the limit?, RateLimit-* headers, seconds until the reset)."""
        assert config.rate_limit is not None
        now = time.monotonic()
        with self._lock:
            window = self._windows.get(key)
            if window is None or now >= window[0] + config.rate_window:
                window = self._windows[key] = [now, 0]
            window[1] += 1
            hits, reset_at = int(window[1]), window[0] + config.rate_window
        reset = max(1, math.ceil(reset_at - now))
        headers = [
            ("RateLimit-Limit", str(config.rate_limit)),
            ("RateLimit-Remaining", str(max(0, config.rate_limit - hits))),
            ("RateLimit-Reset", str(reset)),
        ]
        return hits > config.rate_limit, headers, reset

    def seconds_to_reset(self, key: str, config: EmulatorConfig) -> int:
        """Seconds until this IP's window resets (a whole window when none is open)."""
        with self._lock:
            window = self._windows.get(key)
        left = window[0] + config.rate_window - time.monotonic() if window else 0.0
        return max(1, math.ceil(left if left > 0 else config.rate_window))

    def clear(self) -> None:
        with self._lock:
            self._windows.clear()


def _scheme(authorization: str | None) -> str | None:
    """The scheme word of an Authorization header, never its credential: a bare token logs as "unknown"."""
    if authorization is None:
        return None
    word, _, rest = authorization.partition(" ")
    if (rest or word.lower() in ("basic", "bearer")) and re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,19}", word):
        return word
    return "unknown"


def _read_chunked(handler: BaseHTTPRequestHandler, limit: int | None) -> tuple[bytes, bool]:
    chunks, total = [], 0
    while True:
        size = int(handler.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while handler.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks), False
        total += size
        if limit is not None and total > limit:
            handler.close_connection = True
            return b"", True
        chunks.append(handler.rfile.read(size))
        handler.rfile.readline(1024)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pf-provider-emulator"
    sys_version = ""
    timeout = _IDLE_TIMEOUT
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: request lines and errors could carry credentials, and logging costs time."""

    def _dispatch(self) -> None:
        self.server.emulator._serve(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for handlers that hang on purpose
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], emulator: Emulator, ssl_context: ssl.SSLContext | None):
        self.emulator = emulator
        self.ssl_context = ssl_context
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        TCPServer.server_bind(self)  # HTTPServer's version does a reverse DNS look-up
        self.server_name, self.server_port = self.server_address[:2]

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._connections_lock:
            (self._connections.add if add else self._connections.discard)(conn)

    def process_request(self, request: Any, client_address: Any) -> None:
        self._track(request, True)
        super().process_request(request, client_address)

    def finish_request(self, request: Any, client_address: Any) -> None:
        conn = request
        try:
            if self.ssl_context is not None:
                request.settimeout(10.0)  # the handshake runs in this worker thread, bounded
                conn = self.ssl_context.wrap_socket(request, server_side=True)
                self._track(conn, True)
            self.RequestHandlerClass(conn, client_address, self)
        except OSError:  # resets, TLS failures (ssl.SSLError), stop() closing the socket
            pass
        finally:
            if conn is not request:
                self._track(conn, False)
                conn.close()

    def shutdown_request(self, request: Any) -> None:
        self._track(request, False)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Silenced: connection-level errors are the clients' business, not the console's."""

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class Emulator:
    """A running (once started) emulator of the Probable Futures API on 127.0.0.1.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`. Everything is
    thread-safe: tests may reconfigure faults while clients are talking to it.
    """

    def __init__(self, config: EmulatorConfig | None = None):
        self._config = config or EmulatorConfig()
        self._config_lock = threading.Lock()
        self._faults = FaultPlan()
        self._limiter = _FixedWindow()
        self._stats = StatsCollector(self._config.request_log_size)
        self._engine = GraphQLEngine(get_dataset_statistics)
        self._tokens: TokenAuthority | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._tmpdir: str | None = None
        self._ca_cert_path: str | None = None
        self._graphql_seq = itertools.count()
        self._request_seq = itertools.count()
        self._internal_errors: list[str] = []

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind the port, generate keys (and the TLS certificate), serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("this emulator was already started; create a new one")
        config = self._config
        self._tokens = TokenAuthority()
        ssl_context = None
        if config.tls:
            from pf_provider.emulator.tls import make_server_context

            self._tmpdir = tempfile.mkdtemp(prefix="pf-emulator-")
            ssl_context, ca_path = make_server_context(Path(self._tmpdir))
            self._ca_cert_path = str(ca_path)
        try:
            self._server = _Server((config.host, config.port), self, ssl_context)
        except OSError:
            if self._tmpdir is not None:
                shutil.rmtree(self._tmpdir, ignore_errors=True)
            raise
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="pf-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every open connection and release the port. Idempotent, quick."""
        server = self._server
        if server is None or self._stopping.is_set():
            return
        self._stopping.set()  # wakes handlers sleeping in latency or hang
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    def __enter__(self) -> Emulator:
        return self.start() if self._server is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None and not self._stopping.is_set()

    # -- addresses and credentials -----------------------------------------------------------

    def _bound(self) -> _Server:
        if self._server is None:
            raise RuntimeError("the emulator is not started: call start() or use it as a context manager")
        return self._server

    @property
    def port(self) -> int:
        return int(self._bound().server_address[1])

    @property
    def host(self) -> str:
        return str(self._bound().server_address[0])

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:50123`` (``https://`` with ``tls=True``)."""
        scheme = "https" if self._config.tls else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def client_id(self) -> str:
        return self._config.client_id

    @property
    def client_secret(self) -> str:
        return self._config.client_secret

    @property
    def ca_cert_path(self) -> str | None:
        """With ``tls=True``, the PEM file a client passes as its CA bundle (removed by stop()); else None."""
        return self._ca_cert_path

    @property
    def public_key_pem(self) -> str:
        """The RSA public key that verifies this emulator's tokens (PEM, SubjectPublicKeyInfo)."""
        return self._authority().public_key_pem

    @property
    def config(self) -> EmulatorConfig:
        return self._config

    # -- knobs -------------------------------------------------------------------------------

    def configure(self, **knobs: Any) -> None:
        """Change settings at run time (any :class:`EmulatorConfig` field but host, port, tls)."""
        fixed = sorted(STARTUP_ONLY & knobs.keys())
        if fixed:
            raise ValueError(f"{', '.join(fixed)} can only be set before start()")
        with self._config_lock:
            self._config = self._config.replace(**knobs)

    def fail_next(self, n: int = 1, status: int = 503, *, path: str = "/graphql") -> None:
        """Answer the next ``n`` requests to ``path`` with ``status`` (429 comes with Retry-After)."""
        if n < 0 or not 100 <= status <= 599:
            raise ValueError("n must be >= 0 and status an HTTP status")
        self._faults.fail_next(path, n, status)

    def enqueue_raw(
        self,
        path: str,
        status: int = 200,
        body: bytes | str | Any = b"",
        headers: Mapping[str, str] | None = None,
        truncate: bool = False,
        hang: float | None = None,
        drop: bool = False,
    ) -> None:
        """Script the next answer on ``path``: exactly these bytes (str as UTF-8, other objects as JSON).

        Answers queue up per path and are used once each, before any other processing.
        ``truncate=True`` declares a longer Content-Length than the body and then closes the
        connection; ``hang=N`` waits N seconds first (a client timeout shorter than that sees
        a read timeout); ``drop=True`` closes the connection without answering. The emulator
        adds Content-Length unless ``headers`` has one.
        """
        answer = RawAnswer(status, body_bytes(body), dict(headers or {}), truncate, hang, drop)
        self._faults.enqueue_raw(path, answer)

    def reset_rate_limit(self) -> None:
        """Forget every client's rate-limit window."""
        self._limiter.clear()

    # -- observation -------------------------------------------------------------------------

    @property
    def stats(self) -> EmulatorStats:
        return self._stats.snapshot()

    def reset_stats(self) -> None:
        """Zero the counters and clear the request log (tokens, windows and faults stay)."""
        self._stats.reset()

    @property
    def requests(self) -> list[RequestRecord]:
        """The most recent requests (``request_log_size`` of them), oldest first."""
        return self._stats.records()

    @property
    def internal_errors(self) -> list[str]:
        """Tracebacks of bugs in the emulator itself (answered with HTTP 500). Should stay empty."""
        return list(self._internal_errors)

    # -- tokens ------------------------------------------------------------------------------

    def _authority(self) -> TokenAuthority:
        if self._tokens is None:
            raise RuntimeError("the emulator is not started")
        return self._tokens

    @property
    def issued_tokens(self) -> list[str]:
        """Every token this emulator signed, oldest first: canaries for leak checks."""
        return self._authority().issued_tokens()

    def expire_tokens(self, token: str | None = None) -> int:
        """Expire every issued token now (or just ``token``); /auth/token then issues a new one.

        Returns how many tokens were still live. A later /graphql call with them gets 401
        ``jwt expired``.
        """
        return self._authority().expire(token)

    def revoke_token(self, token: str) -> bool:
        """Make /graphql answer 401 ``invalid signature`` to this token, as after a key rotation."""
        return self._authority().revoke(token)

    def issue_token(
        self, client_id: str | None = None, permissions: list[str] | None = None, lifetime: float | None = None
    ) -> str:
        """Sign a token directly (not cached for the client), e.g. one without permissions or already expired."""
        config = self._config
        cid = client_id or config.client_id
        perms = config.permissions_of(cid) if permissions is None else permissions
        issued = self._authority().issue(cid, perms, config.token_lifetime if lifetime is None else lifetime)
        return issued.token

    # -- request handling --------------------------------------------------------------------

    def _serve(self, handler: _Handler) -> None:
        config = self._config
        path = urlsplit(handler.path).path or "/"
        authorization = handler.headers.get("Authorization")
        record_index = next(self._request_seq)
        try:
            body, too_large = self._read_body(handler, config)
            answer, increments = self._answer(handler, path, config, authorization, body, too_large)
        except Exception:  # a bug in the emulator: say so rather than hang the client
            self._internal_errors.append(traceback.format_exc())
            del self._internal_errors[:-50]
            answer = _Answer.of(500, _errors("emulator internal error"), _JSON, outcome="internal_error")
            handler.close_connection = True
            increments = {"internal_errors": 1}
        delay = FaultPlan.delay(config, record_index, path)
        if delay:
            self._stopping.wait(delay)
        # Recorded before the answer leaves, so a client that has its answer sees it counted.
        self._stats.record(
            RequestRecord(
                time=time.time(),
                method=handler.command,
                path=path,
                status=None if answer.drop else answer.status,
                has_authorization=authorization is not None,
                auth_scheme=_scheme(authorization),
                batch_size=answer.batch_size,
                operations=answer.operations,
                outcome=answer.outcome,
            ),
            **increments,
        )
        self._send(handler, answer)

    @staticmethod
    def _read_body(handler: _Handler, config: EmulatorConfig) -> tuple[bytes, bool]:
        """The request body, and whether it exceeded ``max_body_bytes`` (then it is left unread).

        A body that cannot be framed (bad Content-Length or chunk size) reads as empty and the
        connection is closed afterwards, since the next request could not be found in the stream.
        """
        limit = config.max_body_bytes
        try:
            if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
                return _read_chunked(handler, limit)
            length = int(handler.headers.get("Content-Length") or 0)
        except ValueError:
            handler.close_connection = True
            return b"", False
        if limit is not None and length > limit:
            handler.close_connection = True
            return b"", True
        return (handler.rfile.read(length) if length > 0 else b""), False

    def _answer(
        self,
        handler: _Handler,
        path: str,
        config: EmulatorConfig,
        authorization: str | None,
        body: bytes,
        too_large: bool,
    ) -> tuple[_Answer, dict[str, int]]:
        is_graphql = path == "/graphql"
        increments = {"graphql_requests": 1} if is_graphql else {}
        if path == "/auth/token":
            increments["token_requests"] = 1
        raw = self._faults.take_raw(path)
        if raw is not None:
            increments["raw_answers"] = 1
            if raw.drop:
                increments["dropped"] = 1
            return self._raw_answer(raw), increments
        fault = self._faults.decide(path, config, next(self._graphql_seq) if is_graphql else 0)
        if fault is not None:
            if fault.kind == "drop":
                increments["dropped"] = 1
                return _Answer(0, drop=True, outcome="dropped"), increments
            increments["injected_errors"] = 1
            if fault.status == 429:
                if is_graphql:
                    increments["rate_limited"] = 1
                return self._injected_429(handler, config), increments
            page = f"<html><head><title>{fault.status}</title></head><body><h1>{fault.status}</h1></body></html>"
            return _Answer.of(fault.status, page.encode(), _HTML, outcome="injected"), increments
        if path == "/auth/token":
            answer, issued = self._token_answer(handler.command, authorization, config)
            if issued:
                increments["tokens_issued"] = 1
            return answer, increments
        if is_graphql:
            answer = self._graphql_answer(handler, config, authorization, body, too_large)
            if answer.status == 429:
                increments["rate_limited"] = 1
            if answer.operations:
                increments["graphql_operations"] = answer.operations
            if answer.batch_size is not None:
                increments["batched_requests"] = 1
            return answer, increments
        return _Answer.of(404, f"Cannot {handler.command} {path}".encode(), _HTML), increments

    @staticmethod
    def _raw_answer(raw: RawAnswer) -> _Answer:
        if raw.drop:
            return _Answer(0, drop=True, hang=raw.hang, outcome="dropped")
        outcome = "truncated" if raw.truncate else "hung" if raw.hang else "raw"
        return _Answer(
            raw.status, raw.body, list(raw.headers.items()), outcome=outcome, truncate=raw.truncate, hang=raw.hang
        )

    def _injected_429(self, handler: _Handler, config: EmulatorConfig) -> _Answer:
        reset = self._limiter.seconds_to_reset(handler.client_address[0], config)
        retry = reset if config.retry_after is None else math.ceil(config.retry_after)
        answer = _Answer.of(429, TOO_MANY_REQUESTS.encode(), _TEXT, outcome="injected")
        if config.rate_limit is not None:
            answer.headers += [
                ("RateLimit-Limit", str(config.rate_limit)),
                ("RateLimit-Remaining", "0"),
                ("RateLimit-Reset", str(reset)),
            ]
        answer.headers.append(("Retry-After", str(retry)))
        return answer

    # -- /auth/token ---------------------------------------------------------------------------

    def _token_answer(self, method: str, authorization: str | None, config: EmulatorConfig) -> tuple[_Answer, bool]:
        if method != "GET":
            return _Answer.of(404, f"Cannot {method} /auth/token".encode(), _HTML), False
        unauthorized = _Answer.of(401, b"Unauthorized", _TEXT)
        if not authorization or not authorization.startswith("Basic "):
            return unauthorized, False
        # Like the server: take the word after "Basic ", decode leniently, split on ":".
        encoded = authorization.split(" ")[1]
        try:
            decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4)).decode("latin-1")
        except (binascii.Error, ValueError):
            decoded = ""
        parts = decoded.split(":")
        client_id, secret = parts[0], parts[1] if len(parts) > 1 else ""
        if not client_id or not secret:
            return unauthorized, False
        expected = config.all_clients().get(client_id)
        if expected is None or not hmac.compare_digest(expected.encode(), secret.encode()):
            if config.wrong_credentials == "500":
                return _Answer.of(500, _json({"message": "Error getting token"}), _JSON), False
            return _Answer.of(201, _json({"expires_at": None}), _JSON), False
        issued, new = self._authority().token_for(client_id, config.permissions_of(client_id), config.token_lifetime)
        payload = {
            "access_token": issued.token,
            "scope": " ".join(issued.permissions),
            "token_type": "Bearer",
            "expires_at": iso_utc(issued.expires_at),
        }
        return _Answer.of(201, _json(payload), _JSON), new

    # -- /graphql --------------------------------------------------------------------------------

    def _refusal(self, authorization: str | None) -> _Answer | None:
        """The 401/403 answer for a request without a usable bearer token, else None."""
        if authorization is None:
            return _Answer.of(401, _errors("No authorization token was found"), _JSON)
        parts = authorization.split(" ")
        if len(parts) != 2 or parts[0].lower() != "bearer":
            return _Answer.of(401, _errors("Format is Authorization: Bearer [token]"), _JSON)
        check = self._authority().check(parts[1])
        if check.error is not None:
            return _Answer.of(401, _errors(check.error), _JSON)
        if DATA_PERMISSION not in check.permissions:
            answer = _Answer.of(403, _errors("Insufficient scope"), _JSON)
            answer.headers.append(("WWW-Authenticate", f'Bearer scope="{DATA_PERMISSION}", error="Insufficient scope"'))
            return answer
        return None

    def _graphql_answer(
        self, handler: _Handler, config: EmulatorConfig, authorization: str | None, body: bytes, too_large: bool
    ) -> _Answer:
        refusal = self._refusal(authorization)
        if refusal is not None and not config.count_rejected:
            return refusal
        limit_headers: list[tuple[str, str]] = []
        if config.rate_limit is not None:
            limited, limit_headers, reset = self._limiter.hit(handler.client_address[0], config)
            if limited:
                retry = reset if config.retry_after is None else math.ceil(config.retry_after)
                answer = _Answer.of(429, TOO_MANY_REQUESTS.encode(), _TEXT, outcome="rate_limited")
                answer.headers += [*limit_headers, ("Retry-After", str(retry))]
                return answer
        answer = refusal or self._execute(handler.command, config, body, too_large)
        answer.headers += limit_headers
        return answer

    def _execute(self, method: str, config: EmulatorConfig, body: bytes, too_large: bool) -> _Answer:
        if method != "POST":
            answer = _Answer.of(405, _errors("Only `POST` requests are allowed."), _JSON)
            answer.headers.append(("Allow", "POST, OPTIONS"))
            return answer
        if too_large:
            return _Answer.of(413, _errors("request entity too large"), _JSON)
        try:
            payload = json.loads(body) if body.strip() else {}
        except ValueError as error:
            position = getattr(error, "pos", 0)
            return _Answer.of(400, _errors(f"Unexpected token in JSON at position {position}"), _JSON)
        if isinstance(payload, list):
            if config.max_batch_size is not None and len(payload) > config.max_batch_size:
                message = f"Batch of {len(payload)} operations exceeds the limit of {config.max_batch_size}."
                return _Answer.of(400, _errors(message), _JSON, batch_size=len(payload))
            results = [self._engine.run(entry, config.mask_errors)[0] for entry in payload]
            return _Answer.of(200, _json(results), _JSON, operations=len(payload), batch_size=len(payload))
        result, status = self._engine.run(payload, config.mask_errors)
        return _Answer.of(status, _json(result), _JSON, operations=1)

    # -- writing -----------------------------------------------------------------------------------

    def _send(self, handler: _Handler, answer: _Answer) -> None:
        """Write the answer in one piece, or drop, truncate or hang as scripted."""
        if answer.hang:
            self._stopping.wait(answer.hang)
        if answer.drop or self._stopping.is_set():
            handler.close_connection = True
            with contextlib.suppress(OSError):
                handler.connection.shutdown(socket.SHUT_RDWR)
            return
        body = answer.body
        headers = list(answer.headers)
        if not any(name.lower() == "content-length" for name, _ in headers):
            declared = len(body) + max(len(body), 64) if answer.truncate else len(body)
            headers.append(("Content-Length", str(declared)))
        elif not answer.truncate:
            handler.close_connection = True  # a scripted length may not match: never reuse the connection
        if answer.truncate:
            handler.close_connection = True
        headers.append(("Date", handler.date_time_string()))
        headers.append(("Connection", "close" if handler.close_connection else "keep-alive"))
        try:
            phrase = HTTPStatus(answer.status).phrase
        except ValueError:
            phrase = "Unknown"
        head = f"HTTP/1.1 {answer.status} {phrase}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        try:
            handler.wfile.write(head.encode("latin-1", "replace") + body)
            if answer.truncate:
                handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            handler.close_connection = True
