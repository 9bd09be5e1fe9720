"""The ``Probable Futures Credentials`` block: a client ID, its secret and the API URL.

The block is data plus one factory. Loading or saving it sends nothing to the API; the
token is fetched the first time a client built from it makes a call. Clients are cached
per process, so every task of a worker that uses the same credentials shares one client,
one connection pool and one token.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from collections import OrderedDict
from typing import Any, ClassVar

from prefect.blocks.abstract import CredentialsBlock
from pydantic import Field, SecretStr, field_validator

from ..client import ProbableFuturesClient
from ..errors import ConfigurationError
from ..ratelimit import RateLimiter, shared_rate_limiter
from ..transport import DEFAULT_API_URL, normalize_api_url

DOCUMENTATION_URL = "https://github.com/pf-provider/pf-provider/blob/main/docs/prefect.md"
LOGO_URL = (
    "https://raw.githubusercontent.com/Probable-Futures/apps-public/"
    "3b3f11f207af5dedfcc7fc54e02f6706e42d11ae/packages/maps/src/assets/icons/pf-icon.svg"
)

_MAX_CACHED_CLIENTS = 16
_cache_lock = threading.Lock()
_clients: OrderedDict[tuple[Any, ...], ProbableFuturesClient] = OrderedDict()
# Keys the in-memory client cache. Random per process, so a cache key is no stable
# fingerprint of the secret; the key is never logged, persisted or returned.
_PROCESS_KEY = secrets.token_bytes(32)


def _cache_key(client_id: str, secret: str, api_url: str, rate_limit: str | None) -> tuple[Any, ...]:
    digest = hmac.new(_PROCESS_KEY, secret.encode("utf-8"), hashlib.sha256).digest()
    # The pid guards against a cache inherited through fork: a forked child builds its own client.
    return (os.getpid(), client_id, api_url, digest, rate_limit)


def clear_client_cache() -> None:
    """Close and forget every cached client of this process (tests, long-lived workers)."""
    with _cache_lock:
        cached = list(_clients.values())
        _clients.clear()
    for client in cached:
        client.close()


class ProbableFuturesCredentials(CredentialsBlock):
    """Credentials for the Probable Futures climate-data API.

    Holds the client ID and client secret that Probable Futures issued you, and the API
    URL. ``get_client()`` returns a ``ProbableFuturesClient``; the access token is fetched
    when the client first calls the API, never when the block is loaded.

    Example:
        Load stored credentials and query a location:
        ```python
        from pf_provider.prefect import ProbableFuturesCredentials

        credentials = ProbableFuturesCredentials.load("BLOCK_NAME")
        client = credentials.get_client()
        rows = client.get_dataset_statistics(latitude=40.7, longitude=-74.0, warming_scenario="1.5")
        ```
    """

    _block_type_name: ClassVar[str] = "Probable Futures Credentials"
    _block_type_slug: ClassVar[str] = "probable-futures-credentials"
    _logo_url: ClassVar[str] = LOGO_URL
    _documentation_url: ClassVar[str] = DOCUMENTATION_URL
    _description: ClassVar[str] = (
        "Client ID and client secret for the Probable Futures climate-data API. "
        "Builds an authenticated client; the token is fetched at run time."
    )

    client_id: str = Field(
        default=...,
        title="Client ID",
        description="The client ID Probable Futures issued you (ask the Probable Futures team for API access).",
        examples=["my-client-id"],
    )
    client_secret: SecretStr = Field(
        default=...,
        title="Client secret",
        description="The client secret issued with the client ID. Stored as a Prefect secret; never logged.",
    )
    api_url: str = Field(
        default=DEFAULT_API_URL,
        title="API URL",
        description=(
            "Base URL of the API. Keep the default for the production service; https is required, "
            "plain http only on loopback (a local emulator)."
        ),
    )

    @field_validator("client_id")
    @classmethod
    def _check_client_id(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("the client ID is empty; enter the client ID Probable Futures issued you")
        if ":" in value:
            raise ValueError("the client ID must not contain ':' (HTTP Basic authentication splits on it)")
        return value

    @field_validator("client_secret")
    @classmethod
    def _check_client_secret(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("the client secret is empty; enter the secret issued with the client ID")
        return value

    @field_validator("api_url", mode="before")
    @classmethod
    def _check_api_url(cls, value: Any) -> str:
        try:
            return normalize_api_url(value)
        except ConfigurationError as exc:
            raise ValueError(str(exc)) from None

    def get_client(self, *, global_rate_limit: str | None = None) -> ProbableFuturesClient:
        """The process's client for these credentials, built on first use.

        ``global_rate_limit`` names a Prefect global concurrency limit (with slot decay) that
        every request of this client first takes a slot from, so clients in many worker
        processes together stay under the API's rate limit; see
        :mod:`pf_provider.prefect.rate_limit`.
        """
        secret = self.client_secret.get_secret_value()
        key = _cache_key(self.client_id, secret, self.api_url, global_rate_limit)
        with _cache_lock:
            client = _clients.get(key)
            if client is not None:
                _clients.move_to_end(key)
                return client
            client = ProbableFuturesClient(
                self.client_id, secret, self.api_url, rate_limiter=self._rate_limiter(global_rate_limit)
            )
            _clients[key] = client
            while len(_clients) > _MAX_CACHED_CLIENTS:
                # Not closed: another thread may still be using it; the GC closes its pool.
                _clients.popitem(last=False)
            return client

    def _rate_limiter(self, global_rate_limit: str | None) -> RateLimiter:
        if global_rate_limit is None:
            return shared_rate_limiter(self.api_url)
        from .rate_limit import shared_global_rate_limiter

        return shared_global_rate_limiter(self.api_url, global_rate_limit)

    def get_access_token(self) -> str:
        """A valid bearer token, fetched now if this process has none yet.

        The value is a credential: hand it to the code that needs it, never to a log, a
        task result or an artifact.
        """
        return self.get_client().get_access_token()
