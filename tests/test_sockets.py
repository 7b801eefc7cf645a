"""Every Socket.IO event of the phone (/phone) and the screens (/facilitator), with Flask-SocketIO's test client."""
import logging
import uuid

import pytest

from consult import batch, live, models, rules, services
from consult.app import SOCKET_ERROR
from consult.extensions import db
from consult.models import Note, Participant, Question, Vote

from .conftest import events, hub, join_phone, login, make_cafe, make_facilitator, option_ids

PHONE = "/phone"
SCREEN = "/facilitator"
MALFORMED = "Your phone sent a malformed request: please reload the page."
NOT_FOUND = "That question was not found."


@pytest.fixture(autouse=True)
def cheap_passwords(fast_passwords):
    """Cheap password hashes: these tests sign in often."""


def cid():
    return "c-" + uuid.uuid4().hex


def screen(app, http, session_id, view="control"):
    return app.extensions["socketio"].test_client(app, namespace=SCREEN, flask_test_client=http,
                                auth={"session_id": session_id, "view": view})


def vote(sock, data):
    return sock.emit("vote", data, namespace=PHONE, callback=True)


def note(sock, data):
    return sock.emit("note", data, namespace=PHONE, callback=True)


def received(sock, namespace=PHONE):
    return sock.get_received(namespace)


def drain(*socks):
    """Forget what these sockets have received so far."""
    for sock in socks:
        received(sock, PHONE if sock.is_connected(PHONE) else SCREEN)


def last_state(sock):
    states = events(sock, "state", SCREEN)
    assert states, "no state was pushed"
    return states[-1]


def count(app, model, **filters):
    with app.app_context():
        return db.session.query(model).filter_by(**filters).count()


@pytest.fixture
def ids(app, cafe):
    """Handy ids: the questions by kind and their options."""
    choice, notes, yesno, scale, multi = cafe["questions"]
    return {
        "choice": choice, "notes": notes, "yesno": yesno, "scale": scale, "multi": multi,
        "choice_opts": option_ids(app, choice), "multi_opts": option_ids(app, multi),
    }


@pytest.fixture
def phone(app, cafe):
    http, sock = join_phone(app, cafe["code"])
    return sock


# -- connecting a phone ----------------------------------------------------------

def test_phone_connect_refused_for_unknown_code(app, cafe):
    http = app.test_client()
    http.get(f"/j/{cafe['code']}")
    for auth in ({"code": "ZZZZZZ"}, {"code": None}, {"code": ["x"]}, {}, None, "nonsense", {"code": "x" * 100_000}):
        sock = app.extensions["socketio"].test_client(app, namespace=PHONE, flask_test_client=http, auth=auth)
        assert not sock.is_connected(PHONE), auth
    assert not hub(app).phones and hub(app).presence.connected(cafe["id"]) == 0


def test_phone_connect_refused_without_cookie(app, cafe):
    for http in (app.test_client(), None):
        sock = app.extensions["socketio"].test_client(app, namespace=PHONE, flask_test_client=http, auth={"code": cafe["code"]})
        assert not sock.is_connected(PHONE)
    assert count(app, Participant) == 0


def test_phone_cookie_for_another_session_is_refused(app, cafe, facilitator):
    other = make_cafe(app, facilitator, title="Other")
    http, _ = join_phone(app, cafe["code"])
    sock = app.extensions["socketio"].test_client(app, namespace=PHONE, flask_test_client=http, auth={"code": other["code"]})
    assert not sock.is_connected(PHONE)


def test_phone_gets_state_on_connect(app, cafe, ids):
    http, sock = join_phone(app, cafe["code"])
    (state,) = events(sock, "state", PHONE)
    assert state["session"] == {"title": "Strategy café", "code": cafe["code"], "round": 0}
    assert state["question"] == {
        "id": ids["choice"], "kind": "choice", "text": "Pick one", "is_open": True, "multiple": False,
        "options": [{"id": i, "text": t} for i, t in zip(ids["choice_opts"], ["Red", "Green", "Blue"])],
    }
    assert state["answers"] == {} and state["notes"] == {}


def test_lower_case_code_connects(app, cafe):
    http, _ = join_phone(app, cafe["code"])
    sock = app.extensions["socketio"].test_client(app, namespace=PHONE, flask_test_client=http, auth={"code": cafe["code"].lower()})
    assert sock.is_connected(PHONE)


def test_reconnect_gets_full_snapshot_with_own_answers(app, cafe, ids):
    http, sock = join_phone(app, cafe["code"])
    red = ids["choice_opts"][0]
    vote_ack = vote(sock, {"question_id": ids["choice"], "client_id": "vote-0000001", "choices": [red]})
    scale_ack = vote(sock, {"question_id": ids["scale"], "client_id": "vote-0000002", "value": 4})
    notes = [note(sock, {"question_id": ids["notes"], "client_id": f"note-000000{n}", "text": f"Idea {n}"}) for n in (1, 2)]
    assert vote_ack["ok"] and scale_ack["ok"] and all(n["ok"] for n in notes)
    # Someone else's answers are not in this phone's snapshot.
    _, other = join_phone(app, cafe["code"])
    note(other, {"question_id": ids["notes"], "client_id": "note-other01", "text": "Not mine"})

    received(sock)
    sock.disconnect(PHONE)
    sock.connect(namespace=PHONE, auth={"code": cafe["code"]})
    assert sock.is_connected(PHONE)
    (state,) = events(sock, "state", PHONE)
    assert state["question"]["id"] == ids["choice"]
    assert state["answers"] == {
        # The receipt each answer's ack gave, shown beside it again after a reload.
        str(ids["choice"]): {"choices": [red], "value": None, "client_id": "vote-0000001", "receipt": vote_ack["receipt"]},
        str(ids["scale"]): {"choices": [], "value": 4, "client_id": "vote-0000002", "receipt": scale_ack["receipt"]},
    }
    assert state["notes"] == {str(ids["notes"]): [
        {"id": notes[0]["id"], "text": "Idea 1", "client_id": "note-0000001", "status": "visible"},
        {"id": notes[1]["id"], "text": "Idea 2", "client_id": "note-0000002", "status": "visible"},
    ]}
    # A brand-new socket from the same phone is the same participant.
    again = app.extensions["socketio"].test_client(app, namespace=PHONE, flask_test_client=http, auth={"code": cafe["code"]})
    assert events(again, "state", PHONE)[0]["answers"] == state["answers"]
    assert count(app, Participant) == 2


# -- votes -------------------------------------------------------------------------

def test_vote_ack_and_idempotent_retry(app, phone, ids):
    red, green, _ = ids["choice_opts"]
    data = {"question_id": ids["choice"], "client_id": "vote-0000001", "choices": [red]}
    ack = vote(phone, data)
    assert ack == {"ok": True, "id": ack["id"], "receipt": ack["receipt"]} and isinstance(ack["id"], int)
    assert vote(phone, data) == ack  # the same receipt: it is the same answer
    assert vote(phone, {**data, "choices": [green]}) == ack  # a retry with the same id changes nothing
    with app.app_context():
        (row,) = db.session.query(Vote).all()
        assert [c.option_id for c in row.choices] == [red]
    # A new submission changes the one vote in place.
    changed = vote(phone, {**data, "client_id": "vote-0000002", "choices": [green]})
    assert changed["ok"] and changed["id"] == ack["id"] and changed["receipt"] != ack["receipt"]
    with app.app_context():
        (row,) = db.session.query(Vote).all()
        assert [c.option_id for c in row.choices] == [green]


def test_vote_kinds(app, phone, ids):
    a, b, c, _ = ids["multi_opts"]
    assert vote(phone, {"question_id": ids["multi"], "client_id": cid(), "choices": [c, a, b, a]})["ok"]
    assert vote(phone, {"question_id": ids["scale"], "client_id": cid(), "value": 1})["ok"]
    yes_no_unsure = option_ids(app, ids["yesno"])
    assert len(yes_no_unsure) == 3
    assert vote(phone, {"question_id": ids["yesno"], "client_id": cid(), "choices": [yes_no_unsure[2]]})["ok"]
    with app.app_context():
        multi = db.session.query(Vote).filter_by(question_id=ids["multi"]).one()
        assert sorted(ch.option_id for ch in multi.choices) == [a, b, c]
    assert count(app, Vote) == 3


BAD_VOTES = [
    ("none", lambda i: None, MALFORMED),
    ("list", lambda i: [i["choice"], i["choice_opts"][0]], MALFORMED),
    ("string", lambda i: "vote", MALFORMED),
    ("number", lambda i: 5, MALFORMED),
    ("empty dict", lambda i: {}, MALFORMED),
    ("no client id", lambda i: {"question_id": i["choice"], "choices": i["choice_opts"][:1]}, MALFORMED),
    ("client id number", lambda i: {"client_id": 12345678, "question_id": i["choice"], "choices": i["choice_opts"][:1]}, MALFORMED),
    ("client id short", lambda i: {"client_id": "short", "question_id": i["choice"], "choices": i["choice_opts"][:1]}, MALFORMED),
    ("client id huge", lambda i: {"client_id": "x" * 200_000, "question_id": i["choice"], "choices": i["choice_opts"][:1]}, MALFORMED),
    ("client id odd chars", lambda i: {"client_id": "<script>x</script>", "question_id": i["choice"], "choices": i["choice_opts"][:1]}, MALFORMED),
    ("no question", lambda i: {"client_id": cid(), "choices": i["choice_opts"][:1]}, NOT_FOUND),
    ("question None", lambda i: {"client_id": cid(), "question_id": None, "choices": i["choice_opts"][:1]}, NOT_FOUND),
    ("question string", lambda i: {"client_id": cid(), "question_id": str(i["choice"]), "choices": i["choice_opts"][:1]}, NOT_FOUND),
    ("question float", lambda i: {"client_id": cid(), "question_id": float(i["choice"]), "choices": i["choice_opts"][:1]}, NOT_FOUND),
    ("question bool", lambda i: {"client_id": cid(), "question_id": True, "choices": i["choice_opts"][:1]}, NOT_FOUND),
    ("question dict", lambda i: {"client_id": cid(), "question_id": {"id": i["choice"]}, "choices": i["choice_opts"][:1]}, NOT_FOUND),
    ("question unknown", lambda i: {"client_id": cid(), "question_id": 999_999, "choices": i["choice_opts"][:1]}, NOT_FOUND),
    ("question negative", lambda i: {"client_id": cid(), "question_id": -1, "choices": i["choice_opts"][:1]}, NOT_FOUND),
    ("question huge", lambda i: {"client_id": cid(), "question_id": 2**70, "choices": i["choice_opts"][:1]}, NOT_FOUND),
    ("question past int32", lambda i: {"client_id": cid(), "question_id": 2**31, "choices": i["choice_opts"][:1]}, NOT_FOUND),
    ("other session", lambda i: {"client_id": cid(), "question_id": i["other"], "choices": i["other_opts"][:1]}, NOT_FOUND),
    ("closed", lambda i: {"client_id": cid(), "question_id": i["closed"], "choices": i["closed_opts"][:1]},
     "This question is closed: your answer was not saved."),
    ("no choices", lambda i: {"client_id": cid(), "question_id": i["choice"]}, "Choose an answer before sending."),
    ("empty choices", lambda i: {"client_id": cid(), "question_id": i["choice"], "choices": []}, "Choose an answer before sending."),
    ("choices None", lambda i: {"client_id": cid(), "question_id": i["choice"], "choices": None}, "Choose an answer before sending."),
    ("choices int", lambda i: {"client_id": cid(), "question_id": i["choice"], "choices": i["choice_opts"][0]}, "Choose an answer before sending."),
    ("choices dict", lambda i: {"client_id": cid(), "question_id": i["choice"], "choices": {"a": 1}}, "Choose an answer before sending."),
    ("choice None", lambda i: {"client_id": cid(), "question_id": i["choice"], "choices": [None]}, "That answer is not one of the options."),
    ("choice string", lambda i: {"client_id": cid(), "question_id": i["choice"], "choices": [str(i["choice_opts"][0])]}, "That answer is not one of the options."),
    ("choice bool", lambda i: {"client_id": cid(), "question_id": i["choice"], "choices": [True]}, "That answer is not one of the options."),
    ("choice huge", lambda i: {"client_id": cid(), "question_id": i["choice"], "choices": [2**70]}, "That answer is not one of the options."),
    ("choice of another question", lambda i: {"client_id": cid(), "question_id": i["choice"], "choices": i["multi_opts"][:1]}, "That answer is not one of the options."),
    ("many choices", lambda i: {"client_id": cid(), "question_id": i["choice"], "choices": list(range(1, 50_000))}, "That answer is not one of the options."),
    ("two for one", lambda i: {"client_id": cid(), "question_id": i["choice"], "choices": i["choice_opts"][:2]}, "Choose only one answer."),
    ("votes on notes", lambda i: {"client_id": cid(), "question_id": i["notes"], "choices": [1]}, "This question takes notes, not votes."),
    ("scale no value", lambda i: {"client_id": cid(), "question_id": i["scale"]}, "Choose a number on the scale before sending."),
    ("scale string", lambda i: {"client_id": cid(), "question_id": i["scale"], "value": "3"}, "Choose a number on the scale before sending."),
    ("scale float", lambda i: {"client_id": cid(), "question_id": i["scale"], "value": 3.5}, "Choose a number on the scale before sending."),
    ("scale bool", lambda i: {"client_id": cid(), "question_id": i["scale"], "value": True}, "Choose a number on the scale before sending."),
    ("scale too high", lambda i: {"client_id": cid(), "question_id": i["scale"], "value": 6}, "Choose a number from 1 to 5."),
    ("scale huge", lambda i: {"client_id": cid(), "question_id": i["scale"], "value": 10**90}, "Choose a number from 1 to 5."),
    ("scale too low", lambda i: {"client_id": cid(), "question_id": i["scale"], "value": 0}, "Choose a number from 1 to 5."),
]


@pytest.fixture
def bad_ids(app, cafe, facilitator, ids):
    """ids, plus a question in another session and a closed one in this session."""
    other = make_cafe(app, facilitator, title="Other")
    with app.app_context():
        session = db.session.get(models.CafeSession, cafe["id"])
        closed = services.save_question(session, None, {"kind": "choice", "text": "Shut", "options": "A\nB"}).id
    return {**ids, "other": other["questions"][0], "other_opts": option_ids(app, other["questions"][0]),
            "closed": closed, "closed_opts": option_ids(app, closed)}


def test_bad_votes_are_refused_and_the_socket_lives(app, phone, bad_ids):
    # One test for all the cases (each named in its failure message): a fresh app per case would be slow.
    for name, make, message in BAD_VOTES:
        ack = vote(phone, make(bad_ids))
        assert ack == {"ok": False, "error": message}, name
        assert phone.is_connected(PHONE), name
    assert count(app, Vote) == 0
    # The same socket still works.
    ok = vote(phone, {"question_id": bad_ids["choice"], "client_id": cid(), "choices": bad_ids["choice_opts"][:1]})
    assert ok["ok"] is True
    assert count(app, Vote) == 1


def test_vote_on_question_closed_mid_event(app, client, cafe, phone, ids):
    data = {"question_id": ids["choice"], "client_id": cid(), "choices": ids["choice_opts"][:1]}
    assert vote(phone, data)["ok"]
    screen(app, client, cafe["id"]).emit("control", {"action": "close", "question_id": ids["choice"]},
                                         namespace=SCREEN, callback=True)
    ack = vote(phone, {**data, "client_id": cid(), "choices": ids["choice_opts"][1:2]})
    assert ack == {"ok": False, "error": "This question is closed: your answer was not saved."}
    with app.app_context():
        assert [c.option_id for c in db.session.query(Vote).one().choices] == ids["choice_opts"][:1]


def test_client_id_of_another_phone_is_refused(app, cafe, phone, ids):
    data = {"question_id": ids["choice"], "client_id": "shared-000001", "choices": ids["choice_opts"][:1]}
    assert vote(phone, data)["ok"]
    _, other = join_phone(app, cafe["code"])
    assert vote(other, data) == {"ok": False, "error": MALFORMED}
    assert count(app, Vote) == 1


# -- notes ---------------------------------------------------------------------------

def test_note_ack_and_idempotent_retry(app, phone, ids):
    data = {"question_id": ids["notes"], "client_id": "note-0000001", "text": "  Safer crossings  "}
    ack = note(phone, data)
    assert ack == {"ok": True, "id": ack["id"], "status": "visible", "receipt": ack["receipt"]} and isinstance(ack["id"], int)
    assert note(phone, data) == ack
    assert note(phone, {**data, "text": "Changed on retry"}) == ack
    with app.app_context():
        assert [n.text for n in db.session.query(Note).all()] == ["Safer crossings"]
    second = note(phone, {**data, "client_id": "note-0000002", "text": "Another"})
    assert second["ok"] and second["id"] != ack["id"]
    assert count(app, Note) == 2


BAD_NOTES = [
    ("none", lambda i: None, MALFORMED),
    ("list", lambda i: ["text"], MALFORMED),
    ("no client id", lambda i: {"question_id": i["notes"], "text": "hi"}, MALFORMED),
    ("no question", lambda i: {"client_id": cid(), "text": "hi"}, NOT_FOUND),
    ("question huge", lambda i: {"client_id": cid(), "question_id": 10**40, "text": "hi"}, NOT_FOUND),
    ("other session", lambda i: {"client_id": cid(), "question_id": i["other_notes"], "text": "hi"}, NOT_FOUND),
    ("no text", lambda i: {"client_id": cid(), "question_id": i["notes"]}, "Write a note before sending."),
    ("text None", lambda i: {"client_id": cid(), "question_id": i["notes"], "text": None}, "Write a note before sending."),
    ("text number", lambda i: {"client_id": cid(), "question_id": i["notes"], "text": 42}, "Write a note before sending."),
    ("text list", lambda i: {"client_id": cid(), "question_id": i["notes"], "text": ["hi"]}, "Write a note before sending."),
    ("text blank", lambda i: {"client_id": cid(), "question_id": i["notes"], "text": " \n\t "}, "Write a note before sending."),
    ("text too long", lambda i: {"client_id": cid(), "question_id": i["notes"], "text": "x" * 51},
     "That note is 51 characters long; the limit is 50. Shorten it and send again: nothing was lost."),
    ("text huge", lambda i: {"client_id": cid(), "question_id": i["notes"], "text": "y" * 1_000_000}, "the limit is 50"),
    ("note on a vote question", lambda i: {"client_id": cid(), "question_id": i["choice"], "text": "hi"},
     "This question takes votes, not notes."),
]


def test_bad_notes_are_refused_and_the_socket_lives(app, facilitator, phone, ids):
    other = make_cafe(app, facilitator, title="Other")
    for name, make, message in BAD_NOTES:
        ack = note(phone, make({**ids, "other_notes": other["questions"][1]}))
        assert ack["ok"] is False and message in ack["error"], (name, ack)
        assert set(ack) == {"ok", "error"}, name
        assert phone.is_connected(PHONE), name
    assert count(app, Note) == 0
    assert note(phone, {"question_id": ids["notes"], "client_id": cid(), "text": "x" * 50})["ok"] is True


def test_note_at_the_limit_counts_characters_not_bytes(app, phone, ids):
    assert note(phone, {"question_id": ids["notes"], "client_id": cid(), "text": "🙂" * 50})["ok"] is True


# -- the phone's state event -----------------------------------------------------------

def test_state_event_returns_a_snapshot(app, phone, ids):
    counted = vote(phone, {"question_id": ids["scale"], "client_id": "vote-0000009", "value": 2})
    ack = phone.emit("state", namespace=PHONE, callback=True)
    assert ack["ok"] is True
    assert ack["state"]["question"]["id"] == ids["choice"]
    assert ack["state"]["answers"] == {str(ids["scale"]): {"choices": [], "value": 2, "client_id": "vote-0000009",
                                                          "receipt": counted["receipt"]}}
    # Whatever arguments come with it.
    assert phone.emit("state", {"junk": [1, 2]}, "more", namespace=PHONE, callback=True)["ok"] is True


# -- screens ---------------------------------------------------------------------------------

def test_screen_refused_when_not_signed_in(app, cafe):
    for http in (app.test_client(), None):
        assert not screen(app, http, cafe["id"]).is_connected(SCREEN)


def test_screen_refused_for_another_facilitators_session(app, cafe):
    make_facilitator(app, "other@example.org")
    other = app.test_client()
    login(other, "other@example.org")
    for view in ("control", "projector"):
        assert not screen(app, other, cafe["id"], view).is_connected(SCREEN)


BAD_SCREEN_AUTH = [
        {"view": "control"},
        {"session_id": None, "view": "control"},
        {"session_id": "SESSION", "view": "control"},
        {"session_id": 999_999, "view": "control"},
        {"session_id": 2**70, "view": "control"},
        {"session_id": True, "view": "control"},
        {"session_id": "ID", "view": "admin"},
        {"session_id": "ID", "view": None},
        {"session_id": "ID"},
        {"session_id": "ID", "view": ["control"]},
        None,
        "control",
]


def test_screen_refused_for_bad_auth(app, client, cafe):
    for auth in BAD_SCREEN_AUTH:
        if isinstance(auth, dict) and auth.get("session_id") == "ID":
            auth = {**auth, "session_id": cafe["id"]}
        sock = app.extensions["socketio"].test_client(app, namespace=SCREEN, flask_test_client=client, auth=auth)
        assert not sock.is_connected(SCREEN), auth
    assert not hub(app).screens
    assert screen(app, client, cafe["id"]).is_connected(SCREEN)  # while good auth connects


def test_screens_get_state_on_connect(app, client, cafe):
    control = screen(app, client, cafe["id"], "control")
    projector = screen(app, client, cafe["id"], "projector")
    assert control.is_connected(SCREEN) and projector.is_connected(SCREEN)
    c, p = last_state(control), last_state(projector)
    assert c["session_id"] == p["session_id"] == cafe["id"]
    assert c["current"]["id"] == p["current"]["id"] == cafe["questions"][0]
    assert [q["id"] for q in c["questions"]] == cafe["questions"]
    assert "questions" not in p
    assert p["results"]["total"] == 0 and len(p["results"]["bars"]) == 3


def test_control_event_announces_to_phones(app, client, cafe, ids):
    _, phone_a = join_phone(app, cafe["code"])
    _, phone_b = join_phone(app, cafe["code"])
    control = screen(app, client, cafe["id"])
    drain(phone_a, phone_b, control)

    ack = control.emit("control", {"action": "show", "question_id": ids["scale"]}, namespace=SCREEN, callback=True)
    assert ack == {"ok": True}
    for phone in (phone_a, phone_b):
        (question,) = events(phone, "question", PHONE)
        assert question == {"id": ids["scale"], "kind": "scale", "text": "How sure?", "is_open": True,
                            "scale_min": 1, "scale_max": 5, "min_label": "Not", "max_label": "Very"}
    assert last_state(control)["current"]["id"] == ids["scale"]

    # Closing is announced too, so phones stop taking answers.
    assert control.emit("control", {"action": "close", "question_id": ids["scale"]}, namespace=SCREEN, callback=True)["ok"]
    assert events(phone_a, "question", PHONE)[-1]["is_open"] is False
    with app.app_context():
        assert not db.session.get(Question, ids["scale"]).is_open
        assert db.session.get(models.CafeSession, cafe["id"]).current_question_id == ids["scale"]


BAD_CONTROLS = [
        (None, "Malformed request."),
        (["show", 1], "Malformed request."),
        ("show", "Malformed request."),
        ({}, "Unknown action."),
        ({"action": "explode", "question_id": "Q"}, "Unknown action."),
        ({"action": ["open"], "question_id": "Q"}, "Unknown action."),
        ({"action": "x" * 100_000, "question_id": "Q"}, "Unknown action."),
        ({"action": "open"}, NOT_FOUND),
        ({"action": "open", "question_id": None}, NOT_FOUND),
        ({"action": "open", "question_id": 999_999}, NOT_FOUND),
        ({"action": "open", "question_id": 2**70}, NOT_FOUND),
        ({"action": "open", "question_id": "9" * 40}, NOT_FOUND),
        ({"action": "open", "question_id": 1.5}, NOT_FOUND),
        ({"action": "open", "question_id": True}, NOT_FOUND),
        ({"action": "open", "question_id": "OTHER"}, NOT_FOUND),
]


def test_bad_control_events(app, client, cafe, facilitator):
    other = make_cafe(app, facilitator, title="Other")
    control = screen(app, client, cafe["id"])
    _, phone = join_phone(app, cafe["code"])
    received(phone)
    with app.app_context():
        before = [(q.id, q.is_open, q.revealed) for q in db.session.query(Question).order_by(Question.id)]
    for data, error in BAD_CONTROLS:
        if isinstance(data, dict):
            data = {k: {"Q": cafe["questions"][0], "OTHER": other["questions"][0]}.get(v, v) if isinstance(v, str) else v
                    for k, v in data.items()}
        assert control.emit("control", data, namespace=SCREEN, callback=True) == {"ok": False, "error": error}, data
        assert control.is_connected(SCREEN), data
    assert received(phone) == []
    with app.app_context():
        assert [(q.id, q.is_open, q.revealed) for q in db.session.query(Question).order_by(Question.id)] == before
    assert control.emit("control", {"action": "hide", "question_id": cafe["questions"][0]},
                        namespace=SCREEN, callback=True) == {"ok": True}


def test_projector_cannot_control(app, client, cafe, ids):
    projector = screen(app, client, cafe["id"], "projector")
    ack = projector.emit("control", {"action": "close", "question_id": ids["choice"]}, namespace=SCREEN, callback=True)
    assert ack == {"ok": False, "error": "Only the control page can do that."}
    with app.app_context():
        assert db.session.get(Question, ids["choice"]).is_open


def test_control_after_losing_the_session_is_refused(app, client, cafe, ids):
    control = screen(app, client, cafe["id"])
    client.post(f"/sessions/{cafe['id']}/delete")
    ack = control.emit("control", {"action": "close", "question_id": ids["choice"]}, namespace=SCREEN, callback=True)
    assert ack == {"ok": False, "error": "No such session among yours."}


def test_projector_gets_results_after_a_vote(app, client, cafe, ids):
    projector = screen(app, client, cafe["id"], "projector")
    control = screen(app, client, cafe["id"], "control")
    _, phone = join_phone(app, cafe["code"])
    state = last_state(projector)
    assert state["joined"] == 1 and state["connected"] == 1
    assert vote(phone, {"question_id": ids["choice"], "client_id": cid(), "choices": ids["choice_opts"][1:2]})["ok"]
    for sock in (projector, control):
        results = last_state(sock)["results"]
        assert results["total"] == 1
        assert [b["count"] for b in results["bars"]] == [0, 1, 0]
        assert results["bars"][1]["percent"] == 100.0
    # The HTTP fallback pushes results just the same.
    http = app.test_client()
    http.get(f"/j/{cafe['code']}")
    r = http.post(f"/j/{cafe['code']}/vote", json={"question_id": ids["choice"], "client_id": cid(),
                                                   "choices": ids["choice_opts"][2:]})
    assert r.json["ok"]
    assert [b["count"] for b in last_state(projector)["results"]["bars"]] == [0, 1, 1]


def test_projector_gets_notes(app, client, cafe, ids):
    control = screen(app, client, cafe["id"])
    projector = screen(app, client, cafe["id"], "projector")
    control.emit("control", {"action": "show", "question_id": ids["notes"]}, namespace=SCREEN, callback=True)
    _, phone = join_phone(app, cafe["code"])
    assert note(phone, {"question_id": ids["notes"], "client_id": cid(), "text": "<b>Buses</b>"})["ok"]
    results = last_state(projector)["results"]
    assert results["total"] == 1 and [n["text"] for n in results["notes"]] == ["<b>Buses</b>"]


def test_hidden_results_reach_control_but_not_projector(app, client, cafe, ids):
    control = screen(app, client, cafe["id"], "control")
    projector = screen(app, client, cafe["id"], "projector")
    ack = control.emit("control", {"action": "hide", "question_id": ids["choice"]}, namespace=SCREEN, callback=True)
    assert ack == {"ok": True}
    hidden = last_state(projector)
    assert hidden["revealed"] is False and hidden["results"]["hidden"] is True and "bars" not in hidden["results"]

    _, phone = join_phone(app, cafe["code"])
    vote(phone, {"question_id": ids["choice"], "client_id": cid(), "choices": ids["choice_opts"][:1]})
    p, c = last_state(projector), last_state(control)
    assert p["results"] == {"question_id": ids["choice"], "kind": "choice", "total": 1, "hidden": True}
    assert [b["count"] for b in c["results"]["bars"]] == [1, 0, 0]
    assert [q["revealed"] for q in c["questions"] if q["id"] == ids["choice"]] == [False]

    control.emit("control", {"action": "reveal", "question_id": ids["choice"]}, namespace=SCREEN, callback=True)
    assert [b["count"] for b in last_state(projector)["results"]["bars"]] == [1, 0, 0]


def test_phones_get_no_per_vote_messages(app, client, cafe, ids):
    projector = screen(app, client, cafe["id"], "projector")
    _, watcher = join_phone(app, cafe["code"])
    _, voter = join_phone(app, cafe["code"])
    drain(watcher, voter, projector)
    assert vote(voter, {"question_id": ids["choice"], "client_id": cid(), "choices": ids["choice_opts"][:1]})["ok"]
    assert note(voter, {"question_id": ids["notes"], "client_id": cid(), "text": "hi"})["ok"]
    assert received(watcher) == []
    assert received(voter) == []  # the voter has its ack and nothing more
    assert events(projector, "state", SCREEN)  # while the screens did hear of it
    join_phone(app, cafe["code"])
    assert received(watcher) == []  # nor when another phone joins


def test_connected_count_follows_phones(app, client, cafe, ids):
    control = screen(app, client, cafe["id"])
    _, a = join_phone(app, cafe["code"])
    _, b = join_phone(app, cafe["code"])
    _, c = join_phone(app, cafe["code"])
    state = last_state(control)
    assert state["connected"] == 3 and state["joined"] == 3  # connected, not answered yet: joined all the same
    for phone in (a, b):
        assert vote(phone, {"question_id": ids["choice"], "client_id": cid(), "choices": ids["choice_opts"][:1]})["ok"]
    a.disconnect(PHONE)
    c.disconnect(PHONE)
    state = last_state(control)
    # a answered, then left: it joined; c left before it answered: it never took part.
    assert state["connected"] == 1 and state["joined"] == 2


def test_editing_or_deleting_the_current_question_reaches_phones(app, client, cafe, ids):
    _, phone = join_phone(app, cafe["code"])
    received(phone)
    client.post(f"/sessions/{cafe['id']}/questions/{ids['choice']}/edit",
                data={"kind": "choice", "text": "Pick a colour", "options": "Red\nGreen\nBlue\nGold"})
    (question,) = events(phone, "question", PHONE)
    assert question["text"] == "Pick a colour" and [o["text"] for o in question["options"]][-1] == "Gold"
    client.post(f"/sessions/{cafe['id']}/questions/{ids['scale']}/edit",
                data={"kind": "scale", "text": "Not on screen", "scale_min": "1", "scale_max": "5"})
    assert received(phone) == []  # not the current question: phones are not disturbed
    client.post(f"/sessions/{cafe['id']}/questions/{ids['choice']}/delete")
    # Nothing on screen now: the event comes with no question (None sends no argument at all).
    assert [(e["name"], e["args"]) for e in received(phone)] == [("question", [])]


def test_control_page_post_reaches_phones_and_screens(app, client, cafe, ids):
    projector = screen(app, client, cafe["id"], "projector")
    _, phone = join_phone(app, cafe["code"])
    received(phone)
    client.post(f"/sessions/{cafe['id']}/control", data={"action": "open", "question_id": str(ids["yesno"])})
    assert events(phone, "question", PHONE)[-1]["id"] == ids["yesno"]
    assert last_state(projector)["current"]["id"] == ids["yesno"]


# -- robustness ------------------------------------------------------------------------------------

def test_unknown_events_do_not_kill_sockets(app, client, cafe, phone, ids):
    control = screen(app, client, cafe["id"])
    for sock, ns in ((phone, PHONE), (control, SCREEN)):
        ack = sock.emit("no-such-event", {"a": 1}, namespace=ns, callback=True)
        assert ack["ok"] is False and "no-such-event" in ack["error"]
        sock.emit("no-such-event", namespace=ns)
        assert sock.is_connected(ns)
    assert vote(phone, {"question_id": ids["choice"], "client_id": cid(), "choices": ids["choice_opts"][:1]})["ok"]
    assert control.emit("control", {"action": "hide", "question_id": ids["choice"]}, namespace=SCREEN, callback=True)["ok"]


def test_wrong_number_of_arguments_gets_an_error_ack(app, client, cafe, phone, ids):
    control = screen(app, client, cafe["id"])
    for args in [(), ({}, {}), ({"a": 1}, "extra", 3)]:
        for sock, ns, event in ((phone, PHONE, "vote"), (phone, PHONE, "note"), (control, SCREEN, "control")):
            ack = sock.emit(event, *args, namespace=ns, callback=True)
            # No payload at all, or more than one, is a malformed request (not a failure of the server).
            assert ack == {"ok": False, "error": rules.MALFORMED}, (event, args)
            assert sock.is_connected(ns)
    assert vote(phone, {"question_id": ids["choice"], "client_id": cid(), "choices": ids["choice_opts"][:1]})["ok"]


def test_exception_in_a_handler_is_answered_rolled_back_and_logged(app, phone, ids, monkeypatch, caplog):
    def broken(items):
        db.session.add(Participant(session_id=items[0][0].session_id, token="half-made"))
        db.session.flush()
        raise RuntimeError("database went away")

    monkeypatch.setitem(batch.RECORDS, "vote", broken)
    with caplog.at_level(logging.ERROR):
        ack = vote(phone, {"question_id": ids["choice"], "client_id": cid(), "choices": ids["choice_opts"][:1]})
    assert ack == {"ok": False, "error": SOCKET_ERROR}
    assert phone.is_connected(PHONE)
    assert any("database went away" in (r.exc_text or "") or (r.exc_info and "database went away" in str(r.exc_info[1]))
               for r in caplog.records)
    assert count(app, Participant, token="half-made") == 0
    monkeypatch.undo()
    assert vote(phone, {"question_id": ids["choice"], "client_id": cid(), "choices": ids["choice_opts"][:1]})["ok"]


def test_exception_in_the_rollback_still_answers(app, phone, ids, monkeypatch):
    monkeypatch.setitem(batch.RECORDS, "note", lambda *a: 1 / 0)
    monkeypatch.setattr(db.session, "rollback", lambda: 1 / 0, raising=False)
    ack = note(phone, {"question_id": ids["notes"], "client_id": cid(), "text": "hi"})
    assert ack == {"ok": False, "error": SOCKET_ERROR}


def test_exception_in_screen_handler(app, client, cafe, ids, monkeypatch):
    control = screen(app, client, cafe["id"])
    monkeypatch.setattr(live, "announce", lambda session: 1 / 0)
    ack = control.emit("control", {"action": "hide", "question_id": ids["choice"]}, namespace=SCREEN, callback=True)
    assert ack == {"ok": False, "error": SOCKET_ERROR}
    assert control.is_connected(SCREEN)


def test_exception_while_connecting_refuses_the_connection(app, cafe, monkeypatch):
    http = app.test_client()
    http.get(f"/j/{cafe['code']}")
    monkeypatch.setattr(live, "phone_state", lambda participant: 1 / 0)
    sock = app.extensions["socketio"].test_client(app, namespace=PHONE, flask_test_client=http, auth={"code": cafe["code"]})
    assert not sock.is_connected(PHONE)
    monkeypatch.undo()
    sock = app.extensions["socketio"].test_client(app, namespace=PHONE, flask_test_client=http, auth={"code": cafe["code"]})
    assert sock.is_connected(PHONE)


def test_socket_events_do_not_decode_the_session_cookie_again(app, facilitator, client, monkeypatch):
    """The cookie is read once, when the socket connects: each later event uses the socket's own
    copy of the session (Flask-SocketIO's), so decoding it again per vote was wasted work."""
    from flask.sessions import SecureCookieSessionInterface

    cafe = make_cafe(app, facilitator)
    choice = cafe["questions"][0]
    opened = []
    decode = SecureCookieSessionInterface.open_session
    monkeypatch.setattr(SecureCookieSessionInterface, "open_session",
                        lambda self, app_, request: opened.append(request.path) or decode(self, app_, request))
    http, phone = join_phone(app, cafe["code"])
    at_connect = len(opened)
    red, green, _ = option_ids(app, choice)
    for pick in (red, green, red):
        assert vote(phone, {"question_id": choice, "client_id": cid(), "choices": [pick]})["ok"]
    assert len(opened) == at_connect
    # A signed-in facilitator's screen still knows who is signed in, event after event.
    control = screen(app, client, cafe["id"])
    for action in ("open", "close"):
        ack = control.emit("control", {"action": action, "question_id": choice}, namespace="/facilitator", callback=True)
        assert ack["ok"], ack
