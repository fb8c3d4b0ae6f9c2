"""Apply the numbered SQL migrations in ``sql/`` in order, each exactly once.

Every applied file is recorded in ``schema_migrations`` with its SHA-256; a file whose content changed after it was
applied is refused (write a new numbered file instead). Each file runs in its own transaction, and a session-level
advisory lock makes two migrators at once safe: the second waits, then finds nothing left to apply.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

_FILE_PATTERN = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# An arbitrary but fixed key for pg_advisory_lock: "reelrank" spelled in hex-ish digits.
MIGRATION_LOCK_KEY = 0x7EE1_7A4C


class MigrationError(Exception):
    """A migration could not be applied, or the applied history does not match the files."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered migration file."""

    version: str
    name: str
    path: Path
    checksum: str

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


def discover_migrations(sql_dir: Path) -> list[Migration]:
    """List the migration files of ``sql_dir`` in version order.

    Raises
    ------
    MigrationError
        If a ``.sql`` file is misnamed or two files share a version number.
    """
    migrations: list[Migration] = []
    seen: dict[str, str] = {}
    for path in sorted(sql_dir.glob("*.sql")):
        match = _FILE_PATTERN.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNNN_lower_snake.sql")
        version = match.group(1)
        if version in seen:
            raise MigrationError(f"{path.name}: version {version} is also used by {seen[version]}")
        seen[version] = path.name
        checksum = hashlib.sha256(path.read_bytes()).hexdigest()
        migrations.append(Migration(version=version, name=path.name, path=path, checksum=checksum))
    if not migrations:
        raise MigrationError(f"no migration files in {sql_dir}")
    return migrations


def _ensure_history_table(conn: psycopg.Connection[Any]) -> None:
    with conn.transaction():
        conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version     text PRIMARY KEY,
                name        text NOT NULL,
                checksum    text NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now(),
                duration_ms integer NOT NULL
            )
            """
        )


def apply_migrations(conn: psycopg.Connection[Any], sql_dir: Path) -> list[str]:
    """Apply every migration of ``sql_dir`` not applied yet.

    Parameters
    ----------
    conn
        An autocommit connection (each migration opens its own transaction).
    sql_dir
        The folder holding ``NNNN_name.sql`` files.

    Returns
    -------
    list[str]
        The file names applied by this call, in order (empty when the database was current).

    Raises
    ------
    MigrationError
        If an applied file's content changed, or a file fails (its transaction is rolled back and the error
        names the file).
    """
    if not conn.autocommit:
        raise MigrationError("apply_migrations needs an autocommit connection")
    migrations = discover_migrations(sql_dir)
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
    try:
        _ensure_history_table(conn)
        rows = conn.execute("SELECT version, name, checksum FROM schema_migrations").fetchall()
        applied = {str(version): (str(name), str(checksum)) for version, name, checksum in rows}
        done: list[str] = []
        for migration in migrations:
            recorded = applied.get(migration.version)
            if recorded is not None:
                if recorded[1] != migration.checksum:
                    raise MigrationError(
                        f"{migration.name} was changed after it was applied (applied as {recorded[0]} with sha256 "
                        f"{recorded[1][:12]}…, now {migration.checksum[:12]}…): never edit an applied migration, "
                        "add a new numbered file"
                    )
                continue
            _apply_one(conn, migration)
            done.append(migration.name)
        return done
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))


def _apply_one(conn: psycopg.Connection[Any], migration: Migration) -> None:
    try:
        with conn.transaction():
            started = conn.execute("SELECT clock_timestamp()").fetchone()
            conn.execute(migration.sql.encode())  # bytes: run as a simple query, several statements allowed
            conn.execute(
                """
                INSERT INTO schema_migrations (version, name, checksum, duration_ms)
                VALUES (%s, %s, %s, (extract(epoch FROM clock_timestamp() - %s) * 1000)::integer)
                """,
                (migration.version, migration.name, migration.checksum, started[0] if started else None),
            )
    except psycopg.Error as exc:
        raise MigrationError(f"{migration.name} failed and was rolled back: {exc}") from exc


def pending_migrations(conn: psycopg.Connection[Any], sql_dir: Path) -> list[str]:
    """Names of the migration files not applied yet (without applying anything)."""
    migrations = discover_migrations(sql_dir)
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return [m.name for m in migrations]
    applied = {str(row[0]) for row in conn.execute("SELECT version FROM schema_migrations").fetchall()}
    return [m.name for m in migrations if m.version not in applied]
