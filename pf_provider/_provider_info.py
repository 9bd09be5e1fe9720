"""Provider metadata for Airflow: what ``pf_provider.get_provider_info()`` returns.

Plain data, no imports: Airflow reads it when it starts, and from 3.2 on it builds the
connection form from ``conn-fields`` and ``ui-field-behaviour`` without importing the hook
(the hook's ``get_connection_form_widgets`` path is deprecated there). Keep it that way.
"""

from __future__ import annotations

from typing import Any

from . import __version__

PRODUCTION_URL = "https://graphql.probablefutures.org"
CONNECTION_TYPE = "probable_futures"
HOOK_CLASS_NAME = "pf_provider.airflow.hooks.ProbableFuturesHook"

# Extra fields of the connection form. Stored in the connection's ``extra`` JSON under these
# names. Deliberately, no field can switch TLS verification off: ``ca_bundle`` can only add a CA.
CONN_FIELDS: dict[str, Any] = {
    "timeout": {
        "label": "Read timeout (seconds)",
        "description": "Seconds to wait for an answer before retrying (default 60).",
        "schema": {"type": ["number", "null"], "minimum": 1, "maximum": 3600},
    },
    "connect_timeout": {
        "label": "Connect timeout (seconds)",
        "description": "Seconds to wait for a TCP/TLS connection (default 10).",
        "schema": {"type": ["number", "null"], "minimum": 1, "maximum": 600},
    },
    "max_attempts": {
        "label": "Attempts per request",
        "description": "Tries of one request after connection errors, timeouts and 5xx answers (default 5).",
        "schema": {"type": ["integer", "null"], "minimum": 1, "maximum": 20},
    },
    "requests_per_minute": {
        "label": "Requests per minute (this worker process)",
        "description": (
            "Client-side pacing of /graphql calls in one worker process. The API allows 100 per minute per "
            "client IP; with N tasks running at once behind one IP, set about 100 / N (default 100)."
        ),
        "schema": {"type": ["integer", "null"], "minimum": 1, "maximum": 100},
    },
    "max_batch_size": {
        "label": "Operations per HTTP request",
        "description": "Upper bound of GraphQL operations batched into one request (default 50).",
        "schema": {"type": ["integer", "null"], "minimum": 1, "maximum": 200},
    },
    "ca_bundle": {
        "label": "CA bundle path",
        "description": (
            "Path of a PEM file with extra CA certificates, for networks that inspect TLS. Certificates are "
            "always verified; this can only add trust, never remove verification."
        ),
        "schema": {"type": ["string", "null"]},
    },
    "allow_unknown_datasets": {
        "label": "Allow dataset ids newer than this release",
        "description": "Let dataset ids that pf-provider's bundled catalog does not know through to the API.",
        "schema": {"type": ["boolean", "null"], "default": False},
    },
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    # Port stays visible: Airflow 3.3.2's Test button sends port 0 for a connection saved
    # without one and the API refuses it (apache/airflow#73298). Empty means the URL's own.
    "hidden-fields": ["schema", "extra"],
    "relabeling": {"login": "Client ID", "password": "Client Secret", "host": "API URL", "port": "Port"},
    "placeholders": {
        "login": "client ID issued by Probable Futures",
        "password": "client secret issued by Probable Futures",
        "host": PRODUCTION_URL,
        "port": "443",
        "timeout": "60",
        "connect_timeout": "10",
        "max_attempts": "5",
        "requests_per_minute": "100",
        "max_batch_size": "50",
        "ca_bundle": "/etc/ssl/certs/corporate-ca.pem",
    },
}

PROVIDER_INFO: dict[str, Any] = {
    "package-name": "pf-provider",
    "name": "Probable Futures",
    "description": "Probable Futures climate-data API: connection type, hook, operators and example DAGs.",
    "versions": [__version__],
    "integrations": [
        {
            "integration-name": "Probable Futures",
            "external-doc-url": "https://docs.probablefutures.org/api/",
            "tags": ["service"],
        }
    ],
    "hooks": [{"integration-name": "Probable Futures", "python-modules": ["pf_provider.airflow.hooks"]}],
    "operators": [{"integration-name": "Probable Futures", "python-modules": ["pf_provider.airflow.operators"]}],
    "connection-types": [
        {
            "connection-type": CONNECTION_TYPE,
            "hook-class-name": HOOK_CLASS_NAME,
            "hook-name": "Probable Futures",
            "conn-fields": CONN_FIELDS,
            "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
        }
    ],
}
