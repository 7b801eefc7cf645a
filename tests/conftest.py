import pytest

from consult import create_app, rules, services
from consult.batch import commit_one
from consult.dots import record_dots
from consult.extensions import db
from consult.models import Facilitator

PASSWORD = "correct horse"


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("CONSULT_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(
        {
            "TESTING": True,
            "CONSULT_ASYNC_MODE": "threading",
            "CONSULT_DATABASE_URL": f"sqlite:///{tmp_path / 'test.db'}",
            "SQLALCHEMY_DATABASE_URI": None,
            "CONSULT_BROADCAST_INTERVAL": 0,  # push results at once, so tests see them
            "WTF_CSRF_ENABLED": False,
            "SERVER_NAME": "consult.test",
        }
    )
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def fast_passwords(monkeypatch):
    """Cheap password hashes, for tests of something else than hashing."""
    import functools

    from werkzeug import security

    from consult import models

    monkeypatch.setattr(
        models, "generate_password_hash",
        functools.partial(security.generate_password_hash, method="pbkdf2:sha256:1"),
    )


def socket_client(app, namespace, http=None, **auth):
    """A Socket.IO test client of app's own server, carrying http's cookies (a signed-in facilitator, a phone)."""
    return app.extensions["socketio"].test_client(app, namespace=namespace, flask_test_client=http, auth=auth or None)


def hub(app):
    """The app's live state (sockets, presence, the writer): each app has its own."""
    return app.extensions["consult"]


# Answers committed one at a time, as the writer's fallback does: quick set-up for tests of something else.
def cast_vote(who, payload):
    return commit_one(rules.record_votes, who, payload)


def post_note(who, payload):
    return commit_one(rules.record_notes, who, payload)


def place_dot(who, payload):
    return commit_one(record_dots, who, payload)


@pytest.fixture
def client(app):
    return app.test_client()


def make_facilitator(app, email="fac@example.org"):
    with app.app_context():
        user = Facilitator(email=email)
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.commit()
        return user.id


def login(client, email="fac@example.org"):
    return client.post("/auth/login", data={"email": email, "password": PASSWORD})


@pytest.fixture
def facilitator(app, client):
    """A signed-in facilitator on `client`; returns their id."""
    user_id = make_facilitator(app)
    login(client)
    return user_id


def make_cafe(app, owner_id, questions=None, title="Strategy café"):
    """A session with questions given as save_question data; returns ids and the join code."""
    if questions is None:
        questions = [
            {"kind": "choice", "text": "Pick one", "options": "Red\nGreen\nBlue"},
            {"kind": "notes", "text": "What does success look like?", "max_length": 50},
            {"kind": "yesno", "text": "Agree?", "allow_unsure": True},
            {"kind": "scale", "text": "How sure?", "scale_min": 1, "scale_max": 5, "min_label": "Not", "max_label": "Very"},
            {"kind": "choice", "text": "Pick some", "options": "A\nB\nC\nD", "multiple": True},
        ]
    with app.app_context():
        cafe = services.create_session(owner_id, {"title": title})
        ids = [services.save_question(cafe, None, q).id for q in questions]
        for qid in ids:
            services.control(cafe, "open", qid)
        services.control(cafe, "show", ids[0])
        return {"id": cafe.id, "code": cafe.join_code, "questions": ids}


@pytest.fixture
def cafe(app, facilitator):
    return make_cafe(app, facilitator)


def option_ids(app, question_id):
    from consult.models import Question

    with app.app_context():
        return [o.id for o in db.session.get(Question, question_id).options]


def join_phone(app, code):
    """A phone: an HTTP client holding a participant cookie, and its socket."""
    http = app.test_client()
    assert http.get(f"/j/{code}").status_code == 200
    sock = socket_client(app, "/phone", http, code=code)
    assert sock.is_connected("/phone")
    return http, sock


def events(sock, name, namespace):
    return [e["args"][0] for e in sock.get_received(namespace) if e["name"] == name]


def pdf_text(data):
    """The text of a PDF, read with pypdf, in one line: what a reader copying it would get."""
    import io

    from pypdf import PdfReader

    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages)
