"""The `consult` commands and the migrations they run."""
import re

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, select

from consult import create_app
from consult.extensions import db
from consult.models import CafeSession, Facilitator


def fresh_app(tmp_path, monkeypatch, url=None):
    monkeypatch.setenv("CONSULT_INSTANCE_PATH", str(tmp_path / "inst"))
    return create_app({
        "TESTING": True,
        "CONSULT_ASYNC_MODE": "threading",
        "CONSULT_DATABASE_URL": url or f"sqlite:///{tmp_path / 'cli.db'}",
    })


def schema_diff(app):
    with app.app_context():
        with db.engine.connect() as conn:
            return compare_metadata(MigrationContext.configure(conn), db.metadata)


def test_migrations_build_the_models_schema(tmp_path, monkeypatch):
    app = fresh_app(tmp_path, monkeypatch)
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    assert schema_diff(app) == []


def test_create_facilitator_from_stdin(tmp_path, monkeypatch):
    app = fresh_app(tmp_path, monkeypatch)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-facilitator", "Sam@Example.org"], input="long enough pw\n")
    assert result.exit_code == 0, result.output
    assert "Created facilitator sam@example.org" in result.output
    result = runner.invoke(args=["create-facilitator", "sam@example.org"], input="short\n")
    assert result.exit_code != 0 and "at least 8" in result.output
    result = runner.invoke(args=["create-facilitator", "sam@example.org", "--password", "another password"])
    assert "Updated" in result.output
    with app.app_context():
        user = db.session.scalar(select(Facilitator))
        assert user.check_password("another password") and not user.check_password("long enough pw")
        assert user.password_hash != "another password"


def test_demo_is_ready_to_run_and_made_once(tmp_path, monkeypatch):
    from consult.cli import DEMO_QUESTIONS
    from consult.models import HORIZONS

    app = fresh_app(tmp_path, monkeypatch)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    code = re.search(r"Join code:\s+(\w{6})", first.output).group(1)
    assert f"/j/{code}" in first.output and "demo@example.org" in first.output and "consult-demo" in first.output
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0, second.output
    assert re.search(r"Join code:\s+(\w{6})", second.output).group(1) == code
    with app.app_context():
        cafe = db.session.scalar(select(CafeSession))
        kinds = [q.kind for q in cafe.questions]
        assert kinds == ["notes"] * 5 + ["yesno", "scale", "trajectory"]
        assert [q.text for q in cafe.questions[:5]] == DEMO_QUESTIONS
        assert cafe.questions[0].text.startswith("Our vision is for a healthy, safe, confident")
        assert "Leicester is a diverse city" in cafe.questions[3].text
        assert cafe.current_question is cafe.questions[0] and cafe.questions[0].is_open
        # World Café: 4 tables, round 1 of 3 started.
        assert [t.name for t in cafe.tables] == ["Table 1", "Table 2", "Table 3", "Table 4"]
        assert cafe.current_round == 1
        # The trajectory: the five questions as themes (rows) against the four usual horizons.
        grid = cafe.questions[7]
        assert len(grid.rows) == 5 and all(0 < len(r.text) <= 40 for r in grid.rows)
        assert [(h.name, h.hint) for h in grid.horizons] == HORIZONS
        assert [(p.code, p.name) for p in cafe.priorities] == [
            ("VF1", "Vision & Leadership"), ("VF2", "Employment & Skills"), ("VF3", "Enterprise & Economy"),
            ("VF4", "Diversity & Inclusion"), ("VF5", "Social Investment")]
        assert db.session.query(CafeSession).count() == 1
        # Each table's join link (it seats the phone there) and host link are printed, both times.
        for output in (first.output, second.output):
            for t in cafe.tables:
                assert f"/j/{code}?t={t.id}" in output and f"/host/{t.host_token}" in output
    # The printed links work: the table link seats a phone; the host link opens the host's view.
    client = app.test_client()
    table_link = re.search(rf"join: \S*(/j/{code}\?t=\d+)", first.output).group(1)
    assert client.get(table_link).status_code == 302
    host_link = re.search(r"host: \S*(/host/\S+)", first.output).group(1)
    assert client.get(host_link, follow_redirects=True).status_code == 200  # to the page without the token


def test_secret_key_is_made_once_and_kept(tmp_path, monkeypatch):
    first = fresh_app(tmp_path, monkeypatch)
    second = fresh_app(tmp_path, monkeypatch)
    assert first.secret_key == second.secret_key and len(first.secret_key) == 64
    assert (tmp_path / "inst" / "secret_key").stat().st_mode & 0o077 == 0
    monkeypatch.setenv("CONSULT_SECRET_KEY", "from-env")
    assert fresh_app(tmp_path, monkeypatch).secret_key == "from-env"


def test_instance_config_file_and_environment(tmp_path, monkeypatch):
    inst = tmp_path / "inst"
    inst.mkdir()
    (inst / "config.py").write_text("CONSULT_PORT = 8123\nCONSULT_NOTE_MAX_LENGTH = 100\n")
    monkeypatch.setenv("CONSULT_NOTE_MAX_LENGTH", "140")
    app = fresh_app(tmp_path, monkeypatch)
    assert app.config["CONSULT_PORT"] == 8123  # from instance/config.py
    assert app.config["CONSULT_NOTE_MAX_LENGTH"] == 140  # the environment wins


def test_default_database_lives_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("CONSULT_INSTANCE_PATH", str(tmp_path / "elsewhere"))
    monkeypatch.delenv("CONSULT_DATABASE_URL", raising=False)
    app = create_app({"TESTING": True, "CONSULT_ASYNC_MODE": "threading"})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'elsewhere' / 'consult.db'}"
    app.test_cli_runner().invoke(args=["init-db"])
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


def test_behind_a_proxy_join_links_use_the_public_address(tmp_path, monkeypatch):
    monkeypatch.setenv("CONSULT_PROXIES", "1")
    app = fresh_app(tmp_path, monkeypatch)
    client = app.test_client()
    from consult.urls import base_url

    @app.route("/_base")
    def _base():
        return base_url()

    r = client.get("/_base", base_url="http://127.0.0.1:5001",
                   headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "consult.example.org"})
    assert r.text == "https://consult.example.org"


def test_postgres_is_psycopg_3_in_every_async_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("CONSULT_INSTANCE_PATH", str(tmp_path / "inst"))
    url = "postgres://u@127.0.0.1/db"
    for mode in ("eventlet", "gevent"):
        app = create_app({"CONSULT_ASYNC_MODE": mode, "CONSULT_DATABASE_URL": url})
        assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@127.0.0.1/db"


def test_missing_optional_packages_say_what_to_install(tmp_path, monkeypatch):
    import sys

    from click.testing import CliRunner

    from consult.cli import bench

    monkeypatch.setenv("CONSULT_INSTANCE_PATH", str(tmp_path / "inst"))
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed
    with pytest.raises(RuntimeError, match=r"pip install 'psycopg\[binary\]'.*'\.\[postgres\]'"):
        create_app({"CONSULT_DATABASE_URL": "postgresql://u@127.0.0.1/db"})

    monkeypatch.setitem(sys.modules, "aiohttp", None)
    monkeypatch.delitem(sys.modules, "consult.bench.run", raising=False)
    result = CliRunner().invoke(bench, ["--phones", "1"])
    assert result.exit_code == 1
    assert "consult bench needs aiohttp: pip install aiohttp" in result.output and "'.[bench]'" in result.output


def test_upgrading_a_sqlite_database_keeps_every_row(tmp_path, monkeypatch):
    # Batch mode rebuilds a SQLite table by copy, drop and rename: with foreign keys on, dropping
    # the facilitator table once deleted every session, question and vote (ON DELETE CASCADE).
    from flask_migrate import upgrade
    from sqlalchemy import text

    app = fresh_app(tmp_path, monkeypatch)
    tables = ["facilitator", "cafe_session", "question", "option", "participant", "vote", "vote_choice", "note"]
    with app.app_context():
        upgrade(revision="7382bbcfb16c")  # the schema before this release's migrations
        for sql in [
            "INSERT INTO facilitator (id, email, password_hash, created_at) VALUES (1, 'a@b.c', 'x', '2026-01-01')",
            "INSERT INTO cafe_session (id, owner_id, title, venue, description, join_code, current_round, moderation, "
            "blocked_words, created_at) VALUES (1, 1, 'Old', '', '', 'ABCDEF', 0, 'post', '', '2026-01-01')",
            "INSERT INTO question (id, session_id, position, kind, text, multiple, allow_unsure, scale_min, scale_max, "
            "min_label, max_label, max_length, is_open, revealed, dots, dots_open, image_alt) "
            "VALUES (1, 1, 0, 'choice', 'Pick', 0, 0, 1, 5, '', '', 280, 1, 1, 0, 0, ''), "
            "(2, 1, 1, 'notes', 'Say', 0, 0, 1, 5, '', '', 280, 1, 1, 0, 0, '')",
            "INSERT INTO option (id, question_id, position, text, image_alt) VALUES (1, 1, 0, 'A', ''), (2, 1, 1, 'B', '')",
            "INSERT INTO participant (id, session_id, token, created_at) VALUES (1, 1, 'tok-1', '2026-01-01')",
            "INSERT INTO vote (id, question_id, participant_id, client_id, round, created_at, updated_at) VALUES "
            "(1, 1, 1, 'v-1', 0, '2026-01-01', '2026-01-01')",
            "INSERT INTO vote_choice (vote_id, option_id) VALUES (1, 2)",
            "INSERT INTO note (id, question_id, participant_id, client_id, text, status, round, created_at) VALUES "
            "(1, 2, 1, 'n-1', 'Benches', 'visible', 0, '2026-01-01')",
        ]:
            db.session.execute(text(sql))
        db.session.commit()
        before = {t: db.session.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in tables}
        assert all(before.values()), before
        upgrade()
        after = {t: db.session.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in tables}
        assert after == before
        # Foreign keys are on again for the app's own connections: a delete still cascades.
        db.session.execute(text("DELETE FROM cafe_session"))
        assert db.session.execute(text("SELECT count(*) FROM vote")).scalar() == 0
        db.session.rollback()
