"""Transport policy: TLS verification cannot be switched off, plain http:// only reaches loopback
(whatever the URL's spelling or the proxy settings), redirects are refused so the Authorization
header never travels to another host, ~/.netrc cannot swap it, and a bad CA bundle fails before
any request.

(The Airflow connection extras that try to turn verification off, such as {"verify": false},
are refused by tests/airflow/test_hook.py::test_bad_connections_fail_before_any_request.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from reliability_support import FAST_RETRY, SHORT_TIMEOUT

from pf_provider import ConfigurationError, InvalidResponseError, ProbableFuturesClient, TransportError
from pf_provider.emulator import Emulator, EmulatorConfig
from pf_provider.transport import normalize_api_url

pytestmark = pytest.mark.timeout(60)

POINT = {"latitude": 12.0, "longitude": 34.0, "dataset_id": 40101, "warming_scenario": "1.5"}
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@pytest.fixture
def two_hosts():
    """The API and "another host": a second emulator, on its own port, that must hear nothing."""
    with Emulator(EmulatorConfig(rate_limit=None)) as api, Emulator(EmulatorConfig(rate_limit=None)) as other:
        yield api, other


# -- plain http only on loopback ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.5",
        "http://192.168.1.10:8080",
        "http://8.8.8.8/graphql",
        "http://0.0.0.0:8000",
        "http://[2001:db8::1]",
        "http://[::]",
        "http://[::ffff:127.0.0.1]",
        "http://[fe80::1%25lo]",
        "http://graphql.probablefutures.org",
        "http://localhost.evil.example",
        "http://127.0.0.1.nip.io",
        "http://127.1",
        "http://2130706433",
        "http://localhost.",
        "http://127.0.0.1\t.evil.example",
        "http://evil.example\\.127.0.0.1",
        "HTTP://Example.ORG",
    ],
)
def test_plain_http_off_loopback_is_refused_before_any_request(url):
    with pytest.raises(ConfigurationError, match=r"plain http:// is refused.*https://"):
        ProbableFuturesClient("id", "secret", url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1\\@evil.example",  # requests and urlsplit disagree on the host: refused as credentials
        "http://127.0.0.1%2f@evil.example",
        "http://user@127.0.0.1",
        "https://exa mple.org",
        "https://[::1",
        "https://example.org:99999",
    ],
)
def test_urls_that_would_not_go_where_they_seem_are_refused(url):
    with pytest.raises(ConfigurationError, match=r"credentials|not a valid URL|invalid port"):
        normalize_api_url(url)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "localhost", "[::1]"])
def test_plain_http_on_loopback_is_allowed(host):
    assert normalize_api_url(f"http://{host}:8080/graphql") == f"http://{host}:8080"


def test_proxy_settings_cannot_carry_loopback_traffic_off_the_machine(two_hosts, make_client, monkeypatch):
    """With HTTP_PROXY set, requests would send a plain-http request, Authorization header and
    all, to the proxy. Loopback requests bypass proxies, so the credentials stay on this machine."""
    api, proxy = two_hosts
    for name in PROXY_VARIABLES:
        monkeypatch.setenv(name, proxy.url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    client = make_client(api, retry=FAST_RETRY, timeout=SHORT_TIMEOUT)
    assert len(client.get_dataset_statistics(**POINT)) == 1
    assert proxy.stats.total_requests == 0 and proxy.requests == []
    assert [(r.path, r.auth_scheme) for r in api.requests] == [("/auth/token", "Basic"), ("/graphql", "Bearer")]


def test_a_netrc_default_entry_neither_replaces_nor_receives_the_authorization(
    two_hosts, make_client, monkeypatch, tmp_path
):
    """requests swaps in ~/.netrc credentials for requests without auth of their own; a
    "default" entry matches every host, so those unrelated credentials would go to the API."""
    api, _ = two_hosts
    netrc = tmp_path / "netrc"
    netrc.write_text("default login netrc-user password netrc-canary-password\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    client = make_client(api, retry=FAST_RETRY, timeout=SHORT_TIMEOUT)
    assert len(client.get_dataset_statistics(**POINT)) == 1, "our own credentials went out, not netrc's"
    assert [(r.path, r.auth_scheme, r.status) for r in api.requests] == [
        ("/auth/token", "Basic", 201),
        ("/graphql", "Bearer", 200),
    ]


# -- redirects ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("path", ["/auth/token", "/graphql"])
def test_redirects_are_refused_and_the_other_host_hears_nothing(two_hosts, make_client, status, path):
    api, other = two_hosts
    client = make_client(api, retry=FAST_RETRY, timeout=SHORT_TIMEOUT)
    if path == "/graphql":
        client.get_access_token()
    api.reset_stats()
    api.enqueue_raw(path, status, b"", {"Location": f"{other.url}{path}"})
    with pytest.raises(InvalidResponseError) as caught:
        client.get_dataset_statistics(**POINT)
    message = str(caught.value)
    assert f"redirect (HTTP {status}) to 127.0.0.1" in message
    assert "does not follow redirects, so credentials never travel elsewhere" in message
    assert "Set the API URL to the final address" in message
    assert other.stats.total_requests == 0 and other.requests == [], "nothing reached the other host"
    (record,) = api.requests
    assert record.path == path and record.status == status, "refused at once, not retried"


def test_a_redirect_to_the_same_host_is_refused_too(two_hosts, make_client):
    api, _ = two_hosts
    client = make_client(api, retry=FAST_RETRY, timeout=SHORT_TIMEOUT)
    api.enqueue_raw("/auth/token", 302, b"", {"Location": "/login"})
    with pytest.raises(InvalidResponseError, match=r"redirect \(HTTP 302\) to the same host"):
        client.get_access_token()


# -- TLS ------------------------------------------------------------------------------------------------


@pytest.fixture
def tls_emulator():
    with Emulator(EmulatorConfig(tls=True, rate_limit=None)) as emu:
        yield emu


@pytest.mark.parametrize("ca_bundle", [None, "", False])
def test_tls_is_verified_and_an_empty_ca_bundle_means_the_default_trust(tls_emulator, make_client, ca_bundle):
    client = make_client(tls_emulator, retry=FAST_RETRY, timeout=SHORT_TIMEOUT, ca_bundle=ca_bundle)
    with pytest.raises(TransportError, match=r"TLS verification failed.*pass its bundle as ca_bundle"):
        client.get_access_token()
    assert tls_emulator.stats.total_requests == 0, "the Basic credentials never crossed an unverified channel"


@pytest.mark.parametrize(
    "variables",
    [
        {"CURL_CA_BUNDLE": "", "REQUESTS_CA_BUNDLE": ""},
        {"PYTHONHTTPSVERIFY": "0"},
        {"SSL_CERT_FILE": "", "SSL_CERT_DIR": ""},
    ],
)
def test_environment_variables_do_not_switch_verification_off(tls_emulator, make_client, monkeypatch, variables):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(TransportError, match="TLS verification failed"):
        make_client(tls_emulator, retry=FAST_RETRY, timeout=SHORT_TIMEOUT).get_access_token()
    assert tls_emulator.stats.total_requests == 0


@pytest.mark.parametrize("ca_bundle", ["false", "0", "/nonexistent/ca.pem", True])
def test_a_ca_bundle_that_is_not_a_file_is_refused_before_any_request(tls_emulator, ca_bundle):
    with pytest.raises(ConfigurationError, match=r"ca_bundle .* is not an existing file.*cannot be turned off"):
        ProbableFuturesClient("id", "secret", tls_emulator.url, ca_bundle=ca_bundle)
    assert tls_emulator.stats.total_requests == 0


def test_the_emulators_ca_adds_trust_given_as_a_path(tls_emulator, make_client):
    client = make_client(
        tls_emulator, retry=FAST_RETRY, timeout=SHORT_TIMEOUT, ca_bundle=Path(tls_emulator.ca_cert_path)
    )
    assert len(client.get_dataset_statistics(**POINT)) == 1
