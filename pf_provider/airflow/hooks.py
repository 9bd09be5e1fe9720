"""``ProbableFuturesHook``: an Airflow connection turned into a :class:`ProbableFuturesClient`.

The hook only translates: connection fields become client arguments, the client secret
and every token the client obtains are registered with Airflow's secret masker, and core
errors are re-raised with the connection id so the task log says which connection to fix.
Constructing the hook (or parsing a DAG that uses it) reads nothing and sends nothing.
"""

from __future__ import annotations

import base64
import math
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from airflow.sdk import BaseHook

from pf_provider._provider_info import CONN_FIELDS, CONNECTION_TYPE
from pf_provider.client import ProbableFuturesClient
from pf_provider.errors import ConfigurationError, ProbableFuturesError
from pf_provider.models import DatasetStatistic
from pf_provider.ratelimit import shared_rate_limiter
from pf_provider.transport import DEFAULT_TIMEOUT, RetryPolicy, normalize_api_url

# Extra keys that would switch TLS verification off in other hooks. Refused with a pointer
# to ``ca_bundle`` instead of being silently ignored.
_VERIFY_KEYS = frozenset({"verify", "verify_ssl", "ssl_verify", "insecure", "no_verify", "disable_tls", "ssl"})

TEST_RETRY = RetryPolicy(max_attempts=2, backoff_initial=0.2, backoff_max=1.0, max_rate_limit_waits=1)


def mask(value: str | None) -> None:
    """Register a value with Airflow's secret masker (task logs, rendered fields, UI)."""
    if not value:
        return
    from airflow.sdk.log import mask_secret

    mask_secret(value)


def _mask_then(callback: Callable[[str], None] | None) -> Callable[[str], None]:
    def on_new_token(token: str) -> None:
        mask(token)
        if callback is not None:
            callback(token)

    return on_new_token


class ProbableFuturesHook(BaseHook):
    """Talk to the Probable Futures API with the credentials of an Airflow connection.

    The connection's login is the client ID, its password the client secret, its host the
    API base URL with its scheme (empty: production). Optional settings live in the extra
    (see the connection form): ``timeout``, ``connect_timeout``, ``max_attempts``,
    ``requests_per_minute``, ``max_batch_size``, ``ca_bundle``, ``allow_unknown_datasets``.

    Args:
        probable_futures_conn_id: The Airflow connection to read.
        client_options: Override what the connection says, for this hook only: extra-field
            names (``{"timeout": 120}``) or any ``ProbableFuturesClient`` keyword argument.
    """

    conn_name_attr = "probable_futures_conn_id"
    default_conn_name = "probable_futures_default"
    conn_type = CONNECTION_TYPE
    hook_name = "Probable Futures"

    def __init__(
        self,
        probable_futures_conn_id: str = default_conn_name,
        *,
        client_options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(probable_futures_conn_id, str) or not probable_futures_conn_id.strip():
            raise ConfigurationError("probable_futures_conn_id must name an Airflow connection")
        self.probable_futures_conn_id = probable_futures_conn_id
        self.client_options = dict(client_options or {})
        self._client: ProbableFuturesClient | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(probable_futures_conn_id={self.probable_futures_conn_id!r})"

    # -- connection -> client arguments ------------------------------------------------------

    @staticmethod
    def _extra_options(extra: Mapping[str, Any]) -> dict[str, Any]:
        """The known extra fields, plain (``timeout``) or prefixed (``extra__probable_futures__timeout``)."""
        prefix = f"extra__{CONNECTION_TYPE}__"
        options: dict[str, Any] = {}
        for key, value in extra.items():
            name = key[len(prefix) :] if key.startswith(prefix) else key
            if name.lower() in _VERIFY_KEYS:
                raise ConfigurationError(
                    f"the connection extra {key!r} would change TLS verification, which pf-provider never "
                    "turns off; remove it, and if your network uses its own CA set 'ca_bundle' to its PEM file"
                )
            if name in CONN_FIELDS and value not in (None, ""):
                options[name] = value
        return options

    @staticmethod
    def _api_url(host: str | None, port: int | None) -> str:
        """The base URL from ``host`` (with its scheme; https when it has none) and ``port``."""
        text = (host or "").strip()
        if not text:
            return normalize_api_url(None)
        if "://" not in text:
            text = "https://" + text
        if port:
            scheme, rest = text.split("://", 1)
            netloc, slash, path = rest.partition("/")
            if not netloc.rsplit("]", 1)[-1].count(":"):
                netloc = f"{netloc}:{int(port)}"
            text = f"{scheme}://{netloc}{slash}{path}"
        return normalize_api_url(text)

    @staticmethod
    def _number(options: Mapping[str, Any], name: str, kind: type, default: Any) -> Any:
        raw = options.get(name, default)
        try:
            value = float(raw.strip() if isinstance(raw, str) else raw)
        except (TypeError, ValueError):
            value = math.nan
        if isinstance(raw, bool) or not math.isfinite(value) or value <= 0:
            raise ConfigurationError(f"the connection extra {name!r} must be a positive number, got {raw!r}")
        if kind is int:
            if not value.is_integer():
                raise ConfigurationError(f"the connection extra {name!r} must be a whole number, got {raw!r}")
            return int(value)
        return value

    @staticmethod
    def _ca_bundle(raw: Any) -> str:
        path = os.path.expanduser(str(raw).strip())
        if not os.path.isfile(path):
            raise ConfigurationError(
                f"the connection extra 'ca_bundle' names {path!r}, which is not a file on this machine; "
                "point it at a PEM file of CA certificates"
            )
        return path

    @staticmethod
    def _flag(options: Mapping[str, Any], name: str) -> bool:
        raw = options.get(name, False)
        if isinstance(raw, str):
            if raw.strip().lower() in ("true", "1", "yes", "on"):
                return True
            if raw.strip().lower() in ("false", "0", "no", "off", ""):
                return False
            raise ConfigurationError(f"the connection extra {name!r} must be true or false, got {raw!r}")
        return bool(raw)

    def client_kwargs(self, conn: Any) -> dict[str, Any]:
        """``ProbableFuturesClient`` keyword arguments for an Airflow connection (no request sent)."""
        conn_id = self.probable_futures_conn_id
        if conn.conn_type and conn.conn_type != CONNECTION_TYPE:
            self.log.warning(
                "Connection %r has type %r; the Probable Futures hook expects %r",
                conn_id,
                conn.conn_type,
                CONNECTION_TYPE,
            )
        client_id = (conn.login or "").strip()
        secret = conn.password or ""
        if not client_id:
            raise ConfigurationError(
                f'connection {conn_id!r} has no client ID: set its login ("Client ID" in the form) '
                "to the client ID Probable Futures issued you"
            )
        if not secret.strip():
            raise ConfigurationError(
                f'connection {conn_id!r} has no client secret: set its password ("Client Secret" in the form)'
            )
        try:
            options = self._extra_options(conn.extra_dejson)
            options.update({k: v for k, v in self.client_options.items() if k in CONN_FIELDS})
            api_url = self._api_url(conn.host, conn.port)
            timeout = (
                self._number(options, "connect_timeout", float, DEFAULT_TIMEOUT[0]),
                self._number(options, "timeout", float, DEFAULT_TIMEOUT[1]),
            )
            kwargs: dict[str, Any] = {
                "client_id": client_id,
                "client_secret": secret,
                "api_url": api_url,
                "timeout": timeout,
                "retry": RetryPolicy(max_attempts=self._number(options, "max_attempts", int, 5)),
                "max_batch_size": self._number(options, "max_batch_size", int, 50),
                "allow_unknown_datasets": self._flag(options, "allow_unknown_datasets"),
                "on_new_token": mask,
            }
            if "requests_per_minute" in options:
                per_minute = self._number(options, "requests_per_minute", int, 100)
                kwargs["rate_limiter"] = shared_rate_limiter(api_url, per_minute)
            if options.get("ca_bundle"):
                kwargs["ca_bundle"] = self._ca_bundle(options["ca_bundle"])
        except ConfigurationError as exc:
            raise ConfigurationError(f"connection {conn_id!r}: {exc}") from None
        kwargs.update({k: v for k, v in self.client_options.items() if k not in CONN_FIELDS})
        if kwargs["on_new_token"] is not mask:  # a caller's callback runs too, never instead of masking
            kwargs["on_new_token"] = _mask_then(kwargs["on_new_token"])
        return kwargs

    # -- the client ----------------------------------------------------------------------------

    def _build_client(self, **overrides: Any) -> ProbableFuturesClient:
        conn = self.get_connection(self.probable_futures_conn_id)
        # Airflow masks the password of a connection it hands to a task; mask again, plus
        # the Basic credential derived from it, so neither can reach a log in any form.
        mask(conn.password)
        if conn.login and conn.password:
            mask(base64.b64encode(f"{conn.login.strip()}:{conn.password.strip()}".encode()).decode("ascii"))
        kwargs = {**self.client_kwargs(conn), **overrides}
        try:
            return ProbableFuturesClient(**kwargs)
        except ConfigurationError as exc:
            raise ConfigurationError(f"connection {self.probable_futures_conn_id!r}: {exc}") from None

    def get_conn(self) -> ProbableFuturesClient:
        """The hook's client, built on first call (at run time); later calls reuse it and its token."""
        if self._client is None:
            self._client = self._build_client()
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> ProbableFuturesHook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def test_connection(self) -> tuple[bool, str]:
        """Fetch a token with the connection's credentials; ``(ok, message)`` for the UI's Test button."""
        try:
            # Someone is waiting on the Test button: one quick retry, not the task's full budget
            # (this service answers a wrong secret with HTTP 500, which tasks would retry).
            client = self._build_client(retry=TEST_RETRY)
        except ProbableFuturesError as exc:
            return False, str(exc)
        except Exception as exc:  # connection missing, unreadable extra...
            return False, f"could not read connection {self.probable_futures_conn_id!r}: {type(exc).__name__}: {exc}"
        try:
            with client:
                client.get_access_token()
                expires = client.token_expires_at
        except ProbableFuturesError as exc:
            return False, str(exc)
        until = f", token valid until {expires:%Y-%m-%d %H:%M UTC}" if expires else ""
        return True, f"Connected to {client.api_url} as client ID {client.client_id!r}{until}"

    # -- pass-throughs for TaskFlow code ---------------------------------------------------

    def get_dataset_statistics(
        self,
        *,
        latitude: float | None = None,
        longitude: float | None = None,
        country: str | None = None,
        city: str | None = None,
        address: str | None = None,
        warming_scenario: Any = None,
        dataset_id: Any = None,
        fields: Iterable[str] | str | None = None,
    ) -> list[DatasetStatistic]:
        """:meth:`ProbableFuturesClient.get_dataset_statistics`; rows have ``.to_dict()`` for XCom."""
        return self.get_conn().get_dataset_statistics(
            latitude=latitude,
            longitude=longitude,
            country=country,
            city=city,
            address=address,
            warming_scenario=warming_scenario,
            dataset_id=dataset_id,
            fields=fields,
        )

    def execute(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        *,
        operation_name: str | None = None,
        validate: bool = True,
    ) -> dict[str, Any]:
        """:meth:`ProbableFuturesClient.execute`: one GraphQL document, its ``data`` returned."""
        return self.get_conn().execute(query, variables, operation_name=operation_name, validate=validate)
