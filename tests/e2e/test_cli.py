"""The `reelrank` command line as an operator runs it (a real subprocess, a real database)."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reelrank_dev.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_migrate_twice_applies_everything_then_nothing(empty_db_url: str) -> None:
    # Given an empty database named by DATABASE_URL
    env = {"DATABASE_URL": empty_db_url}
    # When an operator migrates twice
    first = run_cli("migrate", env=env)
    second = run_cli("migrate", env=env)
    # Then the first run lists each file and the second applies nothing
    assert first.returncode == 0, first.stderr
    assert "applied 0001_extensions.sql" in first.stdout
    assert "applied 0007_ingestions.sql" in first.stdout
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "nothing to apply: the schema is current"
    # And the database scores the worked example
    with psycopg.connect(empty_db_url) as conn:
        assert str(conn.execute("SELECT compute_impact(100000, 1000, 50, 10, 20)").fetchone()[0]) == "5005.00"


def test_db_url_prints_database_url_when_set_and_starts_nothing(empty_db_url: str, tmp_path) -> None:
    # Given DATABASE_URL and an empty REELRANK_HOME
    home = tmp_path / "home"
    result = run_cli("db", "url", env={"DATABASE_URL": empty_db_url, "REELRANK_HOME": str(home)})
    # Then the external URL is printed and no embedded server was created
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == empty_db_url
    assert not (home / "pgdata").exists()


def test_migrate_reports_a_changed_migration_as_an_error(empty_db_url: str) -> None:
    # Given a database whose history records a different checksum for 0001
    env = {"DATABASE_URL": empty_db_url}
    assert run_cli("migrate", env=env).returncode == 0
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE version = '0001'")
    # When migrate runs again / Then it fails with a message naming the file
    result = run_cli("migrate", env=env)
    assert result.returncode == 1
    assert "0001_extensions.sql was changed after it was applied" in result.stderr
