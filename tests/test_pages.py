"""Every page and JSON endpoint through Flask's test client: who may see what, forms, and bad input."""
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from consult import create_app, models, services
from consult.extensions import db
from consult.models import CafeSession, Facilitator, Note, Option, Participant, Question, Vote

from .conftest import PASSWORD, login, make_cafe, make_facilitator, option_ids

OTHER = "other@example.org"


@pytest.fixture(autouse=True)
def _fast(fast_passwords):
    """The hashing scheme is not under test here, the pages are."""


@pytest.fixture
def app_with(tmp_path, monkeypatch):
    """Build an app like conftest's `app`, with config overrides (e.g. open sign-up, CSRF on)."""
    built = []

    def build(**overrides):
        monkeypatch.setenv("CONSULT_INSTANCE_PATH", str(tmp_path / "instance"))
        config = {
            "TESTING": True,
            "CONSULT_ASYNC_MODE": "threading",
            "CONSULT_DATABASE_URL": f"sqlite:///{tmp_path / f'app{len(built)}.db'}",
            "SQLALCHEMY_DATABASE_URI": None,
            "CONSULT_BROADCAST_INTERVAL": 0,
            "WTF_CSRF_ENABLED": False,
            "SERVER_NAME": "consult.test",
        }
        config.update(overrides)
        app = create_app(config)
        with app.app_context():
            db.create_all()
        built.append(app)
        return app

    yield build
    for app in built:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def intruder(app, facilitator):
    """A second signed-in facilitator, on their own client."""
    make_facilitator(app, OTHER)
    other = app.test_client()
    assert login(other, OTHER).status_code == 302
    return other


def text(response):
    return response.get_data(as_text=True)


def where(response):
    """The path (and query) a redirect points to."""
    assert response.status_code in (301, 302, 303, 307, 308), response.status_code
    parts = urlsplit(response.location)
    return parts.path + (f"?{parts.query}" if parts.query else "") + (f"#{parts.fragment}" if parts.fragment else "")


def count(app, model, **filters):
    with app.app_context():
        return db.session.query(model).filter_by(**filters).count()


def get(app, model, id_):
    """A row as a plain dict of its columns (None if gone), read in a fresh app context."""
    with app.app_context():
        row = db.session.get(model, id_)
        return None if row is None else {c.name: getattr(row, c.name) for c in model.__table__.columns}


def option_texts(app, question_id):
    with app.app_context():
        return [o.text for o in db.session.get(Question, question_id).options]


def csrf_token(html):
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(r'data-csrf="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def cast(app, cafe, question_index=0, option_index=0, client_id="vote-0000001"):
    """A phone's vote, made through the JSON endpoint; returns the phone's HTTP client."""
    phone = app.test_client()
    assert phone.get(f"/j/{cafe['code']}").status_code == 200
    qid = cafe["questions"][question_index]
    r = phone.post(f"/j/{cafe['code']}/vote",
                   json={"question_id": qid, "client_id": client_id, "choices": [option_ids(app, qid)[option_index]]})
    assert r.status_code == 200 and r.json["ok"], r.json
    return phone


# -- signing in and out ------------------------------------------------------

def test_login_page(client):
    r = client.get("/auth/login")
    assert r.status_code == 200
    assert 'name="email"' in text(r) and 'name="password"' in text(r)
    assert "Make an account" not in text(r)  # sign-up is closed by default


def test_wrong_password_is_refused_clearly(app, client):
    make_facilitator(app)
    for email, password in (("fac@example.org", "wrong"), ("nobody@example.org", PASSWORD)):
        r = client.post("/auth/login", data={"email": email, "password": password})
        assert r.status_code == 401
        assert "That email and password do not match an account." in text(r)
    assert where(client.get("/sessions/")).startswith("/auth/login")


def test_login_missing_fields_shows_the_form(app, client):
    r = client.post("/auth/login", data={"email": "", "password": ""})
    assert r.status_code == 200 and "This field is required." in text(r)


def test_login_then_sessions(app, client):
    make_facilitator(app)
    assert where(client.get("/sessions/")).startswith("/auth/login")
    r = client.post("/auth/login", data={"email": "  FAC@Example.org ", "password": PASSWORD})
    assert where(r) == "/sessions/"
    r = client.get("/sessions/")
    assert r.status_code == 200 and "My café sessions" in text(r)
    # Signed in, the login page sends you on to your sessions.
    assert where(client.get("/auth/login")) == "/sessions/"


def test_logout_is_post_only(client, facilitator):
    assert client.get("/auth/logout").status_code == 405
    assert client.get("/sessions/").status_code == 200  # still signed in
    r = client.post("/auth/logout")
    assert where(r) == "/auth/login"
    assert "You are signed out." in text(client.get("/auth/login"))
    assert where(client.get("/sessions/")).startswith("/auth/login")


@pytest.mark.parametrize(
    "next_, expected",
    [
        ("/sessions/new", "/sessions/new"),
        ("/sessions/?x=1", "/sessions/?x=1"),
        ("//evil.example/", "/sessions/"),
        ("http://evil.example/", "/sessions/"),
        ("https:evil.example", "/sessions/"),
        ("javascript:alert(1)", "/sessions/"),
        ("evil.example", "/sessions/"),
        ("/\\evil.example", "/sessions/"),
        ("/\t/evil.example", "/sessions/"),
        ("/\r\nSet-Cookie: x=1", "/sessions/"),
        ("", "/sessions/"),
    ],
)
def test_next_redirects_only_to_local_paths(app, client, next_, expected):
    make_facilitator(app)
    r = client.post("/auth/login", query_string={"next": next_}, data={"email": "fac@example.org", "password": PASSWORD})
    assert r.status_code == 302
    assert urlsplit(r.location).netloc in ("", "consult.test")
    assert where(r) == expected


def test_login_required_redirect_carries_next(app):
    r = app.test_client().get("/sessions/new")
    assert urlsplit(r.location).path == "/auth/login"
    assert parse_qs(urlsplit(r.location).query)["next"] == ["/sessions/new"]


def test_register_is_404_when_signup_is_closed(app, client):
    for r in (client.get("/auth/register"),
              client.post("/auth/register", data={"email": "a@b.org", "password": "longenough", "confirm": "longenough"})):
        assert r.status_code == 404
        assert "Sign-up is closed here" in text(r)
    assert count(app, Facilitator) == 0


def test_register_works_when_signup_is_open(app_with):
    app = app_with(CONSULT_OPEN_SIGNUP=True)
    client = app.test_client()
    assert "Make an account" in text(client.get("/auth/login"))
    assert client.get("/auth/register").status_code == 200

    r = client.post("/auth/register", data={"email": "a@b.org", "password": "short", "confirm": "short"})
    assert r.status_code == 200 and "at least 8 characters" in text(r).lower()
    r = client.post("/auth/register", data={"email": "a@b.org", "password": "longenough", "confirm": "different"})
    assert r.status_code == 200 and "The passwords differ." in text(r)
    assert count(app, Facilitator) == 0

    r = client.post("/auth/register", data={"email": " New@Example.org", "password": "longenough", "confirm": "longenough"})
    assert where(r) == "/sessions/"
    assert client.get("/sessions/").status_code == 200  # signed in at once
    with app.app_context():
        assert db.session.query(Facilitator.email).scalar() == "new@example.org"

    client.post("/auth/logout")
    r = client.post("/auth/register", data={"email": "NEW@example.org", "password": "longenough", "confirm": "longenough"})
    assert r.status_code == 200 and "There is already an account with that email." in text(r)
    assert count(app, Facilitator) == 1
    # And the new account can sign in.
    r = client.post("/auth/login", data={"email": "new@example.org", "password": "longenough"})
    assert where(r) == "/sessions/"


# -- every facilitator page needs a signed-in owner ---------------------------

def facilitator_urls(cafe):
    s, q = cafe["id"], cafe["questions"][0]
    return [
        ("get", "/sessions/"),
        ("get", "/sessions/new"),
        ("post", "/sessions/new"),
        ("get", f"/sessions/{s}"),
        ("get", f"/sessions/{s}/edit"),
        ("post", f"/sessions/{s}/edit"),
        ("post", f"/sessions/{s}/duplicate"),
        ("post", f"/sessions/{s}/delete"),
        ("get", f"/sessions/{s}/questions/new"),
        ("post", f"/sessions/{s}/questions/new"),
        ("get", f"/sessions/{s}/questions/{q}/edit"),
        ("post", f"/sessions/{s}/questions/{q}/edit"),
        ("post", f"/sessions/{s}/questions/{q}/delete"),
        ("post", f"/sessions/{s}/questions/{q}/move"),
        ("get", f"/sessions/{s}/control"),
        ("post", f"/sessions/{s}/control"),
        ("get", f"/sessions/{s}/projector"),
        ("get", f"/sessions/{s}/state.json"),
    ]


def snapshot(app, cafe):
    """Everything the facilitator pages could change about a session."""
    with app.app_context():
        session = db.session.get(CafeSession, cafe["id"])
        return {
            "sessions": db.session.query(CafeSession).count(),
            "session": (session.title, session.venue, session.current_question_id),
            "questions": [(q.id, q.position, q.text, q.is_open, q.revealed, [o.text for o in q.options])
                          for q in session.questions],
        }


def test_every_facilitator_page_requires_login(app, cafe):
    before = snapshot(app, cafe)
    anonymous = app.test_client()
    for method, url in facilitator_urls(cafe):
        r = getattr(anonymous, method)(url, data={"title": "Hijacked", "action": "close", "question_id": cafe["questions"][0],
                                                  "kind": "notes", "text": "Hijacked", "direction": "up"})
        assert r.status_code == 302, (method, url, r.status_code)
        assert urlsplit(r.location).path == "/auth/login", (method, url)
    assert snapshot(app, cafe) == before


def test_another_facilitator_gets_404_for_everything(app, cafe, intruder):
    before = snapshot(app, cafe)
    for method, url in facilitator_urls(cafe):
        if url in ("/sessions/", "/sessions/new"):
            continue
        r = getattr(intruder, method)(url, data={"title": "Hijacked", "action": "close", "question_id": cafe["questions"][0],
                                                 "kind": "notes", "text": "Hijacked", "direction": "up"})
        assert r.status_code == 404, (method, url, r.status_code)
    assert snapshot(app, cafe) == before
    # Their own list does not show it either.
    assert "Strategy café" not in text(intruder.get("/sessions/"))


def test_question_of_another_session_is_404(app, client, cafe, facilitator):
    other = make_cafe(app, facilitator, title="Other café")
    q = other["questions"][0]
    before = snapshot(app, other)
    assert client.get(f"/sessions/{cafe['id']}/questions/{q}/edit").status_code == 404
    assert client.post(f"/sessions/{cafe['id']}/questions/{q}/edit", data={"kind": "notes", "text": "x"}).status_code == 404
    assert client.post(f"/sessions/{cafe['id']}/questions/{q}/delete").status_code == 404
    assert client.post(f"/sessions/{cafe['id']}/questions/{q}/move", data={"direction": "up"}).status_code == 404
    assert snapshot(app, other) == before


@pytest.mark.parametrize("url", ["/sessions/{big}", "/sessions/{big}/control", "/sessions/{s}/questions/{big}/edit",
                                 "/sessions/999999", "/sessions/{s}/questions/999999/edit"])
def test_unknown_and_out_of_range_ids_are_404(client, cafe, url):
    r = client.get(url.format(big=10**30, s=cafe["id"]))
    assert r.status_code == 404


# -- sessions ------------------------------------------------------------------

def test_create_session(app, client, facilitator):
    assert client.get("/sessions/new").status_code == 200
    r = client.post("/sessions/new", data={"title": "Town centre café", "date": "2025-03-01", "venue": "Library",
                                           "description": "Spring round"})
    with app.app_context():
        session = db.session.query(CafeSession).one()
        assert (session.owner_id, session.title, str(session.date), session.venue, session.description) == (
            facilitator, "Town centre café", "2025-03-01", "Library", "Spring round")
        assert re.fullmatch(f"[{models.CODE_ALPHABET}]{{6}}", session.join_code)
        sid, code = session.id, session.join_code
    assert where(r) == f"/sessions/{sid}"
    detail = text(client.get(f"/sessions/{sid}"))
    assert "Session created. Add its questions." in detail and code in detail and "1 March 2025" in detail
    assert "Town centre café" in text(client.get("/sessions/"))


@pytest.mark.parametrize(
    "data, message",
    [
        ({"title": ""}, "This field is required."),
        ({"title": "   "}, "This field is required."),
        ({"title": "ok", "date": "2025-13-45"}, "Not a valid date value."),
        ({"title": "x" * 201}, "Field cannot be longer than 200 characters."),
        ({"title": "ok", "venue": "v" * 5000}, "Field cannot be longer than 200 characters."),
        ({"title": "ok", "description": "d" * 100_000}, "Field cannot be longer than 5000 characters."),
    ],
)
def test_bad_session_form_shows_errors_and_saves_nothing(app, client, facilitator, data, message):
    r = client.post("/sessions/new", data=data)
    assert r.status_code == 200 and message in text(r)
    assert count(app, CafeSession) == 0


def test_edit_session(app, client, cafe):
    r = client.get(f"/sessions/{cafe['id']}/edit")
    assert r.status_code == 200 and 'value="Strategy café"' in text(r)
    r = client.post(f"/sessions/{cafe['id']}/edit", data={"title": "Renamed", "venue": "Hall", "date": ""})
    assert where(r) == f"/sessions/{cafe['id']}"
    assert get(app, CafeSession, cafe["id"])["title"] == "Renamed"
    assert get(app, CafeSession, cafe["id"])["join_code"] == cafe["code"]  # the code does not change
    r = client.post(f"/sessions/{cafe['id']}/edit", data={"title": ""})
    assert r.status_code == 200 and "This field is required." in text(r)
    assert get(app, CafeSession, cafe["id"])["title"] == "Renamed"


def test_duplicate_session_copies_questions_not_answers(app, client, cafe):
    cast(app, cafe)
    r = client.post(f"/sessions/{cafe['id']}/duplicate")
    with app.app_context():
        copy = db.session.query(CafeSession).filter(CafeSession.id != cafe["id"]).one()
        original = db.session.get(CafeSession, cafe["id"])
        assert where(r) == f"/sessions/{copy.id}"
        assert copy.title == "Strategy café (copy)"
        assert copy.join_code != original.join_code
        assert [(q.kind, q.text, [o.text for o in q.options]) for q in copy.questions] == [
            (q.kind, q.text, [o.text for o in q.options]) for q in original.questions]
        assert all(not q.votes and not q.notes and not q.is_open for q in copy.questions)
        assert copy.current_question_id is None and not copy.participants
        assert db.session.query(Vote).count() == 1  # the original keeps its answer
    assert "Session duplicated" in text(client.get(where(r)))


def test_delete_session(app, client, cafe):
    cast(app, cafe)
    r = client.post(f"/sessions/{cafe['id']}/delete")
    assert where(r) == "/sessions/"
    assert "Deleted “Strategy café” and all its answers." in text(client.get("/sessions/"))
    for model in (CafeSession, Question, Option, Participant, Vote):
        assert count(app, model) == 0, model
    assert client.get(f"/sessions/{cafe['id']}").status_code == 404
    assert client.get(f"/j/{cafe['code']}").status_code == 404


# -- questions -------------------------------------------------------------------

@pytest.fixture
def empty(app, facilitator):
    """A session with no questions yet."""
    with app.app_context():
        session = CafeSession(owner_id=facilitator, title="Empty café", join_code="EMPTY2")
        db.session.add(session)
        db.session.commit()
        return {"id": session.id, "code": session.join_code, "questions": []}


def new_question(client, cafe, **data):
    return client.post(f"/sessions/{cafe['id']}/questions/new", data=data)


def only_question(app, cafe):
    with app.app_context():
        (q,) = db.session.query(Question).filter_by(session_id=cafe["id"]).all()
        return {"id": q.id, "kind": q.kind, "text": q.text, "multiple": q.multiple, "allow_unsure": q.allow_unsure,
                "scale": (q.scale_min, q.scale_max, q.min_label, q.max_label), "max_length": q.max_length,
                "options": [o.text for o in q.options]}


def test_new_question_page_preselects_kind(client, empty):
    for kind in ("choice", "yesno", "scale", "notes"):
        r = client.get(f"/sessions/{empty['id']}/questions/new", query_string={"kind": kind})
        assert r.status_code == 200
        assert re.search(rf'<option[^>]*selected[^>]*value="{kind}"', text(r)), kind
    assert client.get(f"/sessions/{empty['id']}/questions/new", query_string={"kind": "bogus"}).status_code == 200


def test_create_choice_question(app, client, empty):
    r = new_question(client, empty, kind="choice", text=" Which first? ", options="Parks\r\n\r\n  Roads \nSchools\n",
                     multiple="y")
    q = only_question(app, empty)
    assert where(r) == f"/sessions/{empty['id']}#q{q['id']}"
    assert (q["kind"], q["text"], q["multiple"], q["options"]) == ("choice", "Which first?", True, ["Parks", "Roads", "Schools"])
    assert "Question saved." in text(client.get(f"/sessions/{empty['id']}"))


def test_create_yesno_question(app, client, empty):
    new_question(client, empty, kind="yesno", text="Agree?", allow_unsure="y", multiple="y", options="ignored\nlines")
    q = only_question(app, empty)
    assert (q["kind"], q["allow_unsure"], q["multiple"], q["options"]) == ("yesno", True, False, ["Yes", "No", "Not sure"])


def test_create_yesno_without_unsure(app, client, empty):
    new_question(client, empty, kind="yesno", text="Agree?")
    assert only_question(app, empty)["options"] == ["Yes", "No"]


def test_create_scale_question(app, client, empty):
    new_question(client, empty, kind="scale", text="How much?", scale_min="0", scale_max="10",
                 min_label="Not at all", max_label="Totally")
    q = only_question(app, empty)
    assert (q["kind"], q["scale"], q["options"]) == ("scale", (0, 10, "Not at all", "Totally"), [])


def test_create_notes_question(app, client, empty):
    new_question(client, empty, kind="notes", text="Ideas?", max_length="120")
    q = only_question(app, empty)
    assert (q["kind"], q["max_length"], q["options"]) == ("notes", 120, [])


def test_questions_are_added_in_order(app, client, empty):
    for n in range(3):
        new_question(client, empty, kind="notes", text=f"Q{n}")
    with app.app_context():
        qs = db.session.get(CafeSession, empty["id"]).questions
        assert [(q.text, q.position) for q in qs] == [("Q0", 0), ("Q1", 1), ("Q2", 2)]


@pytest.mark.parametrize(
    "data, message",
    [
        ({"kind": "choice", "text": "x", "options": "only one"}, "needs 2 to 12 options"),
        ({"kind": "choice", "text": "x", "options": "\n".join(f"o{i}" for i in range(13))}, "needs 2 to 12 options"),
        ({"kind": "choice", "text": "x", "options": "  \n \n"}, "needs 2 to 12 options"),
        ({"kind": "scale", "text": "x", "scale_min": "5", "scale_max": "5"}, "A scale runs from 0 or more up to 10"),
        ({"kind": "scale", "text": "x", "scale_min": "7", "scale_max": "3"}, "A scale runs from 0 or more up to 10"),
        ({"kind": "scale", "text": "x", "scale_min": "", "scale_max": "5"}, "A scale runs from 0 or more up to 10"),
        ({"kind": "scale", "text": "x", "scale_min": "1", "scale_max": "11"}, "Number must be between 1 and 10."),
        ({"kind": "scale", "text": "x", "scale_min": "abc", "scale_max": "5"}, "Not a valid integer value."),
        ({"kind": "scale", "text": "x", "scale_min": "1e9999", "scale_max": "5"}, "Not a valid integer value."),
        ({"kind": "notes", "text": "x", "max_length": "0"}, "Number must be between 1 and 2000."),
        ({"kind": "notes", "text": "x", "max_length": "99999999999999999999999"}, "Number must be between 1 and 2000."),
        ({"kind": "notes", "text": ""}, "This field is required."),
        ({"kind": "notes", "text": "x" * 501}, "Field cannot be longer than 500 characters."),
        ({"kind": "choice", "text": "x", "options": "a\n" * 3000}, "Field cannot be longer than 5000 characters."),
        ({"kind": "scale", "text": "x", "scale_min": "1", "scale_max": "5", "min_label": "m" * 61}, "Field cannot be longer than 60"),
        ({"kind": "bogus", "text": "x"}, "Not a valid choice"),
        ({"text": "x"}, "Not a valid choice"),
    ],
)
def test_invalid_question_shows_the_form_and_saves_nothing(app, client, empty, data, message):
    r = new_question(client, empty, **data)
    assert r.status_code == 200, r.status_code
    assert message in text(r)
    assert 'id="question-form"' in text(r)
    assert count(app, Question) == 0 and count(app, Option) == 0


def test_edit_question_form_shows_its_options(client, cafe):
    r = client.get(f"/sessions/{cafe['id']}/questions/{cafe['questions'][0]}/edit")
    assert r.status_code == 200
    assert re.search(r"<textarea[^>]*name=\"options\"[^>]*>\s*Red\nGreen\nBlue</textarea>", text(r))
    assert "This question is open now" in text(r)


def test_edit_question_keeps_answers(app, client, cafe):
    qid = cafe["questions"][0]
    red = option_ids(app, qid)[0]
    cast(app, cafe)
    r = client.post(f"/sessions/{cafe['id']}/questions/{qid}/edit",
                    data={"kind": "choice", "text": "Pick a colour", "options": "Crimson\nGreen\nBlue\nGold"})
    assert where(r) == f"/sessions/{cafe['id']}#q{qid}"
    assert option_texts(app, qid) == ["Crimson", "Green", "Blue", "Gold"]
    assert option_ids(app, qid)[0] == red
    with app.app_context():
        vote = db.session.query(Vote).one()
        assert [c.option_id for c in vote.choices] == [red]
    page = text(client.get(f"/sessions/{cafe['id']}"))
    assert "· 1 answer" in page and "1 answers" not in page  # counted in the singular


@pytest.mark.parametrize(
    "data, message",
    [
        ({"kind": "choice", "text": "Changed", "options": "Green\nBlue"}, "has votes, so it cannot be removed"),
        ({"kind": "notes", "text": "Changed"}, "type cannot change"),
    ],
)
def test_edit_that_would_lose_answers_is_refused(app, client, cafe, data, message):
    qid = cafe["questions"][0]
    cast(app, cafe)
    r = client.post(f"/sessions/{cafe['id']}/questions/{qid}/edit", data=data)
    assert r.status_code == 200 and message in text(r)
    assert get(app, Question, qid)["text"] == "Pick one"
    assert option_texts(app, qid) == ["Red", "Green", "Blue"]


def test_scale_cannot_shrink_past_answers(app, client, cafe):
    qid = cafe["questions"][3]
    phone = app.test_client()
    phone.get(f"/j/{cafe['code']}")
    assert phone.post(f"/j/{cafe['code']}/vote", json={"question_id": qid, "client_id": "scale-0001", "value": 5}).json["ok"]
    r = client.post(f"/sessions/{cafe['id']}/questions/{qid}/edit",
                    data={"kind": "scale", "text": "How sure?", "scale_min": "1", "scale_max": "4"})
    assert r.status_code == 200 and "cannot shrink" in text(r)
    assert get(app, Question, qid)["scale_max"] == 5


def test_move_questions(app, client, cafe):
    qs = cafe["questions"]

    def order():
        with app.app_context():
            return [q.id for q in db.session.get(CafeSession, cafe["id"]).questions]

    assert where(client.post(f"/sessions/{cafe['id']}/questions/{qs[1]}/move", data={"direction": "up"})) == (
        f"/sessions/{cafe['id']}#q{qs[1]}")
    assert order() == [qs[1], qs[0]] + qs[2:]
    client.post(f"/sessions/{cafe['id']}/questions/{qs[1]}/move", data={"direction": "down"})
    assert order() == qs
    client.post(f"/sessions/{cafe['id']}/questions/{qs[0]}/move", data={"direction": "up"})  # already first
    client.post(f"/sessions/{cafe['id']}/questions/{qs[-1]}/move", data={"direction": "down"})  # already last
    assert order() == qs
    client.post(f"/sessions/{cafe['id']}/questions/{qs[0]}/move", data={"direction": ["sideways"]})  # anything else: down
    assert order() == [qs[1], qs[0]] + qs[2:]


def test_delete_question(app, client, cafe):
    qs = cafe["questions"]
    cast(app, cafe, question_index=0)
    r = client.post(f"/sessions/{cafe['id']}/questions/{qs[0]}/delete")
    assert where(r) == f"/sessions/{cafe['id']}"
    assert "Question deleted with its answers." in text(client.get(where(r)))
    assert get(app, Question, qs[0]) is None
    assert count(app, Vote) == 0 and count(app, Option, question_id=qs[0]) == 0
    with app.app_context():
        session = db.session.get(CafeSession, cafe["id"])
        assert [(q.id, q.position) for q in session.questions] == [(q, n) for n, q in enumerate(qs[1:])]
        assert session.current_question_id is None  # it was on screen; now nothing is
    assert client.get(f"/sessions/{cafe['id']}/control").status_code == 200
    assert client.get(f"/sessions/{cafe['id']}/projector").status_code == 200


# -- the live control page without JavaScript -----------------------------------

def test_control_and_projector_pages(client, cafe):
    r = client.get(f"/sessions/{cafe['id']}/control")
    assert r.status_code == 200
    page = text(r)
    for label in ("Pick one", "What does success look like?", "Agree?", "How sure?", "Pick some", cafe["code"]):
        assert label in page
    r = client.get(f"/sessions/{cafe['id']}/projector")
    assert r.status_code == 200 and cafe["code"] in text(r) and "Pick one" in text(r)
    assert f"/j/{cafe['code']}/qr.svg" in text(r)


def test_control_post_actions(app, client, cafe):
    s, qs = cafe["id"], cafe["questions"]

    def act(action, qid):
        r = client.post(f"/sessions/{s}/control", data={"action": action, "question_id": str(qid)})
        assert where(r) == f"/sessions/{s}/control"
        return get(app, Question, qid), get(app, CafeSession, s)

    q, _ = act("close", qs[2])
    assert not q["is_open"]
    q, session = act("open", qs[2])
    assert q["is_open"] and session["current_question_id"] == qs[2]
    _, session = act("show", qs[1])
    assert session["current_question_id"] == qs[1]
    q, _ = act("hide", qs[1])
    assert not q["revealed"]
    assert client.get(f"/sessions/{s}/state.json").json["results"] == {
        "question_id": qs[1], "kind": "notes", "total": 0, "hidden": True}
    assert "notes" in client.get(f"/sessions/{s}/state.json?view=control").json["results"]
    q, _ = act("reveal", qs[1])
    assert q["revealed"]


@pytest.mark.parametrize(
    "data, message",
    [
        ({"action": "explode", "question_id": "1"}, "Unknown action."),
        ({"question_id": "1"}, "Unknown action."),
        ({"action": "x" * 100_000, "question_id": "1"}, "Unknown action."),
        ({"action": "open", "question_id": "999999"}, "That question was not found."),
        ({"action": "open"}, "That question was not found."),
        ({"action": "open", "question_id": ""}, "That question was not found."),
        ({"action": "open", "question_id": "abc"}, "That question was not found."),
        ({"action": "open", "question_id": "-1"}, "That question was not found."),
        ({"action": "open", "question_id": "²"}, "That question was not found."),
        ({"action": "open", "question_id": "9" * 40}, "That question was not found."),
    ],
)
def test_control_post_bad_input_flashes(app, client, cafe, data, message):
    before = snapshot(app, cafe)
    r = client.post(f"/sessions/{cafe['id']}/control", data=data)
    assert where(r) == f"/sessions/{cafe['id']}/control"
    page = client.get(where(r))
    assert page.status_code == 200 and message in text(page)
    assert snapshot(app, cafe) == before


def test_control_post_cannot_touch_another_sessions_question(app, client, cafe, facilitator):
    other = make_cafe(app, facilitator, title="Other")
    before = snapshot(app, other)
    client.post(f"/sessions/{cafe['id']}/control", data={"action": "close", "question_id": other["questions"][0]})
    assert "That question was not found." in text(client.get(f"/sessions/{cafe['id']}/control"))
    assert snapshot(app, other) == before


def test_facilitator_state_json(client, cafe):
    projector = client.get(f"/sessions/{cafe['id']}/state.json").json
    control = client.get(f"/sessions/{cafe['id']}/state.json", query_string={"view": "control"}).json
    assert projector["current"]["id"] == control["current"]["id"] == cafe["questions"][0]
    assert "questions" not in projector
    assert [q["id"] for q in control["questions"]] == cafe["questions"]
    assert projector["results"]["total"] == 0 and len(projector["results"]["bars"]) == 3


# -- participants -----------------------------------------------------------------

def test_start_page(client):
    r = client.get("/")
    assert r.status_code == 200 and 'name="code"' in text(r) and "Join a session" in text(r)


def test_start_with_typed_code_redirects(client, cafe):
    typed = f" {cafe['code'][:3].lower()} - {cafe['code'][3:].lower()} "
    r = client.post("/", data={"code": typed})
    assert where(r) == f"/j/{cafe['code']}"


@pytest.mark.parametrize("code", ["ZZZZZZ", "abc", "O0O0O0", "x" * 20])
def test_start_with_unknown_code_is_404(app, client, cafe, code):
    r = client.post("/", data={"code": code})
    assert r.status_code == 404
    assert "There is no session with that code." in text(r)
    assert count(app, Participant) == 0


@pytest.mark.parametrize("data, message", [({"code": ""}, "Type the code from the big screen."),
                                           ({"code": "x" * 5000}, "Field cannot be longer than 20 characters."),
                                           ({}, "Type the code from the big screen.")])
def test_start_with_bad_input_shows_errors(client, data, message):
    r = client.post("/", data=data)
    assert r.status_code == 200 and message in text(r)


def test_join_link_is_canonical(client, cafe):
    assert where(client.get(f"/j/{cafe['code'].lower()}")) == f"/j/{cafe['code']}"
    assert where(client.get(f"/j/{cafe['code'][:3]}-{cafe['code'][3:]}")) == f"/j/{cafe['code']}"


def test_join_unknown_code_is_404(app, client, cafe):
    r = client.get("/j/ZZZZZZ")
    assert r.status_code == 404 and "There is no session with that code." in text(r)
    assert client.get("/j/" + "Q" * 3000).status_code == 404
    assert count(app, Participant) == 0


def test_join_keeps_one_participant_per_phone(app, cafe):
    phone = app.test_client()
    r = phone.get(f"/j/{cafe['code']}")
    assert r.status_code == 200
    assert any(c.startswith("session=") for c in r.headers.getlist("Set-Cookie"))
    assert "Pick one" in text(r)
    phone.get(f"/j/{cafe['code']}")
    phone.get(f"/j/{cafe['code'].lower()}", follow_redirects=True)
    # Opening the link makes no participant: the phone's first answer does, once.
    assert count(app, Participant, session_id=cafe["id"]) == 0
    for n in range(2):
        assert answer(phone, cafe, n).status_code == 200
    assert count(app, Participant, session_id=cafe["id"]) == 1
    other = app.test_client()
    other.get(f"/j/{cafe['code']}")
    assert count(app, Participant, session_id=cafe["id"]) == 1
    assert answer(other, cafe, 9).status_code == 200
    assert count(app, Participant, session_id=cafe["id"]) == 2


def answer(phone, cafe, n):
    """A note sent over HTTP, as a phone whose socket is down does."""
    return phone.post(f"/j/{cafe['code']}/note",
                      json={"question_id": cafe["questions"][1], "client_id": f"note-{n:08d}", "text": f"Note {n}"})


def test_one_phone_in_two_sessions(app, cafe, facilitator):
    other = make_cafe(app, facilitator, title="Other")
    phone = app.test_client()
    for n in range(2):
        phone.get(f"/j/{cafe['code']}")
        phone.get(f"/j/{other['code']}")
        assert answer(phone, cafe, n).status_code == 200
        assert answer(phone, other, 10 + n).status_code == 200
    assert count(app, Participant, session_id=cafe["id"]) == 1
    assert count(app, Participant, session_id=other["id"]) == 1


def test_qr_code(client, cafe):
    r = client.get(f"/j/{cafe['code']}/qr.svg")
    assert r.status_code == 200 and r.mimetype == "image/svg+xml"
    assert "<svg" in text(r)
    assert client.get("/j/ZZZZZZ/qr.svg").status_code == 404


@pytest.fixture
def phone(app, cafe):
    phone = app.test_client()
    assert phone.get(f"/j/{cafe['code']}").status_code == 200
    return phone


def test_vote_json(app, cafe, phone):
    qid = cafe["questions"][0]
    red, green, _ = option_ids(app, qid)
    payload = {"question_id": qid, "client_id": "vote-000001", "choices": [red]}
    r = phone.post(f"/j/{cafe['code']}/vote", json=payload)
    assert r.status_code == 200 and r.json["ok"] is True and isinstance(r.json["id"], int)
    again = phone.post(f"/j/{cafe['code']}/vote", json=payload)
    assert again.json == r.json
    changed = phone.post(f"/j/{cafe['code']}/vote", json={**payload, "client_id": "vote-000002", "choices": [green]})
    assert changed.json["id"] == r.json["id"]  # the same vote, changed in place, with a receipt of its own
    assert changed.json["receipt"] != r.json["receipt"]
    with app.app_context():
        vote = db.session.query(Vote).one()
        assert [c.option_id for c in vote.choices] == [green]
    state = phone.get(f"/j/{cafe['code']}/state.json").json
    assert state["answers"] == {str(qid): {"choices": [green], "value": None, "client_id": "vote-000002",
                                           "receipt": changed.json["receipt"]}}


def test_note_json(app, cafe, phone):
    qid = cafe["questions"][1]
    payload = {"question_id": qid, "client_id": "note-000001", "text": "  More buses  "}
    r = phone.post(f"/j/{cafe['code']}/note", json=payload)
    assert r.status_code == 200 and r.json["ok"] is True
    assert phone.post(f"/j/{cafe['code']}/note", json=payload).json == r.json
    assert count(app, Note) == 1
    state = phone.get(f"/j/{cafe['code']}/state.json").json
    assert state["notes"] == {str(qid): [{"id": r.json["id"], "text": "More buses", "client_id": "note-000001",
                                          "status": "visible"}]}


def test_phone_state_json(cafe, phone):
    state = phone.get(f"/j/{cafe['code']}/state.json").json
    assert state["session"] == {"title": "Strategy café", "code": cafe["code"], "round": 0}
    assert state["question"]["id"] == cafe["questions"][0]
    assert state["answers"] == {} and state["notes"] == {}


@pytest.mark.parametrize("endpoint", ["vote", "note", "state.json"])
def test_json_endpoints_need_a_participant(app, cafe, endpoint):
    stranger = app.test_client()
    url = f"/j/{cafe['code']}/{endpoint}"
    payload = {"question_id": cafe["questions"][1], "client_id": "note-000001", "text": "hi", "choices": [1]}
    r = stranger.get(url) if endpoint == "state.json" else stranger.post(url, json=payload)
    assert r.status_code == 403
    assert r.json == {"ok": False, "error": "Open the join link again to take part."}
    r = stranger.get(f"/j/ZZZZZZ/{endpoint}") if endpoint == "state.json" else stranger.post(f"/j/ZZZZZZ/{endpoint}", json=payload)
    assert r.status_code == 404 and r.json["ok"] is False
    assert count(app, Vote) == count(app, Note) == count(app, Participant) == 0


def test_a_phone_cannot_use_its_cookie_in_another_session(app, cafe, facilitator, phone):
    other = make_cafe(app, facilitator, title="Other")
    r = phone.post(f"/j/{other['code']}/note", json={"question_id": other["questions"][1], "client_id": "note-000001",
                                                     "text": "hi"})
    assert r.status_code == 403
    r = phone.post(f"/j/{cafe['code']}/note", json={"question_id": other["questions"][1], "client_id": "note-000001",
                                                    "text": "hi"})
    assert r.status_code == 400 and r.json["error"] == "That question was not found."
    assert count(app, Note) == 0


@pytest.mark.parametrize(
    "endpoint, body, message",
    [
        ("vote", "not json", "not valid JSON"),
        ("vote", "[1, 2]", "malformed"),
        ("vote", "null", "malformed"),
        ("vote", '"string"', "malformed"),
        ("vote", "{}", "malformed"),
        ("vote", '{"client_id": "vote-000001", "question_id": "1", "choices": [1]}', "not found"),
        ("vote", '{"client_id": "vote-000001", "question_id": 1e400, "choices": [1]}', "malformed"),  # infinity
        ("vote", '{"client_id": "vote-000001", "question_id": 99999999999999999999999999, "choices": [1]}', "not found"),
        ("vote", '{"client_id": "vote-000001", "question_id": QID, "choices": []}', "Choose an answer"),
        ("vote", '{"client_id": "vote-000001", "question_id": QID, "choices": [99999999999999999999999]}',
         "not one of the options"),
        ("vote", '{"client_id": "%s", "question_id": QID, "choices": [1]}' % ("x" * 100_000), "malformed"),
        ("note", '{"client_id": "note-000001", "question_id": NID, "text": "%s"}' % ("x" * 100_000), "limit is 50"),
        ("note", '{"client_id": "note-000001", "question_id": NID, "text": ["a"]}', "Write a note"),
        ("note", '{"client_id": "note-000001", "question_id": QID, "text": "a"}', "votes, not notes"),
    ],
)
def test_json_endpoints_refuse_bad_input(app, cafe, phone, endpoint, body, message):
    body = body.replace("QID", str(cafe["questions"][0])).replace("NID", str(cafe["questions"][1]))
    r = phone.post(f"/j/{cafe['code']}/{endpoint}", data=body, content_type="application/json")
    assert r.status_code == 400
    assert r.json["ok"] is False and message in r.json["error"]
    assert count(app, Vote) == count(app, Note) == 0


def test_json_endpoint_without_json_content_type(app, cafe, phone):
    r = phone.post(f"/j/{cafe['code']}/vote", data={"question_id": cafe["questions"][0]})
    assert r.status_code == 400 and r.json["ok"] is False
    assert phone.get(f"/j/{cafe['code']}/vote").status_code == 405


def test_closed_question_refuses_json_answers(app, client, cafe, phone):
    qid = cafe["questions"][0]
    client.post(f"/sessions/{cafe['id']}/control", data={"action": "close", "question_id": qid})
    r = phone.post(f"/j/{cafe['code']}/vote",
                   json={"question_id": qid, "client_id": "vote-000001", "choices": option_ids(app, qid)[:1]})
    assert r.status_code == 400
    assert r.json == {"ok": False, "error": "This question is closed: your answer was not saved."}
    assert count(app, Vote) == 0


# -- CSRF ---------------------------------------------------------------------------

def test_csrf_is_enforced(app_with):
    app = app_with(WTF_CSRF_ENABLED=True)
    make_facilitator(app)
    client = app.test_client()
    # Sign-in without a token is refused.
    r = client.post("/auth/login", data={"email": "fac@example.org", "password": PASSWORD})
    assert r.status_code == 400
    assert where(client.get("/sessions/")).startswith("/auth/login")
    token = csrf_token(text(client.get("/auth/login")))
    r = client.post("/auth/login", data={"email": "fac@example.org", "password": PASSWORD, "csrf_token": token})
    assert where(r) == "/sessions/"

    assert client.post("/sessions/new", data={"title": "No token"}).status_code == 400
    assert client.post("/sessions/new", data={"title": "Bad token", "csrf_token": "forged"}).status_code == 400
    assert count(app, CafeSession) == 0
    token = csrf_token(text(client.get("/sessions/new")))
    assert client.post("/sessions/new", data={"title": "With token", "csrf_token": token}).status_code == 302
    with app.app_context():
        cafe = {"id": db.session.query(CafeSession.id).scalar(), "code": db.session.query(CafeSession.join_code).scalar()}

    assert client.post(f"/sessions/{cafe['id']}/delete").status_code == 400
    assert client.post(f"/sessions/{cafe['id']}/questions/new", data={"kind": "notes", "text": "x"}).status_code == 400
    assert client.post("/auth/logout").status_code == 400
    assert count(app, CafeSession) == 1 and count(app, Question) == 0
    assert client.get("/sessions/").status_code == 200  # still signed in

    # The phone's JSON fallback needs the token from its page, sent as a header.
    token = csrf_token(text(client.get(f"/sessions/{cafe['id']}")))
    client.post(f"/sessions/{cafe['id']}/questions/new", data={"kind": "notes", "text": "Ideas?", "csrf_token": token})
    with app.app_context():
        qid = db.session.query(Question.id).scalar()
        session = db.session.get(CafeSession, cafe["id"])
        services.control(session, "open", qid)
    phone = app.test_client()
    page = text(phone.get(f"/j/{cafe['code']}"))
    note = {"question_id": qid, "client_id": "note-000001", "text": "hi"}
    assert phone.post(f"/j/{cafe['code']}/note", json=note).status_code == 400
    assert count(app, Note) == 0
    r = phone.post(f"/j/{cafe['code']}/note", json=note, headers={"X-CSRFToken": csrf_token(page)})
    assert r.status_code == 200 and r.json["ok"]
    assert phone.post("/", data={"code": cafe["code"]}).status_code == 400


# -- escaping -------------------------------------------------------------------------

EVIL = '<script>alert(1)</script>'
EVIL_IMG = '<img src=x onerror=alert(2)>'


def test_user_text_is_escaped_everywhere(app, client, facilitator):
    cafe = make_cafe(app, facilitator, title=f"{EVIL} & café", questions=[
        {"kind": "notes", "text": f"Q {EVIL}", "max_length": 100},
        {"kind": "choice", "text": f"C {EVIL_IMG}", "options": f"{EVIL}\n{EVIL_IMG}"},
        {"kind": "scale", "text": "S", "scale_min": 1, "scale_max": 3, "min_label": EVIL, "max_label": EVIL_IMG},
    ])
    with app.app_context():
        session = db.session.get(CafeSession, cafe["id"])
        session.venue, session.description = EVIL_IMG, EVIL
        db.session.commit()
    phone = app.test_client()
    phone.get(f"/j/{cafe['code']}")
    r = phone.post(f"/j/{cafe['code']}/note", json={"question_id": cafe["questions"][0], "client_id": "note-000001",
                                                    "text": EVIL})
    assert r.json["ok"]

    s = cafe["id"]
    pages = {
        "index": client.get("/sessions/"),
        "detail": client.get(f"/sessions/{s}"),
        "edit": client.get(f"/sessions/{s}/edit"),
        "question": client.get(f"/sessions/{s}/questions/{cafe['questions'][1]}/edit"),
        "control": client.get(f"/sessions/{s}/control"),
        "projector": client.get(f"/sessions/{s}/projector"),
        "phone": phone.get(f"/j/{cafe['code']}"),
        "unknown code": phone.get("/j/" + EVIL),
    }
    for name, r in pages.items():
        html = text(r)
        assert r.status_code in (200, 404), name
        assert "<script>alert" not in html, name
        assert "<img src=x" not in html, name
    # ...and the text is there, escaped, so the check above is not vacuous.
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; café" in text(pages["detail"])
    assert "&lt;img src=x onerror=alert(2)&gt;" in text(pages["detail"])
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\n&lt;img" in text(pages["question"])
    # The state embedded as JSON carries the note, with < and > escaped for a <script> element.
    phone_state = text(pages["phone"])
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in phone_state
    assert phone_state.count("</script>") == phone_state.count("<script")
    assert "\\u003cscript\\u003ealert(1)" in text(pages["control"])
    assert "\\u003cscript\\u003ealert(1)" in text(pages["projector"])

    # Flash messages are escaped too.
    client.post(f"/sessions/{s}/delete")
    html = text(client.get("/sessions/"))
    assert "Deleted “&lt;script&gt;alert(1)&lt;/script&gt; &amp; café”" in html and "<script>alert" not in html


# -- bad input never gives a 500 ---------------------------------------------------------

def test_huge_form_bodies_are_refused(app, client, facilitator):
    huge = "x" * 600_000
    r = client.post("/sessions/new", data={"title": huge})
    assert r.status_code == 413
    r = client.post("/sessions/new", data={"title": "ok", "description": huge[:400_000]})
    assert r.status_code == 200 and "Field cannot be longer than 5000 characters." in text(r)
    assert count(app, CafeSession) == 0
    anonymous = app.test_client()
    assert anonymous.post("/auth/login", data={"email": huge, "password": "x"}).status_code == 413
    assert anonymous.post("/", data={"code": huge}).status_code == 413


def test_login_with_huge_or_odd_input(app, client):
    make_facilitator(app)
    for data in ({"email": "x" * 10_000, "password": "y" * 10_000}, {"email": ["a", "b"], "password": PASSWORD}):
        r = client.post("/auth/login", data=data)
        assert r.status_code in (200, 401), (data, r.status_code)
    # NUL is in no email or password (and PostgreSQL cannot look it up): a 400 that says so.
    for data in ({"email": "fac@example.org", "password": "\x00"}, {"email": "fac@example.org\x00", "password": PASSWORD}):
        r = client.post("/auth/login", data=data)
        assert r.status_code == 400 and "NUL" in r.get_data(as_text=True), (data, r.status_code)
    assert where(client.get("/sessions/")).startswith("/auth/login")


def test_odd_methods_and_paths(client, cafe):
    assert client.get(f"/sessions/{cafe['id']}/delete").status_code == 405
    assert client.get(f"/sessions/{cafe['id']}/duplicate").status_code == 405
    assert client.put(f"/sessions/{cafe['id']}/control").status_code == 405
    assert client.get("/sessions/abc").status_code == 404
    assert client.get("/sessions/-1").status_code == 404
    assert client.get("/nowhere").status_code == 404
