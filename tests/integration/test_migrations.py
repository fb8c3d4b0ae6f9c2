from __future__ import annotations

import shutil
import threading
from pathlib import Path

import psycopg
import pytest

from reelrank.db.migrations import MigrationError, apply_migrations, discover_migrations, pending_migrations
from tests.conftest import SQL_DIR


def test_migrate_applies_every_file_once_then_nothing(empty_db_url: str) -> None:
    # Given an empty database
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        # When it is migrated twice
        first = apply_migrations(conn, SQL_DIR)
        second = apply_migrations(conn, SQL_DIR)
        # Then the first run applies every file in order and the second applies none
        assert first == [m.name for m in discover_migrations(SQL_DIR)]
        assert second == []
        assert pending_migrations(conn, SQL_DIR) == []
        rows = conn.execute("SELECT version, checksum FROM schema_migrations ORDER BY version").fetchall()
        assert [(r[0], r[1]) for r in rows] == [(m.version, m.checksum) for m in discover_migrations(SQL_DIR)]


def test_migrate_refuses_an_applied_file_whose_content_changed(empty_db_url: str, tmp_path: Path) -> None:
    # Given a database migrated from a copy of sql/
    sql_copy = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_copy)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        apply_migrations(conn, sql_copy)
        # When an applied file is edited afterwards
        edited = sql_copy / "0001_extensions.sql"
        edited.write_text(edited.read_text() + "\n-- an innocent-looking edit\n")
        # Then the migrator refuses, naming the file
        with pytest.raises(MigrationError, match=r"0001_extensions\.sql was changed after it was applied"):
            apply_migrations(conn, sql_copy)


def test_a_failing_migration_is_rolled_back_and_named(empty_db_url: str, tmp_path: Path) -> None:
    # Given a new migration whose second statement fails
    sql_copy = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_copy)
    (sql_copy / "9999_broken.sql").write_text("CREATE TABLE half_done (id int);\nSELECT no_such_function();\n")
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        # When it is applied
        with pytest.raises(MigrationError, match=r"9999_broken\.sql failed and was rolled back"):
            apply_migrations(conn, sql_copy)
        # Then nothing of it stays, and it is still pending; the files before it were applied
        assert conn.execute("SELECT to_regclass('half_done')").fetchone() == (None,)
        assert pending_migrations(conn, sql_copy) == ["9999_broken.sql"]


def test_misnamed_migration_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "1_init.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNNN_lower_snake"):
        discover_migrations(tmp_path)


def test_two_migrators_at_once_apply_each_file_exactly_once(empty_db_url: str) -> None:
    # Given two migrators started together on the same empty database
    results: list[list[str]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            with psycopg.connect(empty_db_url, autocommit=True) as conn:
                barrier.wait()
                results.append(apply_migrations(conn, SQL_DIR))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    # Then neither failed, one applied everything and the other nothing
    assert errors == []
    assert sorted(len(r) for r in results) == [0, len(discover_migrations(SQL_DIR))]
    with psycopg.connect(empty_db_url) as conn:
        count = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()
    assert count == (len(discover_migrations(SQL_DIR)),)
