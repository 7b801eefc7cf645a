"""The facilitator's side of World Café: tables and host links, table cards, moderation settings,
rounds and the review queue, over plain HTTP (the no-JavaScript fallbacks) and the /facilitator socket."""
import re
import uuid
from urllib.parse import urlsplit

import pytest

from consult import services
from consult import cafe as cafe_rules
from consult.extensions import db
from consult.models import CafeSession, CafeTable, Facilitator, Note

from .conftest import events, join_phone, login, make_cafe, make_facilitator

SCREEN = "/facilitator"
PHONE = "/phone"
OTHER = "other@example.org"
EVIL = "<script>alert(1)</script>"


@pytest.fixture(autouse=True)
def cheap_passwords(fast_passwords):
    """Cheap password hashes: these tests sign in often."""


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
    assert response.status_code in (302, 303), response.status_code
    parts = urlsplit(response.location)
    return parts.path + (f"#{parts.fragment}" if parts.fragment else "")


def flashed(client, response):
    """The page a POST redirected to, as text (with its flash messages)."""
    return text(client.get(urlsplit(response.location).path))


def cid():
    return "c-" + uuid.uuid4().hex


def tables_of(app, session_id):
    with app.app_context():
        session = db.session.get(CafeSession, session_id)
        return [(t.id, t.name, t.host_token) for t in session.tables]


def session_row(app, session_id):
    with app.app_context():
        s = db.session.get(CafeSession, session_id)
        return {"round": s.current_round, "shown": s.shown_round, "moderation": s.moderation, "words": s.blocked_words}


def note_row(app, note_id):
    with app.app_context():
        n = db.session.get(Note, note_id)
        return {"status": n.status, "highlight": n.highlight, "text": n.text}


def screen(app, http, session_id, view="control"):
    return app.extensions["socketio"].test_client(app, namespace=SCREEN, flask_test_client=http,
                                auth={"session_id": session_id, "view": view})


def last_state(sock):
    states = events(sock, "state", SCREEN)
    assert states, "no state was pushed"
    return states[-1]


def make_tables(client, session_id, spec):
    return client.post(f"/sessions/{session_id}/tables", data={"tables": spec})


def seated_phone(app, code, table_id=None):
    """A phone that joined and sat at a table (over its socket); returns the socket."""
    _, sock = join_phone(app, code)
    if table_id is not None:
        assert sock.emit("table", {"table_id": table_id}, namespace=PHONE, callback=True)["ok"]
    sock.get_received(PHONE)
    return sock


def post_note(sock, question_id, text_):
    ack = sock.emit("note", {"question_id": question_id, "client_id": cid(), "text": text_}, namespace=PHONE, callback=True)
    assert ack["ok"], ack
    return ack["id"]


def show(app, cafe, index):
    """Put question index on screen, as the control page would."""
    with app.app_context():
        services.control(db.session.get(CafeSession, cafe["id"]), "show", cafe["questions"][index])


NOTES = 1  # the index of the open-notes question in conftest's café


# -- tables ---------------------------------------------------------------------------

def test_tables_from_a_number_then_names(app, client, cafe):
    s = cafe["id"]
    page = text(client.get(f"/sessions/{s}"))
    assert "Tables: a number, or one name per line" in page and "Print table cards" not in page

    r = make_tables(client, s, "3")
    assert where(r) == f"/sessions/{s}#table-setup"
    assert "Saved: 3 tables." in flashed(client, r)
    made = tables_of(app, s)
    assert [name for _, name, _ in made] == ["Table 1", "Table 2", "Table 3"]

    page = text(client.get(f"/sessions/{s}"))
    for table_id, name, token in made:
        assert f'id="table-{table_id}"' in page
        assert f"http://consult.test/host/{token}" in page  # the host link, in full, to copy
        assert f"http://consult.test/j/{cafe['code']}?t={table_id}" in page  # the table's own join link
        assert f"/sessions/{s}/tables/{table_id}/revoke" in page
    assert page.count("0 seated") == 3
    assert f"/sessions/{s}/tables/print" in page
    assert "\nTable 1\nTable 2\nTable 3</textarea>" in page  # the form shows the tables as they are

    # Names rename the tables in order (same rows, same host links) and add or remove the rest.
    r = make_tables(client, s, " Oak \n\nAsh\n")
    assert "Saved: 2 tables." in flashed(client, r)
    assert tables_of(app, s) == [(made[0][0], "Oak", made[0][2]), (made[1][0], "Ash", made[1][2])]


@pytest.mark.parametrize("spec, message", [
    ("Oak\nAsh\noak", "Two tables have the same name."),
    ("61", "At most 60 tables."),
    ("\n".join(f"T{n}" for n in range(61)), "At most 60 tables."),
])
def test_tables_form_errors_keep_what_was_typed(app, client, cafe, spec, message):
    s = cafe["id"]
    make_tables(client, s, "2")
    before = tables_of(app, s)
    r = make_tables(client, s, spec)
    assert r.status_code == 200
    page = text(r)
    assert message in page and 'aria-invalid="true"' in page
    assert spec.split("\n")[0] in page  # the typed text is still in the box
    assert tables_of(app, s) == before


def test_a_table_with_answers_is_never_removed(app, client, cafe):
    s = cafe["id"]
    make_tables(client, s, "3")
    (t1, _, _), _, (t3, _, _) = tables_of(app, s)
    phone = seated_phone(app, cafe["code"], t3)
    post_note(phone, cafe["questions"][NOTES], "Talk at table 3")
    r = make_tables(client, s, "2")
    assert r.status_code == 200 and "Table 3 has answers, so it cannot be removed." in text(r)
    assert [name for _, name, _ in tables_of(app, s)] == ["Table 1", "Table 2", "Table 3"]
    # Renaming keeps it, and its answers with it; an unused table can go.
    make_tables(client, s, "Oak\nAsh\nElm\nYew")
    make_tables(client, s, "Oak\nAsh\nElm")
    assert [name for _, name, _ in tables_of(app, s)] == ["Oak", "Ash", "Elm"]
    with app.app_context():
        assert db.session.query(Note).one().table_id == t3


def test_removing_a_table_unseats_its_people(app, client, cafe):
    s = cafe["id"]
    make_tables(client, s, "3")
    t3 = tables_of(app, s)[2][0]
    phone = seated_phone(app, cafe["code"], t3)  # seated, but no answers yet: the table may go
    make_tables(client, s, "2")
    assert len(tables_of(app, s)) == 2
    note_id = post_note(phone, cafe["questions"][NOTES], "Still here")  # the socket no longer answers for it
    with app.app_context():
        assert db.session.get(Note, note_id).table_id is None
    assert client.get(f"/sessions/{s}/state.json?view=control").json["seated"] == {}


def test_tables_reach_phones_and_the_control_page(app, client, cafe):
    s = cafe["id"]
    phone = seated_phone(app, cafe["code"])
    control = screen(app, client, s)
    control.get_received(SCREEN)
    make_tables(client, s, "Oak\nAsh")
    pushed = events(phone, "tables", PHONE)
    assert [[t["name"] for t in tables] for tables in pushed] == [["Oak", "Ash"]]
    assert [t["name"] for t in last_state(control)["tables"]] == ["Oak", "Ash"]


def test_seated_counts(app, client, cafe):
    s = cafe["id"]
    make_tables(client, s, "2")
    (t1, _, _), (t2, _, _) = tables_of(app, s)
    seated_phone(app, cafe["code"], t1)
    seated_phone(app, cafe["code"], t1)
    seated_phone(app, cafe["code"], t2)
    seated_phone(app, cafe["code"])  # joined, at no table yet
    page = text(client.get(f"/sessions/{s}"))
    assert page.count("2 seated") == 1 and page.count("1 seated") == 1
    state = client.get(f"/sessions/{s}/state.json?view=control").json
    assert state["seated"] == {str(t1): 2, str(t2): 1}
    control = text(client.get(f"/sessions/{s}/control"))
    assert "2 seated" in control and "1 seated" in control and "1 not at a table" in control


def test_revoke_host_link(app, client, cafe):
    s = cafe["id"]
    make_tables(client, s, "2")
    (t1, _, old), (t2, _, other_token) = tables_of(app, s)
    host = app.extensions["socketio"].test_client(app, namespace="/host", auth={"token": old})
    other = app.extensions["socketio"].test_client(app, namespace="/host", auth={"token": other_token})
    r = client.post(f"/sessions/{s}/tables/{t1}/revoke")
    assert where(r) == f"/sessions/{s}#table-{t1}"
    page = flashed(client, r)
    assert "The old host link of Table 1 has stopped working." in page
    (_, _, new), (_, _, same) = tables_of(app, s)
    assert new != old and same == other_token
    # What was opened with the old link hears so and is closed; the other table's host is untouched.
    assert [e["name"] for e in host.get_received("/host")] == ["revoked"]
    assert host.emit("notes", {"question_id": 1}, namespace="/host", callback=True)["revoked"] is True
    assert other.get_received("/host") == [] and other.is_connected("/host")
    with app.app_context():
        assert cafe_rules.host_table(old) is None
        assert cafe_rules.host_table(new).id == t1
    assert old not in page and f"/host/{new}" in page
    assert app.test_client().get(f"/host/{old}").status_code == 404


def test_table_of_another_session_is_404(app, client, cafe, facilitator):
    other = make_cafe(app, facilitator, title="Other café")
    make_tables(client, other["id"], "1")
    [(far, _, token)] = tables_of(app, other["id"])
    s = cafe["id"]
    assert client.post(f"/sessions/{s}/tables/{far}/revoke").status_code == 404
    assert client.get(f"/sessions/{s}/tables/{far}/join-qr.svg").status_code == 404
    assert client.get(f"/sessions/{s}/tables/{far}/host-qr.svg").status_code == 404
    assert client.get(f"/sessions/{s}/tables/{10**30}/join-qr.svg").status_code == 404
    assert tables_of(app, other["id"])[0][2] == token


def test_table_cards_page_and_qr_codes(app, client, cafe):
    s = cafe["id"]
    page = text(client.get(f"/sessions/{s}/tables/print"))
    assert "No tables yet" in page
    make_tables(client, s, "Oak\nAsh\nElm")
    r = client.get(f"/sessions/{s}/tables/print")
    assert r.status_code == 200
    page = text(r)
    for table_id, name, token in tables_of(app, s):
        join_qr = f"/sessions/{s}/tables/{table_id}/join-qr.svg"
        host_qr = f"/sessions/{s}/tables/{table_id}/host-qr.svg"
        assert f'aria-label="Table card: {name}"' in page and f'aria-label="Host card: {name}"' in page
        assert page.count(f'src="{join_qr}"') == 2  # both faces of the folded tent
        assert page.count(f'src="{host_qr}"') == 1
        assert f"/host/{token}" in page
        for url in (join_qr, host_qr):
            qr = client.get(url)
            assert qr.status_code == 200 and qr.mimetype == "image/svg+xml", url
            assert b"<svg" in qr.data and b"<path" in qr.data
        assert client.get(host_qr).headers["Cache-Control"] == "no-store"  # a revoked link must not linger
    assert page.count(cafe["code"]) >= 6 and "@media print" not in page  # print CSS lives in the stylesheet
    # Each table's QR is its own link: two tables, two different codes.
    (a, _, _), (b, _, _), _ = tables_of(app, s)
    assert client.get(f"/sessions/{s}/tables/{a}/join-qr.svg").data != client.get(f"/sessions/{s}/tables/{b}/join-qr.svg").data


def test_join_qr_encodes_the_table_join_link(app, client, cafe, monkeypatch):
    from consult.facilitator import routes

    seen = []
    monkeypatch.setattr(routes, "qr_svg", lambda url: seen.append(url) or b"<svg/>")
    make_tables(client, cafe["id"], "1")
    [(t1, _, token)] = tables_of(app, cafe["id"])
    client.get(f"/sessions/{cafe['id']}/tables/{t1}/join-qr.svg")
    client.get(f"/sessions/{cafe['id']}/tables/{t1}/host-qr.svg")
    assert seen == [f"http://consult.test/j/{cafe['code']}?t={t1}", f"http://consult.test/host/{token}"]


# -- moderation settings ---------------------------------------------------------------

def test_moderation_settings(app, client, cafe):
    s = cafe["id"]
    page = text(client.get(f"/sessions/{s}"))
    assert re.search(r'<input checked[^>]*value="post"', page)
    r = client.post(f"/sessions/{s}/moderation", data={"moderation": "pre", "blocked_words": " spam \n\n Free money\n"})
    assert where(r) == f"/sessions/{s}#moderation-setup"
    assert "Moderation saved." in flashed(client, r)
    assert session_row(app, s)["moderation"] == "pre" and session_row(app, s)["words"] == "spam\nFree money"
    page = text(client.get(f"/sessions/{s}"))
    assert re.search(r'<input checked[^>]*value="pre"', page) and "spam\nFree money</textarea>" in page

    phone = seated_phone(app, cafe["code"])
    q = cafe["questions"][NOTES]
    held = post_note(phone, q, "Get FREE money here")
    waiting = post_note(phone, q, "More buses")
    assert note_row(app, held)["status"] == "held" and note_row(app, waiting)["status"] == "pending"

    # A mode that is not one of the two is refused, and nothing changes.
    r = client.post(f"/sessions/{s}/moderation", data={"moderation": "none", "blocked_words": ""})
    assert r.status_code == 200 and "Moderation was not saved" in text(r)
    assert session_row(app, s)["moderation"] == "pre" and session_row(app, s)["words"] == "spam\nFree money"
    client.post(f"/sessions/{s}/moderation", data={"moderation": "post", "blocked_words": ""})
    assert session_row(app, s) == {"round": 0, "shown": None, "moderation": "post", "words": ""}


# -- rounds --------------------------------------------------------------------------

def round_post(client, s, **data):
    r = client.post(f"/sessions/{s}/round", data=data)
    assert where(r) == f"/sessions/{s}/control"
    return flashed(client, r)


def test_rounds_over_plain_posts(app, client, cafe):
    s = cafe["id"]
    page = text(client.get(f"/sessions/{s}/control"))
    assert "Not started" in page and "Start round 1" in page and 'aria-pressed="true"' in page
    assert "Round 1 started" in round_post(client, s, action="start", number="1")
    assert session_row(app, s)["round"] == 1
    # A repeated click changes nothing; without a number, the next round starts.
    round_post(client, s, action="start", number="1")
    assert session_row(app, s)["round"] == 1
    assert "Round 2 started" in round_post(client, s, action="start")
    # A page out of date cannot take the café back a round.
    assert "Round 2 has already started." in round_post(client, s, action="start", number="1")
    assert session_row(app, s)["round"] == 2

    page = text(client.get(f"/sessions/{s}/control"))
    assert "Round 2" in page and "Start round 3" in page
    assert "The projector shows round 1." in round_post(client, s, action="show", number="1")
    assert session_row(app, s)["shown"] == 1
    page = text(client.get(f"/sessions/{s}/control"))
    assert re.search(r'aria-pressed="true"[^>]*>Round 1<', page) and re.search(r'aria-pressed="false"[^>]*>All rounds<', page)
    assert "That round has not started." in round_post(client, s, action="show", number="3")
    assert "The projector shows all rounds." in round_post(client, s, action="show", number="0")
    assert session_row(app, s)["shown"] is None

    for data, message in [({"action": "jump"}, "Unknown action."), ({}, "Unknown action."),
                          ({"action": "start", "number": "abc"}, "Rounds are numbered from 1 to 50."),
                          ({"action": "start", "number": "51"}, "Rounds are numbered from 1 to 50."),
                          ({"action": "show", "number": "-1"}, "That round has not started."),
                          ({"action": "show", "number": "9" * 40}, "That round has not started.")]:
        assert message in round_post(client, s, **data), data
    assert session_row(app, s)["round"] == 2 and session_row(app, s)["shown"] is None


def test_rounds_over_the_socket(app, client, cafe):
    s = cafe["id"]
    phone = seated_phone(app, cafe["code"])
    control = screen(app, client, s)
    projector = screen(app, client, s, "projector")
    for sock in (control, projector):
        sock.get_received(SCREEN)

    assert control.emit("round", {"action": "start", "number": 1}, namespace=SCREEN, callback=True) == {"ok": True}
    got = phone.get_received(PHONE)
    assert {"name": "round", "args": [{"round": 1}], "namespace": PHONE} in got  # the phones hear of it at once
    assert last_state(control)["round"] == 1 and last_state(projector)["round"] == 1
    assert control.emit("round", {"action": "start"}, namespace=SCREEN, callback=True) == {"ok": True}
    assert session_row(app, s)["round"] == 2

    assert control.emit("round", {"action": "show", "number": 2}, namespace=SCREEN, callback=True) == {"ok": True}
    assert last_state(projector)["shown_round"] == 2
    assert control.emit("round", {"action": "show", "number": None}, namespace=SCREEN, callback=True) == {"ok": True}
    assert last_state(projector)["shown_round"] is None

    for data, error in [
        ("start", "Malformed request."), (None, "Malformed request."), ([1], "Malformed request."),
        ({"action": "start", "number": 1}, "Round 2 has already started."),
        ({"action": "start", "number": "x"}, "Rounds are numbered from 1 to 50."),
        ({"action": "start", "number": True}, "Rounds are numbered from 1 to 50."),
        ({"action": "start", "number": 2.5}, "Rounds are numbered from 1 to 50."),
        ({"action": "show", "number": 3}, "That round has not started."),
        ({"action": "show", "number": [1]}, "That round has not started."),
        ({"action": ["start"]}, "Unknown action."), ({}, "Unknown action."),
    ]:
        assert control.emit("round", data, namespace=SCREEN, callback=True) == {"ok": False, "error": error}, data
        assert control.is_connected(SCREEN)
    assert session_row(app, s)["round"] == 2 and session_row(app, s)["shown"] is None

    # Only the control page may run rounds: not the projector, not another facilitator.
    ack = projector.emit("round", {"action": "start"}, namespace=SCREEN, callback=True)
    assert ack == {"ok": False, "error": "Only the control page can do that."}
    assert session_row(app, s)["round"] == 2


def test_another_facilitator_cannot_run_rounds_or_moderate(app, client, cafe, intruder):
    s = cafe["id"]
    assert not screen(app, intruder, s).is_connected(SCREEN)
    phone = seated_phone(app, cafe["code"])
    note_id = post_note(phone, cafe["questions"][NOTES], "Mine")
    with app.app_context():
        intruder_id = db.session.query(Facilitator.id).filter_by(email=OTHER).scalar()
    own = make_cafe(app, intruder_id, title="Intruder's café")
    theirs = screen(app, intruder, own["id"])
    assert theirs.is_connected(SCREEN)
    ack = theirs.emit("moderate", {"note_id": note_id, "action": "hide"}, namespace=SCREEN, callback=True)
    assert ack == {"ok": False, "error": "That note was not found."}
    assert note_row(app, note_id)["status"] == "visible"
    for method, url, data in [
        ("post", f"/sessions/{s}/round", {"action": "start"}),
        ("post", f"/sessions/{s}/moderate", {"note_id": note_id, "action": "hide"}),
        ("post", f"/sessions/{s}/tables", {"tables": "9"}),
        ("post", f"/sessions/{s}/moderation", {"moderation": "pre", "blocked_words": ""}),
        ("get", f"/sessions/{s}/tables/print", None),
    ]:
        assert getattr(intruder, method)(url, data=data).status_code == 404, url
    assert session_row(app, s) == {"round": 0, "shown": None, "moderation": "post", "words": ""}
    assert note_row(app, note_id)["status"] == "visible" and tables_of(app, s) == []


def test_pages_need_sign_in(app, cafe, client):
    make_tables(client, cafe["id"], "1")
    [(t1, _, _)] = tables_of(app, cafe["id"])
    anonymous = app.test_client()
    s = cafe["id"]
    for method, url in [("get", f"/sessions/{s}/tables/print"), ("get", f"/sessions/{s}/tables/{t1}/join-qr.svg"),
                        ("get", f"/sessions/{s}/tables/{t1}/host-qr.svg"), ("post", f"/sessions/{s}/tables"),
                        ("post", f"/sessions/{s}/tables/{t1}/revoke"), ("post", f"/sessions/{s}/moderation"),
                        ("post", f"/sessions/{s}/round"), ("post", f"/sessions/{s}/moderate")]:
        r = getattr(anonymous, method)(url, data={"tables": "5", "action": "start", "moderation": "pre"})
        assert r.status_code == 302 and urlsplit(r.location).path == "/auth/login", url
    assert session_row(app, s)["round"] == 0 and len(tables_of(app, s)) == 1


# -- the review queue ---------------------------------------------------------------------

def held_notes(app, client, cafe):
    """Blocked word "spam"; one held note, one fine; the notes question on screen."""
    s = cafe["id"]
    client.post(f"/sessions/{s}/moderation", data={"moderation": "post", "blocked_words": "spam"})
    make_tables(client, s, "Oak\nAsh")
    [(oak, _, _), _] = tables_of(app, s)
    show(app, cafe, NOTES)
    phone = seated_phone(app, cafe["code"], oak)
    held = post_note(phone, cafe["questions"][NOTES], "Cheap spam here")
    fine = post_note(phone, cafe["questions"][NOTES], "More buses")
    return held, fine, oak


def wall(state):
    return [n["text"] for n in state["results"]["notes"]]


def test_review_queue_over_the_socket(app, client, cafe):
    s = cafe["id"]
    held, fine, oak = held_notes(app, client, cafe)
    control = screen(app, client, s)
    projector = screen(app, client, s, "projector")
    state = last_state(control)
    assert [(n["id"], n["status"], n["table_id"], n["round"]) for n in state["review"]] == [(held, "held", oak, 0)]
    assert state["hidden"] == [] and state["moderation"] == "post"
    assert wall(last_state(projector)) == ["More buses"]
    page = text(client.get(f"/sessions/{s}/control"))
    assert "Cheap spam here" in page and "Held: it has a blocked word · Oak · Before round 1 · Question 2" in page

    def moderate(note_id, action, sock=control):
        return sock.emit("moderate", {"note_id": note_id, "action": action}, namespace=SCREEN, callback=True)

    assert moderate(held, "approve") == {"ok": True}
    assert note_row(app, held)["status"] == "visible"
    assert last_state(control)["review"] == [] and wall(last_state(projector)) == ["Cheap spam here", "More buses"]

    assert moderate(fine, "hide") == {"ok": True}
    state = last_state(control)
    assert [(n["id"], n["text"], n["table_id"]) for n in state["hidden"]] == [(fine, "More buses", oak)]
    shown = last_state(projector)
    assert wall(shown) == ["Cheap spam here"]
    assert "hidden" not in shown and "review" not in shown  # the projector is not told what was held or hidden

    assert moderate(fine, "restore") == {"ok": True}
    assert last_state(control)["hidden"] == [] and wall(last_state(projector)) == ["Cheap spam here", "More buses"]

    assert moderate(fine, "highlight") == {"ok": True}
    assert [n["highlight"] for n in last_state(projector)["results"]["notes"]] == [False, True]
    assert moderate(fine, "unhighlight") == {"ok": True}
    assert note_row(app, fine)["highlight"] is False

    for data, error in [
        ({"note_id": 10**6, "action": "hide"}, "That note was not found."),
        ({"note_id": "abc", "action": "hide"}, "That note was not found."),
        ({"note_id": True, "action": "hide"}, "That note was not found."),
        ({"action": "hide"}, "That note was not found."),
        ({"note_id": fine, "action": "delete"}, "Unknown action."),
        ({"note_id": fine, "action": ["hide"]}, "Unknown action."),
        ({"note_id": fine}, "Unknown action."),
        ("hide", "Malformed request."),
    ]:
        assert control.emit("moderate", data, namespace=SCREEN, callback=True) == {"ok": False, "error": error}, data
    assert moderate(fine, "hide", sock=projector) == {"ok": False, "error": "Only the control page can do that."}
    assert note_row(app, fine)["status"] == "visible"


def test_review_queue_under_pre_moderation(app, client, cafe):
    s = cafe["id"]
    client.post(f"/sessions/{s}/moderation", data={"moderation": "pre", "blocked_words": ""})
    show(app, cafe, NOTES)
    phone = seated_phone(app, cafe["code"])
    first = post_note(phone, cafe["questions"][NOTES], "First")
    second = post_note(phone, cafe["questions"][NOTES], "Second")
    control = screen(app, client, s)
    state = last_state(control)
    assert [(n["id"], n["status"]) for n in state["review"]] == [(first, "pending"), (second, "pending")]
    assert state["moderation"] == "pre" and state["results"]["notes"] == []
    assert "Waiting for approval" in text(client.get(f"/sessions/{s}/control"))
    assert control.emit("moderate", {"note_id": second, "action": "hide"}, namespace=SCREEN, callback=True)["ok"]
    state = last_state(control)
    assert [n["id"] for n in state["review"]] == [first] and [n["id"] for n in state["hidden"]] == [second]


def test_review_queue_over_plain_posts(app, client, cafe):
    s = cafe["id"]
    held, fine, _ = held_notes(app, client, cafe)

    def act(note_id, action):
        r = client.post(f"/sessions/{s}/moderate", data={"note_id": str(note_id), "action": action})
        assert where(r) == f"/sessions/{s}/control#review-h"
        return flashed(client, r)

    assert "Note approved" in act(held, "approve") and note_row(app, held)["status"] == "visible"
    page = act(held, "hide")
    assert "Note hidden" in page and note_row(app, held)["status"] == "hidden"
    assert re.search(r"Hidden notes <span[^>]*>1<", page)  # listed for restoring, without JavaScript too
    assert "Note restored" in act(held, "restore") and note_row(app, held)["status"] == "visible"
    assert "Note highlighted" in act(fine, "highlight") and note_row(app, fine)["highlight"]
    assert "That note was not found." in act("abc", "hide")
    assert "That note was not found." in act(10**30, "hide")
    assert "Unknown action." in act(fine, "explode")
    assert note_row(app, fine)["status"] == "visible"


def test_moderating_tells_the_table_host(app, client, cafe):
    """The table host's open view hears of the facilitator's moderation of its table's note."""
    held, _, oak = held_notes(app, client, cafe)
    with app.app_context():
        token = db.session.get(CafeTable, oak).host_token
    host = app.extensions["socketio"].test_client(app, namespace="/host", auth={"token": token})
    host.get_received("/host")
    client.post(f"/sessions/{cafe['id']}/moderate", data={"note_id": str(held), "action": "approve"})
    assert events(host, "changed", "/host") == [{"question_id": cafe["questions"][NOTES]}]


# -- the projector and rounds -----------------------------------------------------------------

def test_projector_respects_the_shown_round(app, client, cafe):
    s = cafe["id"]
    make_tables(client, s, "Oak")
    [(oak, _, _)] = tables_of(app, s)
    show(app, cafe, NOTES)
    phone = seated_phone(app, cafe["code"], oak)
    q = cafe["questions"][NOTES]
    page = text(client.get(f"/sessions/{s}/projector"))
    assert re.search(r'<p id="round-label" class="round-label" hidden>\s*</p>', page)  # no rounds: no label
    round_post(client, s, action="start")
    post_note(phone, q, "Round one idea")
    round_post(client, s, action="start")
    post_note(phone, q, "Round two idea")
    projector = screen(app, client, s, "projector")
    state = last_state(projector)
    assert wall(state) == ["Round one idea", "Round two idea"] and state["results"]["round"] is None
    assert [n["table_id"] for n in state["results"]["notes"]] == [oak, oak] and state["tables"] == [{"id": oak, "name": "Oak"}]
    assert ">All rounds</p>" in text(client.get(f"/sessions/{s}/projector"))

    round_post(client, s, action="show", number="1")
    state = last_state(projector)
    assert state["shown_round"] == 1 and wall(state) == ["Round one idea"] and state["results"]["total"] == 1
    assert ">Round 1</p>" in text(client.get(f"/sessions/{s}/projector"))
    assert wall(client.get(f"/sessions/{s}/state.json").json) == ["Round one idea"]
    round_post(client, s, action="show", number="2")
    assert wall(last_state(projector)) == ["Round two idea"]

    # Votes too: the bars count the shown round only.
    show(app, cafe, 0)
    from .conftest import option_ids

    vote = phone.emit("vote", {"question_id": cafe["questions"][0], "client_id": cid(),
                               "choices": option_ids(app, cafe["questions"][0])[:1]}, namespace=PHONE, callback=True)
    assert vote["ok"]
    assert client.get(f"/sessions/{s}/state.json").json["results"]["total"] == 1
    round_post(client, s, action="show", number="1")
    assert client.get(f"/sessions/{s}/state.json").json["results"]["total"] == 0


# -- participants' text stays text -----------------------------------------------------------

def test_participant_and_table_text_is_escaped(app, client, cafe):
    s = cafe["id"]
    client.post(f"/sessions/{s}/moderation", data={"moderation": "post", "blocked_words": "alert"})
    make_tables(client, s, f"{EVIL}\nAsh")
    show(app, cafe, NOTES)
    [(evil_table, _, _), _] = tables_of(app, s)
    phone = seated_phone(app, cafe["code"], evil_table)
    held = post_note(phone, cafe["questions"][NOTES], EVIL)
    hidden = post_note(phone, cafe["questions"][NOTES], EVIL + " hidden")
    client.post(f"/sessions/{s}/moderate", data={"note_id": str(hidden), "action": "hide"})
    assert note_row(app, held)["status"] == "held"
    pages = {
        "detail": client.get(f"/sessions/{s}"),
        "print": client.get(f"/sessions/{s}/tables/print"),
        "control": client.get(f"/sessions/{s}/control"),
        "projector": client.get(f"/sessions/{s}/projector"),
        "error": make_tables(client, s, f"{EVIL}\n{EVIL}"),
    }
    for name, r in pages.items():
        html = text(r)
        assert r.status_code == 200, name
        assert "<script>alert" not in html, name
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text(pages["control"])  # the review panel and hidden list
    assert text(pages["control"]).count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text(pages["print"])
