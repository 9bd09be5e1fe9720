"""The credentials block on a real Prefect server: registration, storage, loading, clients."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pydantic import SecretStr, ValidationError

from pf_provider import ProbableFuturesClient
from pf_provider.prefect import ProbableFuturesCredentials
from pf_provider.transport import DEFAULT_API_URL

SLUG = "probable-futures-credentials"
BLOCK_NAME = "probable-futures"


def test_entry_point_names_the_module_that_defines_the_block():
    (entry,) = [e for e in entry_points(group="prefect.collections") if e.name == "pf_provider"]
    module = entry.load()
    assert module.__name__ == "pf_provider.prefect"
    assert module.ProbableFuturesCredentials is ProbableFuturesCredentials


def test_server_registers_the_block_type_on_start(prefect_server):
    # Read before this process saved or registered anything (see the fixture).
    assert SLUG in prefect_server["block_types_at_start"]

    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        block_type = client.read_block_type_by_slug(SLUG)
        schemas = client.read_block_schemas()
    assert block_type.name == "Probable Futures Credentials"
    assert str(block_type.documentation_url).endswith("docs/prefect.md")
    assert block_type.logo_url is not None
    assert "Probable Futures" in (block_type.description or "")
    assert "ProbableFuturesCredentials.load(" in (block_type.code_example or "")
    (schema,) = [s for s in schemas if s.block_type_id == block_type.id]
    assert schema.fields["secret_fields"] == ["client_secret"]
    assert schema.fields["properties"]["client_secret"]["format"] == "password"
    assert schema.fields["properties"]["client_id"]["title"] == "Client ID"
    assert schema.fields["properties"]["api_url"]["default"] == DEFAULT_API_URL


def test_block_register_command(prefect_server):
    env = {**os.environ, "PREFECT_API_URL": prefect_server["api_url"]}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "prefect"), "block", "register", "-m", "pf_provider.prefect"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Successfully registered 1 block" in done.stdout
    assert "Probable Futures Credentials" in done.stdout


def test_save_and_load_through_the_server_sends_nothing_to_the_api(credentials, emulator, canary_secret):
    loaded = ProbableFuturesCredentials.load(BLOCK_NAME)
    assert isinstance(loaded.client_secret, SecretStr)
    assert loaded.client_secret.get_secret_value() == canary_secret
    assert (loaded.client_id, loaded.api_url) == (emulator.client_id, emulator.url)
    assert emulator.stats.total_requests == 0, "saving or loading the block must not call the API"
    assert canary_secret not in repr(loaded) and canary_secret not in str(loaded)
    assert canary_secret not in loaded.model_dump_json()


def test_stored_document_holds_the_secret_only_as_prefect_stores_secrets(prefect_server, credentials, canary_secret):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        plain = client.read_block_document_by_name(BLOCK_NAME, SLUG, include_secrets=False)
        full = client.read_block_document_by_name(BLOCK_NAME, SLUG, include_secrets=True)
    assert plain.data["client_secret"] != canary_secret
    assert set(str(plain.data["client_secret"])) == {"*"}, "the API obfuscates secret fields"
    assert plain.data["client_id"] == credentials.client_id
    assert full.data["client_secret"] == canary_secret, "readable only when secrets are asked for"

    # On disk the server encrypts block data: the canary is in no file of its database.
    database = Path(urlsplit(prefect_server["database_url"].replace("sqlite+aiosqlite:///", "file:///")).path)
    files = [p for p in database.parent.iterdir() if p.name.startswith(database.name)]
    assert files, f"no database files beside {database}"
    for path in files:
        assert canary_secret.encode() not in path.read_bytes(), path


def test_invalid_settings_are_refused_with_a_clear_message(canary_secret):
    with pytest.raises(ValidationError) as bad_url:
        ProbableFuturesCredentials(client_id="me", client_secret=canary_secret, api_url="http://api.example.com")
    assert "https" in str(bad_url.value) and canary_secret not in str(bad_url.value)
    with pytest.raises(ValidationError) as no_id:
        ProbableFuturesCredentials(client_id="  ", client_secret=canary_secret)
    assert "client ID is empty" in str(no_id.value) and canary_secret not in str(no_id.value)
    with pytest.raises(ValidationError, match="client secret is empty"):
        ProbableFuturesCredentials(client_id="me", client_secret=" ")
    block = ProbableFuturesCredentials(client_id="me", client_secret=canary_secret)
    assert block.api_url == DEFAULT_API_URL


def test_block_pickles_with_its_secret_kept_secret(canary_secret):
    block = ProbableFuturesCredentials(client_id="me", client_secret=canary_secret, api_url="http://127.0.0.1:9")
    copy = pickle.loads(pickle.dumps(block))
    assert isinstance(copy.client_secret, SecretStr)
    assert copy.client_secret.get_secret_value() == canary_secret
    assert canary_secret not in repr(copy)


def test_one_client_and_one_token_per_process_for_the_same_credentials(credentials, emulator):
    loaded = ProbableFuturesCredentials.load(BLOCK_NAME)
    first = credentials.get_client()
    assert isinstance(first, ProbableFuturesClient)
    assert loaded.get_client() is first, "a loaded copy of the same credentials shares the client"
    token = loaded.get_access_token()
    assert credentials.get_access_token() == token
    assert token in emulator.issued_tokens
    assert emulator.stats.token_requests == 1
    other = ProbableFuturesCredentials(client_id=emulator.client_id, client_secret="another", api_url=emulator.url)
    assert other.get_client() is not first, "other credentials get their own client"
    assert credentials.get_client(global_rate_limit="some-limit") is not first


def test_wrong_secret_is_an_authentication_error_naming_the_client(emulator, canary_secret):
    from pf_provider import AuthenticationError

    wrong = f"wrong-{canary_secret}"
    block = ProbableFuturesCredentials(client_id=emulator.client_id, client_secret=wrong, api_url=emulator.url)
    with pytest.raises(AuthenticationError) as refused:
        block.get_access_token()
    assert emulator.client_id in str(refused.value)
    assert wrong not in str(refused.value) and canary_secret not in str(refused.value)
