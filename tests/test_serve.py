"""`consult serve` and the schema: alone it migrates; with a message queue it leaves that to `consult init-db`."""
import subprocess
import sys
import uuid

import pytest
import requests
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from consult.app import MIGRATIONS

from .live_server import ROOT, LiveServer
from .test_e2e import stop_cleanly

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


def scripts():
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    return ScriptDirectory.from_config(config)


def revision(server):
    engine = create_engine(f"sqlite:///{server.instance / 'consult.db'}")
    try:
        if not inspect(engine).has_table("alembic_version"):
            return None
        with engine.connect() as conn:
            return conn.scalar(text("SELECT version_num FROM alembic_version"))
    finally:
        engine.dispose()


def refused(server):
    """Start the server, which must exit at once; returns its log."""
    with pytest.raises(RuntimeError) as error:
        server.start()
    assert server.proc.returncode == 1
    server.proc = None
    return error.value.args[0]


def test_alone_serve_migrates_a_fresh_database(tmp_path):
    # `pip install . && consult serve --demo` on a fresh laptop: no init-db needed.
    server = LiveServer(tmp_path / "alone", env={"CONSULT_MESSAGE_QUEUE": ""})
    try:
        server.start()
        assert revision(server) == scripts().get_current_head()
    finally:
        stop_cleanly(server)


def test_with_a_message_queue_serve_needs_init_db(tmp_path):
    env = {"CONSULT_MESSAGE_QUEUE": "redis://127.0.0.1:6379/0", "CONSULT_CHANNEL": f"test-{uuid.uuid4().hex[:10]}"}
    server = LiveServer(tmp_path / "queue", env=env)
    head = scripts().get_current_head()
    try:
        log = refused(server)
        assert "not up to date (revision none: the database is empty" in log
        assert "run `consult init-db` once" in log
        assert revision(server) is None  # it migrated nothing

        server.cli("init-db")
        assert revision(server) == head
        server.start()
        stop_cleanly(server)

        # A new release whose migration has not been run yet: the database one revision behind.
        older = scripts().get_revision(head).down_revision
        engine = create_engine(f"sqlite:///{server.instance / 'consult.db'}")
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :older"), {"older": older})
        engine.dispose()
        log = refused(server)
        assert f"not up to date (revision {older}; this consult needs {head})" in log
        assert revision(server) == older
    finally:
        stop_cleanly(server)


@pytest.mark.parametrize("async_mode", ["eventlet", "gevent"])
def test_a_second_server_on_a_busy_port_refuses_to_start(tmp_path, async_mode):
    # eventlet listens with SO_REUSEPORT: a second server used to start silently and take a
    # share of the first one's connections.
    first = LiveServer(tmp_path / "first", env={"CONSULT_MESSAGE_QUEUE": ""})
    second = LiveServer(tmp_path / "second", async_mode=async_mode, env={"CONSULT_MESSAGE_QUEUE": ""})
    try:
        first.start()
        out = subprocess.run(
            [sys.executable, "-m", "consult.entry", "serve", "--host", "127.0.0.1", "--port", str(first.port)],
            env=second.env, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert out.returncode == 1
        assert f"port {first.port} on 127.0.0.1 is already in use" in out.stderr
        assert "is consult already running?" in out.stderr
        # Every request still reaches the first server: nothing was split off to the second.
        logs = [requests.get(first.url + "/", timeout=5).status_code for _ in range(40)]
        assert logs == [200] * 40
        assert first.proc.poll() is None
    finally:
        stop_cleanly(first)
