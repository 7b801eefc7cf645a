"""Backups while the event runs (a copy every few minutes to a folder such as a USB stick), and restore."""
import os
import re
import sqlite3
import time

import pytest
import requests

from consult.cli import DEMO_QUESTIONS

from .live_server import LiveServer
from .test_cli import fresh_app
from .test_e2e import WAIT, stop_cleanly


def notes_in(path):
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return [text for (text,) in db.execute("SELECT text FROM note ORDER BY id")]


def post_note(url, code, text):
    http = requests.Session()
    page = http.get(f"{url}/j/{code}", timeout=WAIT).text
    token = re.search(r'data-csrf="([^"]+)"', page).group(1)
    question = http.get(f"{url}/j/{code}/state.json", timeout=WAIT).json()["question"]
    r = http.post(f"{url}/j/{code}/note", headers={"X-CSRFToken": token}, timeout=WAIT,
                  json={"question_id": question["id"], "client_id": os.urandom(8).hex(), "text": text})
    assert r.json()["ok"], r.text


def test_backup_and_restore_commands(tmp_path, monkeypatch):
    app = fresh_app(tmp_path, monkeypatch)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo"]).exit_code == 0
    stick = tmp_path / "stick"

    made = runner.invoke(args=["backup", str(stick)])
    assert made.exit_code == 0, made.output
    path = made.output.strip()
    assert os.path.dirname(path) == str(stick) and re.search(r"consult-\d{8}-\d{6}\.db$", path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    with sqlite3.connect(path) as db:
        texts = [t for (t,) in db.execute("SELECT text FROM question")]
        titles = db.execute("SELECT title FROM cafe_session").fetchall()
    assert set(DEMO_QUESTIONS) <= set(texts) and len(titles) == 1
    listed = runner.invoke(args=["backup", str(stick), "--list"])
    assert path in listed.output and "just now" in listed.output

    # The session is deleted by mistake; the backup brings it back, and what was there is kept.
    with sqlite3.connect(tmp_path / "cli.db") as db:
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("DELETE FROM cafe_session")
    refused = runner.invoke(args=["restore", path], input="n\n")
    assert refused.exit_code != 0 and "Replace the database" in refused.output
    restored = runner.invoke(args=["restore", path, "--yes"])
    assert restored.exit_code == 0, restored.output
    kept = re.search(r"kept in (\S+)", restored.output).group(1)
    with sqlite3.connect(tmp_path / "cli.db") as db:
        assert db.execute("SELECT title FROM cafe_session").fetchall() == titles
    with sqlite3.connect(kept) as db:
        assert db.execute("SELECT count(*) FROM cafe_session").fetchone() == (0,)

    # Anything but a whole consult database is refused, and the database is left alone.
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"PK\x03\x04 not a database" * 100)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    for bad, words in ((junk, "not a SQLite database"), (other, "not a consult database")):
        result = runner.invoke(args=["restore", str(bad), "--yes"])
        assert result.exit_code != 0 and words in result.output, result.output
    with sqlite3.connect(tmp_path / "cli.db") as db:
        assert db.execute("SELECT title FROM cafe_session").fetchall() == titles


def test_backup_of_postgres_points_to_pg_dump(tmp_path, monkeypatch):
    app = fresh_app(tmp_path, monkeypatch, url="postgresql://postgres@127.0.0.1:5432/test")
    for args in (["backup"], ["restore", __file__, "--yes"]):
        result = app.test_cli_runner().invoke(args=args)
        assert result.exit_code != 0 and "pg_dump" in result.output, result.output


@pytest.mark.slow
@pytest.mark.parametrize("async_mode", ["eventlet", "gevent"])
def test_serve_backs_up_while_phones_answer_and_the_copy_restores(tmp_path, async_mode):
    stick = tmp_path / "stick"
    env = {"CONSULT_BACKUP_DIR": str(stick), "CONSULT_BACKUP_MINUTES": "0.01", "CONSULT_BACKUP_KEEP": "3",
           "CONSULT_MESSAGE_QUEUE": ""}
    server = LiveServer(tmp_path / "laptop", async_mode=async_mode, env=env)
    code = server.demo()
    server.start()
    try:
        for i in range(5):
            post_note(server.url, code, f"Note {i} <b>&amp;")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            copies = sorted(stick.glob("consult-*.db"), key=os.path.getmtime)
            if copies and len(notes_in(copies[-1])) == 5:
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"no backup with the 5 notes in {stick}: {list(stick.iterdir()) if stick.exists() else []}")
        assert notes_in(copies[-1]) == [f"Note {i} <b>&amp;" for i in range(5)]
        # Unchanged, it is not copied again and again; old copies are pruned to the 3 kept.
        time.sleep(2)
        assert len(list(stick.glob("consult-*.db"))) <= 3
        assert not list(stick.glob("*.partial"))
        assert "Backing up the database every 0.01 minutes" in server.log.read_text()
    finally:
        stop_cleanly(server)

    # The laptop died: a new one restores the copy from the stick and the event goes on.
    spare = LiveServer(tmp_path / "spare", async_mode=async_mode, env={**env, "CONSULT_BACKUP_DIR": str(tmp_path / "s2")})
    spare.cli("restore", str(copies[-1]), "--yes")
    spare.start()
    try:
        post_note(spare.url, code, "After the restore")
        assert notes_in(spare.instance / "consult.db")[-1] == "After the restore"
        assert len(notes_in(spare.instance / "consult.db")) == 6
    finally:
        stop_cleanly(spare)
