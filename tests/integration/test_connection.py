"""How the functions reach the database in AWS: the secret, the RDS Proxy host, and startup parameters it accepts."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from moto import mock_aws
from psycopg.conninfo import conninfo_to_dict

from reelrank.db.connection import DatabaseConfigError, connect, resolve_database_url
from reelrank.settings import DatabaseSettings

SECRET = {
    "engine": "postgres",
    "host": "reelrank-db.cluster-abc.us-east-1.rds.amazonaws.com",
    "port": 5432,
    "username": "reelrank_admin",
    "password": "p@ss/word:1",
    "dbname": "reelrank",
}


@pytest.fixture
def secret_arn(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        import boto3

        client = boto3.client("secretsmanager", region_name="us-east-1")
        yield client.create_secret(Name="reelrank-db-test", SecretString=json.dumps(SECRET))["ARN"]


def test_connect_sets_the_session_without_startup_options(db_url: str) -> None:
    # Given settings with a 1.5 s statement timeout
    settings = DatabaseSettings.model_validate({"DB_STATEMENT_TIMEOUT_MS": "1500"})
    # When a connection is opened the way every function opens one
    with connect(db_url, settings) as conn:
        timeout = conn.execute("SHOW statement_timeout").fetchone()
        zone = conn.execute("SHOW timezone").fetchone()
        startup = conninfo_to_dict(conn.info.dsn)
    # Then the session has the timeout and UTC, and no `options` startup parameter was sent (RDS Proxy refuses one)
    assert timeout is not None
    assert timeout[0] == "1500ms"
    assert zone is not None
    assert zone[0] == "UTC"
    assert "options" not in startup


def test_connect_without_autocommit_leaves_no_transaction_open(db_url: str) -> None:
    # Given a connection opened for explicit transactions
    with connect(db_url, DatabaseSettings(), autocommit=False) as conn:
        # Then the session settings are committed, not pending in an open transaction
        assert conn.info.transaction_status.name == "IDLE"
        row = conn.execute("SHOW statement_timeout").fetchone()
        assert row is not None
        assert row[0] == "1min"


def test_url_from_the_secret_quotes_credentials_and_requires_tls(secret_arn: str) -> None:
    # Given only the secret (no proxy endpoint)
    settings = DatabaseSettings.model_validate({"DB_SECRET_ARN": secret_arn, "DB_SECRET_MAX_AGE_SECONDS": "0"})
    # When the URL is built
    url = resolve_database_url(settings)
    # Then it names the secret's host, quoted credentials and sslmode=require
    parts = conninfo_to_dict(url)
    assert parts["host"] == SECRET["host"]
    assert parts["user"] == "reelrank_admin"
    assert parts["password"] == "p@ss/word:1"
    assert parts["dbname"] == "reelrank"
    assert parts["sslmode"] == "require"


def test_db_host_points_the_functions_at_the_proxy_instead_of_the_cluster(secret_arn: str) -> None:
    # Given the template's DB_HOST (the database stack's ProxyEndpoint)
    proxy = "reelrank-proxy-dev.proxy-abc.us-east-1.rds.amazonaws.com"
    settings = DatabaseSettings.model_validate(
        {"DB_SECRET_ARN": secret_arn, "DB_HOST": proxy, "DB_SECRET_MAX_AGE_SECONDS": "0"}
    )
    # Then the URL connects to the proxy with the secret's credentials
    parts = conninfo_to_dict(resolve_database_url(settings))
    assert parts["host"] == proxy
    assert parts["password"] == "p@ss/word:1"


def test_an_empty_db_host_keeps_the_secrets_host(secret_arn: str) -> None:
    # Given DB_HOST rendered empty (the template's DatabaseProxyEndpoint default)
    settings = DatabaseSettings.model_validate(
        {"DB_SECRET_ARN": secret_arn, "DB_HOST": "", "DB_SECRET_MAX_AGE_SECONDS": "0"}
    )
    # Then the secret's host is used
    assert conninfo_to_dict(resolve_database_url(settings))["host"] == SECRET["host"]


def test_neither_url_nor_secret_is_a_config_error() -> None:
    with pytest.raises(DatabaseConfigError, match="DATABASE_URL"):
        resolve_database_url(DatabaseSettings())
