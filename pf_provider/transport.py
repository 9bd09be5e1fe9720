"""HTTP policy: which URLs are allowed, timeouts, retries with backoff, pacing.

Rules that hold for every request: TLS verification is on (a CA bundle may be added,
never removed), plain ``http://`` is only for loopback (and loopback requests bypass proxies),
every request has a timeout, redirects are not followed (so the ``Authorization`` header never
travels to another host), ``~/.netrc`` never replaces that header, and nothing here logs a
header or a body.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import math
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from urllib3.util import parse_url

from . import __version__
from .errors import ConfigurationError, InvalidResponseError, RateLimitError, TransportError
from .ratelimit import RateLimiter

logger = logging.getLogger("pf_provider.http")

DEFAULT_API_URL = "https://graphql.probablefutures.org"
DEFAULT_TIMEOUT = (10.0, 60.0)
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
NO_PROXIES: dict[str, Any] = {"http": None, "https": None, "all": None}
"""Proxy settings that override HTTP_PROXY and friends: loopback traffic must stay on this machine."""


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalize_api_url(api_url: str | None) -> str:
    """The API base URL, checked: https (or http on loopback), no credentials, no query."""
    if api_url is None or not str(api_url).strip():
        return DEFAULT_API_URL
    if not isinstance(api_url, str):
        raise ConfigurationError(f"api_url must be text such as {DEFAULT_API_URL!r}")
    text = api_url.strip()
    if "://" not in text:
        raise ConfigurationError(
            f"api_url {text!r} has no scheme; write it in full, e.g. {DEFAULT_API_URL!r} "
            "(https is required except for a local emulator on loopback)"
        )
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise ConfigurationError(f"api_url {text!r} is not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if not host:
        raise ConfigurationError(f"api_url {text!r} has no host name")
    if parts.username or parts.password:
        raise ConfigurationError("api_url must not carry credentials; put the client ID and secret in their own fields")
    if parts.query or parts.fragment:
        raise ConfigurationError("api_url must not have a query string or a fragment")
    if scheme == "http":
        if not is_loopback(host):
            raise ConfigurationError(
                f"plain http:// is refused for {host!r}: credentials and tokens would cross the "
                "network unencrypted. Use https:// (plain http is allowed only on loopback, "
                "for the local emulator)"
            )
    elif scheme != "https":
        raise ConfigurationError(f"api_url must use https://, got the scheme {scheme!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ConfigurationError(f"api_url {text!r} has an invalid port") from None
    path = parts.path.rstrip("/")
    for suffix in ("/graphql", "/auth/token"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    normalized = urlunsplit((scheme, parts.netloc.lower(), path, "", ""))
    # Parse it as requests will when it sends: a URL it refuses fails here, before any request,
    # and plain http must reach loopback by its parser too, not only by urlsplit's.
    try:
        prepared = requests.models.PreparedRequest()
        prepared.prepare_url(normalized + "/graphql", None)
        target = parse_url(prepared.url).host or ""
    except (requests.exceptions.RequestException, ValueError) as exc:
        raise ConfigurationError(f"api_url {text!r} is not a valid URL: {exc}") from None
    if scheme == "http" and not is_loopback(target):
        raise ConfigurationError(f"plain http:// is refused for {target!r}; use https://")
    return normalized


def normalize_timeout(timeout: Any) -> tuple[float, float]:
    """``(connect, read)`` seconds; a single number is used for both."""
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        pair: tuple[Any, Any] = (timeout, timeout)
    elif isinstance(timeout, (tuple, list)) and len(timeout) == 2:
        pair = (timeout[0], timeout[1])
    else:
        raise ConfigurationError(
            f"timeout must be seconds or a (connect, read) pair, got {timeout!r}; a request "
            "without a timeout could hang a worker forever"
        )
    for value in pair:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ConfigurationError(f"timeouts must be positive finite seconds, got {timeout!r}")
    return float(pair[0]), float(pair[1])


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures are retried. All bounds are the caller's to set.

    ``max_attempts`` counts tries of one request after connection errors, timeouts and the
    ``retry_statuses``; 429 answers have their own budget (``max_rate_limit_waits``) and
    wait what the server asks, up to ``max_retry_after`` seconds each.
    """

    max_attempts: int = 5
    backoff_initial: float = 0.5
    backoff_max: float = 20.0
    backoff_multiplier: float = 2.0
    jitter: float = 0.5
    retry_statuses: tuple[int, ...] = (500, 502, 503, 504)
    max_rate_limit_waits: int = 20
    max_retry_after: float = 120.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.max_rate_limit_waits < 0:
            raise ConfigurationError("max_attempts must be >= 1 and max_rate_limit_waits >= 0")
        if min(self.backoff_initial, self.backoff_max, self.max_retry_after) < 0:
            raise ConfigurationError("backoff and wait bounds must not be negative")
        if self.backoff_multiplier < 1 or not 0 <= self.jitter <= 1:
            raise ConfigurationError("backoff_multiplier must be >= 1 and jitter within [0, 1]")

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        delay = min(self.backoff_max, self.backoff_initial * self.backoff_multiplier ** (attempt - 1))
        return delay * (1 - self.jitter * rng.random())


def retry_after_seconds(headers: Mapping[str, str], clock: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or HTTP date) or ``RateLimit-Reset``."""
    raw = headers.get("Retry-After")
    if raw is not None:
        text = str(raw).strip()
        try:
            seconds = float(text)
            if math.isfinite(seconds):
                return max(0.0, seconds)
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(text).timestamp() - clock())
            except (TypeError, ValueError, IndexError):
                pass
    reset = headers.get("RateLimit-Reset")
    if reset is not None:
        try:
            seconds = float(str(reset).strip())
            if math.isfinite(seconds):
                return max(0.0, seconds)
        except ValueError:
            pass
    return None


@dataclass
class RequestCount:
    """API requests (retries included) sent within one :func:`count_requests` block."""

    value: int = 0


_REQUEST_COUNT: ContextVar[RequestCount | None] = ContextVar("pf_provider_request_count", default=None)


@contextlib.contextmanager
def count_requests() -> Iterator[RequestCount]:
    """Count the API requests sent by this thread (or task) inside the block.

    A client may be shared by several extractions at once; each counts its own requests.
    """
    count = RequestCount()
    token = _REQUEST_COUNT.set(count)
    try:
        yield count
    finally:
        _REQUEST_COUNT.reset(token)


def _describe(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}{parts.path}"


class Transport:
    """Sends requests under the policy above; knows nothing of GraphQL or tokens."""

    def __init__(
        self,
        *,
        timeout: tuple[float, float],
        retry: RetryPolicy,
        rate_limiter: RateLimiter | None,
        ca_bundle: str | None = None,
        pool_size: int = 16,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ):
        self.timeout = timeout
        self.retry = retry
        self.rate_limiter = rate_limiter
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.session = requests.Session()
        self.session.verify = ca_bundle if ca_bundle else True
        # Without an auth of its own, requests swaps the Authorization header for ~/.netrc's
        # credentials (a "default" entry matches every host): this auth keeps the header as set.
        self.session.auth = _keep_authorization
        self.session.headers.update({"User-Agent": f"pf-provider/{__version__}", "Accept": "application/json"})
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.rate_limit_waits = 0
        self.retries = 0
        self.requests = 0

    def close(self) -> None:
        self.session.close()

    def _request(self, method: str, url: str, *, rate_limited: bool, **kwargs: Any) -> requests.Response:
        """One HTTP exchange, body included (a truncated answer fails here, retryably)."""
        try:
            response = self.session.request(
                method,
                url,
                timeout=self.timeout,
                allow_redirects=False,
                verify=self.session.verify,
                proxies=dict(NO_PROXIES) if is_loopback(urlsplit(url).hostname or "") else None,
                **kwargs,
            )
            response.content  # noqa: B018
        except BaseException:
            if rate_limited and self.rate_limiter is not None:
                self.rate_limiter.release()
            raise
        return response

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        data: bytes | None = None,
        rate_limited: bool = True,
        retry_statuses: tuple[int, ...] | None = None,
    ) -> requests.Response:
        """One request, retried per the policy; returns the first answer not worth retrying."""
        retry_statuses = self.retry.retry_statuses if retry_statuses is None else retry_statuses
        attempt = 0
        rate_limit_waits = 0
        where = _describe(url)
        while True:
            if rate_limited and self.rate_limiter is not None:
                self.rate_limiter.acquire()
            attempt += 1
            if rate_limited:
                self.requests += 1
                count = _REQUEST_COUNT.get()
                if count is not None:
                    count.value += 1
            started = time.monotonic()
            try:
                response = self._request(
                    method,
                    url,
                    headers=dict(headers),
                    data=data,
                    rate_limited=rate_limited,
                )
            except requests.exceptions.SSLError as exc:
                raise TransportError(
                    f"TLS verification failed for {where}: {type(exc).__name__}. pf-provider always "
                    "verifies certificates; if your network uses its own CA, pass its bundle as ca_bundle"
                ) from None
            except (
                requests.exceptions.ConnectionError,
                requests.exceptions.Timeout,
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError,
            ) as exc:
                reason = _failure_reason(exc)
                if attempt >= self.retry.max_attempts:
                    raise TransportError(f"{method} {where} failed after {attempt} attempts: {reason}") from None
                delay = self.retry.backoff(attempt, self._rng)
                logger.warning(
                    "%s %s failed (%s); retrying in %.1f s (attempt %d of %d)",
                    method,
                    where,
                    reason,
                    delay,
                    attempt,
                    self.retry.max_attempts,
                )
                self.retries += 1
                self._sleep(delay)
                continue
            elapsed = time.monotonic() - started
            status = response.status_code
            logger.debug("%s %s -> HTTP %d in %.3f s", method, where, status, elapsed)
            if rate_limited and self.rate_limiter is not None:
                self.rate_limiter.observe(response.headers)
            if 300 <= status < 400:
                location = response.headers.get("Location", "")
                target = urlsplit(location).hostname or "the same host"
                raise InvalidResponseError(
                    f"{where} answered a redirect (HTTP {status}) to {target}; pf-provider does not follow "
                    "redirects, so credentials never travel elsewhere. Set the API URL to the final address"
                )
            if status == 429:
                wait = retry_after_seconds(response.headers)
                if wait is not None and wait > self.retry.max_retry_after:
                    raise RateLimitError(
                        f"{where} is rate limited and asks to wait {wait:.0f} s, more than max_retry_after "
                        f"({self.retry.max_retry_after:.0f} s)",
                        retry_after=wait,
                    )
                if rate_limit_waits >= self.retry.max_rate_limit_waits:
                    raise RateLimitError(
                        f"{where} answered HTTP 429 {rate_limit_waits + 1} times in a row; giving up",
                        retry_after=wait,
                    )
                rate_limit_waits += 1
                attempt -= 1
                if wait is None:
                    wait = self.retry.backoff(rate_limit_waits, self._rng)
                wait += 0.05 + 0.1 * wait * self._rng.random()
                self.rate_limit_waits += 1
                logger.info("%s is rate limited (HTTP 429); waiting %.1f s before retrying", where, wait)
                if rate_limited and self.rate_limiter is not None:
                    self.rate_limiter.block_for(wait)
                else:
                    self._sleep(wait)
                continue
            if status in retry_statuses:
                if attempt >= self.retry.max_attempts:
                    raise TransportError(
                        f"{method} {where} answered HTTP {status} on each of {attempt} attempts",
                        status_code=status,
                    )
                delay = self.retry.backoff(attempt, self._rng)
                logger.warning(
                    "%s %s answered HTTP %d; retrying in %.1f s (attempt %d of %d)",
                    method,
                    where,
                    status,
                    delay,
                    attempt,
                    self.retry.max_attempts,
                )
                self.retries += 1
                self._sleep(delay)
                continue
            return response


def _keep_authorization(request: requests.PreparedRequest) -> requests.PreparedRequest:
    return request


def _failure_reason(exc: BaseException) -> str:
    """A short cause without the URL's query or any header (requests puts URLs in messages)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "no answer within the read timeout"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the answer was cut off before its end"
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return "the answer could not be decoded"
    text = str(exc)
    for marker in (
        "Connection refused",
        "Connection reset",
        "RemoteDisconnected",
        "Name or service not known",
        "Temporary failure in name resolution",
        "Connection aborted",
        "Network is unreachable",
    ):
        if marker in text:
            return marker.lower()
    return type(exc).__name__
