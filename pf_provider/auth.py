"""Credentials and the bearer-token lifecycle.

The token is fetched lazily (first use), cached, and refreshed a safety margin before the
``expires_at`` the server sent (the JWT ``exp`` claim when that is missing). The server
hands the same token back until it expires, so a token fetched late in its life may have
minutes left: nothing here assumes 24 hours.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import jwt
import requests

from .errors import AuthenticationError, InvalidResponseError

logger = logging.getLogger("pf_provider.auth")

DEFAULT_REFRESH_MARGIN = 300.0
"""Seconds before expiry at which a cached token is replaced."""

FALLBACK_TOKEN_LIFETIME = 300.0
"""Seconds a token is trusted when neither ``expires_at`` nor a JWT ``exp`` says how long it lives."""


class Secret:
    """A string that never shows itself in ``repr``/``str`` and refuses to be pickled."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> Any:
        raise TypeError("a pf_provider Secret cannot be pickled; pass a connection id or a block name instead")


@dataclass(frozen=True)
class AccessToken:
    """A bearer token and when it expires. Its value never appears in its repr."""

    value: str = field(repr=False)
    expires_at: datetime
    refresh_at: float = field(repr=False)
    """Wall-clock time (``time.time()``) after which the token is replaced."""

    def __reduce__(self) -> Any:
        raise TypeError("an AccessToken cannot be pickled")


def basic_authorization(client_id: str, client_secret: Secret) -> str:
    raw = f"{client_id}:{client_secret.get_secret_value()}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def parse_expires_at(raw: Any) -> datetime | None:
    """An ISO-8601 UTC timestamp such as ``2026-12-05T19:40:00.000Z``; ``None`` when unusable."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    text = raw.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:  # e.g. year 1 with a positive offset
        return None


def jwt_expiry(token: str) -> datetime | None:
    """The ``exp`` claim of a JWT, read without verifying it (only the server can)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False, "verify_exp": False})
    except jwt.PyJWTError:
        return None
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(exp, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")
"""What a bearer token may hold: visible ASCII, so it cannot break or inject a header line."""

TOKEN_RETRY_STATUSES = (502, 503, 504)
"""Gateway errors are retried; a 500 is not: the service answers it to wrong credentials."""

SendFunction = Callable[..., requests.Response]


class TokenManager:
    """Fetches, caches and refreshes the access token of one client ID. Thread-safe.

    Many threads asking at once cause a single token request: the first takes the lock and
    fetches, the others find the fresh token when they get the lock.
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: Secret,
        token_url: str,
        send: SendFunction,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
        on_new_token: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self._client_id = client_id
        self._client_secret = client_secret
        self._token_url = token_url
        self._send = send
        self._refresh_margin = refresh_margin
        self._on_new_token = on_new_token
        self._clock = clock
        self._lock = threading.Lock()
        self._token: AccessToken | None = None
        self.token_requests = 0

    def __repr__(self) -> str:
        return f"TokenManager(client_id={self._client_id!r}, token_url={self._token_url!r})"

    @property
    def current(self) -> AccessToken | None:
        """The cached token, if any, without fetching one."""
        return self._token

    def get_token(self) -> AccessToken:
        token = self._token
        if token is not None and self._clock() < token.refresh_at:
            return token
        with self._lock:
            token = self._token
            if token is not None and self._clock() < token.refresh_at:
                return token
            token = self._fetch()
            self._token = token
            return token

    def invalidate(self, value: str) -> None:
        """Forget the token with this value (the API refused it); a newer one is kept."""
        with self._lock:
            if self._token is not None and self._token.value == value:
                self._token = None

    def clear(self) -> None:
        with self._lock:
            self._token = None

    def _fail(self, reason: str, status: int | None) -> AuthenticationError:
        return AuthenticationError(
            f"Probable Futures did not issue a token for client ID {self._client_id!r}: {reason}. "
            "Check the client ID and client secret (and the API URL).",
            client_id=self._client_id,
            status_code=status,
        )

    def _fetch(self) -> AccessToken:
        token = self._request_token()
        if token.expires_at.timestamp() <= self._clock():
            # The server hands back its cached token until it expires, so one can expire on its
            # way here; the next answer is a new token. Expired twice means this clock is wrong.
            logger.info("The token for client ID %r expired on its way here; asking again", self._client_id)
            token = self._request_token()
            if token.expires_at.timestamp() <= self._clock():
                raise InvalidResponseError(
                    f"the token endpoint issued tokens for client ID {self._client_id!r} that had already expired "
                    f"(at {token.expires_at.isoformat()}), twice in a row; check this machine's clock"
                )
        return token

    def _request_token(self) -> AccessToken:
        self.token_requests += 1
        response = self._send(
            "GET",
            self._token_url,
            headers={"Authorization": basic_authorization(self._client_id, self._client_secret)},
            rate_limited=False,
            retry_statuses=TOKEN_RETRY_STATUSES,
        )
        status = response.status_code
        if status in (401, 403):
            raise self._fail(f"the token endpoint answered HTTP {status} (credentials refused)", status)
        if status >= 500:
            raise self._fail(
                f"the token endpoint answered HTTP {status}, which this service also returns "
                "for a wrong client ID or secret",
                status,
            )
        if status not in (200, 201):
            raise self._fail(f"the token endpoint answered HTTP {status}", status)
        try:
            body = json.loads(response.content)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise InvalidResponseError(
                f"the token endpoint answered HTTP {status} with a body that is not JSON "
                f"(content type {response.headers.get('Content-Type', 'unknown')!r})"
            ) from None
        if not isinstance(body, dict):
            raise InvalidResponseError(f"the token endpoint answered a JSON {type(body).__name__}, not an object")
        value = body.get("access_token")
        if not isinstance(value, str) or not value.strip():
            raise self._fail(
                f"the token endpoint answered HTTP {status} without an access_token, "
                "which is how this service answers a wrong client ID or secret",
                status,
            )
        if not _HEADER_SAFE.fullmatch(value.strip()):
            # Never echoed: requests would put it, whole, in its error message.
            raise InvalidResponseError(
                f"the token endpoint answered HTTP {status} with an access_token that cannot be sent in an "
                "HTTP header (it holds spaces, control or non-ASCII characters)"
            )
        token = self._make_token(value.strip(), body.get("expires_at"))
        logger.info(
            "Obtained a Probable Futures access token for client ID %r, valid until %s",
            self._client_id,
            token.expires_at.isoformat(),
        )
        if self._on_new_token is not None:
            self._on_new_token(token.value)
        return token

    def _make_token(self, value: str, raw_expires_at: Any) -> AccessToken:
        now = self._clock()
        expires_at = parse_expires_at(raw_expires_at)
        if expires_at is None or expires_at.timestamp() <= now:
            from_jwt = jwt_expiry(value)
            if from_jwt is not None and (expires_at is None or from_jwt.timestamp() > now):
                expires_at = from_jwt
        if expires_at is None:
            logger.warning(
                "The token answer for client ID %r says nothing usable about its expiry; "
                "trusting it for %.0f s and refreshing on the first 401",
                self._client_id,
                FALLBACK_TOKEN_LIFETIME,
            )
            expires_at = datetime.fromtimestamp(now + FALLBACK_TOKEN_LIFETIME, tz=timezone.utc)
        remaining = expires_at.timestamp() - now
        # The server returns the same token until it expires, so with little time left a
        # full margin would refetch on every call: keep at most half the remaining life.
        margin = min(self._refresh_margin, max(remaining, 0.0) / 2)
        return AccessToken(value=value, expires_at=expires_at, refresh_at=expires_at.timestamp() - margin)
