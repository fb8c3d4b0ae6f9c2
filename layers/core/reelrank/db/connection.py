"""One database connection per warm Lambda container: created lazily, checked before use, rebuilt once on failure.

The URL comes from ``DATABASE_URL`` (local runs, tests) or from the Secrets Manager secret named by
``DB_SECRET_ARN`` (AWS; an RDS-style JSON secret with host/port/username/password/dbname), fetched through
Powertools Parameters with a cache so a warm container does not call Secrets Manager on every invocation.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import psycopg

from reelrank.settings import DatabaseSettings, get_database_settings

_connection: psycopg.Connection[Any] | None = None


class DatabaseConfigError(Exception):
    """Neither DATABASE_URL nor DB_SECRET_ARN says where the database is, or the secret is malformed."""


def resolve_database_url(settings: DatabaseSettings) -> str:
    """The connection URL for ``settings``: ``DATABASE_URL`` first, else built from the secret."""
    if settings.database_url:
        return settings.database_url
    if settings.db_secret_arn:
        # Imported here: only AWS deployments pay for the parameters utility (and boto3) at cold start.
        from aws_lambda_powertools.utilities import parameters

        secret = parameters.get_secret(
            settings.db_secret_arn, transform="json", max_age=settings.db_secret_max_age_seconds
        )
        if not isinstance(secret, dict):
            raise DatabaseConfigError("the database secret must be a JSON object")
        try:
            user = quote(str(secret["username"]), safe="")
            password = quote(str(secret["password"]), safe="")
            host = settings.db_host or str(secret["host"])
            port = int(secret.get("port", 5432))
            dbname = quote(str(secret.get("dbname", "reelrank")), safe="")
        except (KeyError, ValueError) as exc:
            raise DatabaseConfigError(f"the database secret lacks or mangles a field: {exc}") from exc
        return f"postgresql://{user}:{password}@{host}:{port}/{dbname}?sslmode=require"
    raise DatabaseConfigError("set DATABASE_URL (local) or DB_SECRET_ARN (AWS) to say where the database is")


def connect(url: str, settings: DatabaseSettings | None = None, *, autocommit: bool = True) -> psycopg.Connection[Any]:
    """Open a new connection with the session settings every reelrank connection uses.

    The settings are applied with ``set_config`` after connecting, not as the ``options`` startup parameter: RDS
    Proxy refuses connections that carry one ("RDS Proxy currently doesn't support command-line options").
    """
    settings = settings or get_database_settings()
    conn = psycopg.connect(
        url, autocommit=autocommit, application_name=settings.db_application_name, connect_timeout=10
    )
    conn.execute(
        "SELECT set_config('statement_timeout', %s, false), set_config('timezone', 'UTC', false)",
        (str(settings.db_statement_timeout_ms),),
    )
    if not autocommit:
        conn.commit()
    return conn


def _is_usable(conn: psycopg.Connection[Any]) -> bool:
    if conn.closed or conn.broken:
        return False
    try:
        conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return False
    return True


def get_connection() -> psycopg.Connection[Any]:
    """The container's connection (autocommit; open short ``with conn.transaction():`` blocks for writes).

    Built on first use and cached at module level; if the cached one is closed or fails a ping (RDS Proxy idle
    timeout, failover) it is rebuilt once.
    """
    global _connection
    if _connection is not None and _is_usable(_connection):
        return _connection
    if _connection is not None and not _connection.closed:
        _connection.close()
    settings = get_database_settings()
    _connection = connect(resolve_database_url(settings), settings)
    return _connection


def open_connection() -> psycopg.Connection[Any]:
    """A new autocommit connection built like the container's, for work beside it (reconcile's second lane); the
    caller closes it."""
    settings = get_database_settings()
    return connect(resolve_database_url(settings), settings)


def reset_connection() -> None:
    """Close and forget the cached connection and the settings it was built from (tests, or after they changed)."""
    global _connection
    if _connection is not None and not _connection.closed:
        _connection.close()
    _connection = None
    get_database_settings.cache_clear()
