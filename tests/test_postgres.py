"""The same schema and rules on the PostgreSQL on 127.0.0.1 (database `test`)."""
import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, text

from consult import services
from consult import create_app, rules
from consult.extensions import db
from consult.models import CafeSession, Facilitator, Note, Vote
from consult.results import results

from .conftest import cast_vote, post_note

from .test_cli import schema_diff

PG = os.environ.get("CONSULT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg_app(tmp_path, monkeypatch):
    """An app on its own PostgreSQL schema, made by the migrations and dropped afterwards."""
    schema = "t_" + uuid.uuid4().hex[:10]
    admin = create_engine(PG)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    monkeypatch.setenv("CONSULT_INSTANCE_PATH", str(tmp_path / "inst"))
    app = create_app({
        "TESTING": True,
        "CONSULT_ASYNC_MODE": "threading",
        "CONSULT_DATABASE_URL": f"{PG}?options=-csearch_path%3D{schema}",
    })
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    yield app
    with app.app_context():
        db.engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def test_migrations_match_models_on_postgres(pg_app):
    with pg_app.app_context():
        assert db.engine.dialect.name == "postgresql"
    assert schema_diff(pg_app) == []


def test_votes_and_notes_on_postgres(pg_app):
    with pg_app.app_context():
        owner = Facilitator(email="pg@example.org")
        owner.set_password("password!")
        cafe = CafeSession(owner=owner, title="PG café", join_code=rules.unique_join_code())
        db.session.add(cafe)
        db.session.commit()
        choice = services.save_question(cafe, None, {"kind": "choice", "text": "Pick", "options": "A\nB"})
        notes = services.save_question(cafe, None, {"kind": "notes", "text": "Say", "max_length": 280})
        services.control(cafe, "open", choice.id)
        services.control(cafe, "open", notes.id)
        people = [services.join(cafe) for _ in range(5)]
        for i, p in enumerate(people):
            cast_vote(p, {"question_id": choice.id, "client_id": f"v-{i:08d}", "choices": [choice.options[i % 2].id]})
            post_note(p, {"question_id": notes.id, "client_id": f"n-{i:08d}", "text": f"Gujarati ગુજરાતી, Polish żółć {i}"})
        assert [b["count"] for b in results(choice)["bars"]] == [3, 2]
        assert results(notes)["notes"][0]["text"] == "Gujarati ગુજરાતી, Polish żółć 0"
        # Deleting the session cascades in the database itself.
        db.session.delete(cafe)
        db.session.commit()
        assert db.session.query(Vote).count() == db.session.query(Note).count() == 0


def test_a_retried_vote_racing_itself_is_stored_once(pg_app):
    """Two copies of one submission at once (a retry beside the original): one row, both succeed."""
    with pg_app.app_context():
        owner = Facilitator(email="race@example.org")
        owner.set_password("password!")
        cafe = CafeSession(owner=owner, title="Race", join_code=rules.unique_join_code())
        db.session.add(cafe)
        db.session.commit()
        q = services.save_question(cafe, None, {"kind": "choice", "text": "Pick", "options": "A\nB"})
        services.control(cafe, "open", q.id)
        pid, qid, opt = services.join(cafe).id, q.id, q.options[0].id

    def submit(_):
        with pg_app.app_context():
            from consult.models import Participant

            p = db.session.get(Participant, pid)
            vote_id, _ = cast_vote(p, {"question_id": qid, "client_id": "same-retry-1", "choices": [opt]})
            return vote_id

    for _ in range(5):
        with ThreadPoolExecutor(4) as pool:
            ids = set(pool.map(submit, range(4)))
        assert len(ids) == 1
    with pg_app.app_context():
        assert db.session.query(Vote).count() == 1


# Five queries of 0.5 s at once through the app's own engine, in a server process's patching.
OVERLAP = """
import sys, threading, time
from consult.server import patch
patch(sys.argv[1])
from sqlalchemy import text
from consult import create_app
from consult.extensions import db
app = create_app({"CONSULT_DATABASE_URL": sys.argv[2]})
with app.app_context():
    engine = db.engine
def nap():
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_sleep(0.5)"))
nap()
naps = [threading.Thread(target=nap) for _ in range(5)]
start = time.monotonic()
for t in naps:
    t.start()
for t in naps:
    t.join()
print(engine.dialect.driver, time.monotonic() - start)
"""


@pytest.mark.parametrize("mode", ["eventlet", "gevent"])
def test_queries_do_not_block_the_server(mode, tmp_path):
    """psycopg 3 waits cooperatively under both servers: one slow query never stalls the others."""
    from .live_server import ROOT

    env = {**os.environ, "CONSULT_INSTANCE_PATH": str(tmp_path), "CONSULT_ASYNC_MODE": mode, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", OVERLAP, mode, PG], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    driver, seconds = out.stdout.split()
    assert driver == "psycopg"
    assert float(seconds) < 1.5  # one after another: 2.5 s
