"""The participant's side of World Café: choosing a table (QR link, socket, plain POST), rounds, own notes' status."""
import re
import uuid

import pytest

from consult import services
from consult.extensions import db
from consult.models import CafeSession, Note, Participant, Vote

from .conftest import events, join_phone, make_cafe, option_ids

PHONE = "/phone"
NOT_FOUND = "That table was not found."


@pytest.fixture(autouse=True)
def cheap_passwords(fast_passwords):
    """Cheap password hashes: these tests sign in often."""


def cid():
    return "c-" + uuid.uuid4().hex


def add_tables(app, session_id, *names):
    with app.app_context():
        session = db.session.get(CafeSession, session_id)
        return [t.id for t in services.set_tables(session, list(names))]


@pytest.fixture
def tables(app, cafe):
    return add_tables(app, cafe["id"], "Table 1", "Table 2", "Housing & <transport>")


@pytest.fixture
def other(app, facilitator):
    """Another session, with a table of its own."""
    other = make_cafe(app, facilitator, title="Other café")
    other["tables"] = add_tables(app, other["id"], "Elsewhere")
    return other


def seats(app):
    """The table of every participant, in the order they joined."""
    with app.app_context():
        return [p.table_id for p in db.session.query(Participant).order_by(Participant.id)]


def page(http, code):
    r = http.get(f"/j/{code}")
    assert r.status_code == 200
    return r.get_data(as_text=True)


def opening_tag(html, element_id):
    return re.search(rf'<[a-z]+ [^>]*\bid="{element_id}"[^>]*>', html).group(0)


# -- the table's QR code: /j/<code>?t=<table id> ---------------------------------------------------

def test_table_link_seats_the_phone_and_redirects_to_the_clean_link(app, cafe, tables):
    http = app.test_client()
    r = http.get(f"/j/{cafe['code']}?t={tables[1]}")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/j/{cafe['code']}")
    assert seats(app) == [tables[1]]
    html = page(http, cafe["code"])
    assert "Table: Table 2" in html
    assert " hidden" in opening_tag(html, "picker")  # seated: straight to the question
    # Scanning another table's code moves the phone; it stays one participant.
    http.get(f"/j/{cafe['code']}?t={tables[0]}")
    assert seats(app) == [tables[0]]


def test_table_link_with_a_lower_case_code_goes_to_the_canonical_link(app, cafe, tables):
    http = app.test_client()
    r = http.get(f"/j/{cafe['code'].lower()}?t={tables[0]}")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/j/{cafe['code']}")
    assert seats(app) == [tables[0]]


def test_table_of_another_session_is_ignored_and_the_phone_asks(app, cafe, tables, other):
    http = app.test_client()
    r = http.get(f"/j/{cafe['code']}?t={other['tables'][0]}")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/j/{cafe['code']}")
    assert seats(app) == []  # no table taken: no participant made
    html = page(http, cafe["code"])
    assert "hidden" not in opening_tag(html, "picker")
    assert "Elsewhere" not in html


@pytest.mark.parametrize("t", ["", "abc", "-1", "0", "1.5", "9" * 40, "%00", "none", "1e3", "<script>"])
def test_garbage_table_ids_are_ignored(app, cafe, tables, t):
    http = app.test_client()
    r = http.get(f"/j/{cafe['code']}", query_string={"t": t})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/j/{cafe['code']}")
    assert seats(app) == []  # no table taken: no participant made
    # A phone already seated keeps its table.
    http.get(f"/j/{cafe['code']}?t={tables[2]}")
    http.get(f"/j/{cafe['code']}", query_string={"t": t})
    assert seats(app) == [tables[2]]


def test_table_link_of_a_session_without_tables_just_joins(app, cafe):
    http = app.test_client()
    r = http.get(f"/j/{cafe['code']}?t=1")
    assert r.status_code == 302
    assert seats(app) == []  # no table taken: no participant made
    assert page(http, cafe["code"])


# -- the phone page --------------------------------------------------------------------------------

def test_phone_asks_which_table_first(app, cafe, tables):
    http = app.test_client()
    html = page(http, cafe["code"])
    assert "Which table are you at?" in html
    assert re.search(r"<legend><h1 id=\"picker-h\" tabindex=\"-1\">Which table are you at\?</h1></legend>", html)
    for table_id, name in zip(tables, ("Table 1", "Table 2", "Housing &amp; &lt;transport&gt;")):
        assert f'name="table_id" value="{table_id}" class="choice table-choice">{name}</button>' in html
    assert "I'm not at a table</button>" in html
    assert "<transport>" not in html.split('<script type="application/json"')[0]  # names are escaped
    assert "hidden" not in opening_tag(html, "picker")
    assert 'class="picking"' in opening_tag(html, "app")
    # "Table: none · Change" would only repeat the question: it shows once the phone has answered.
    assert "Change<span class=\"sr\"> table</span>" in html and 'aria-controls="picker"' in html
    assert " hidden" in opening_tag(html, "table-bar") and " hidden" in opening_tag(html, "where")
    assert "Table: none" in html
    assert 'data-table-url="/j/%s/table"' % cafe["code"] in html


def test_page_without_tables_looks_as_before(app, cafe):
    html = page(app.test_client(), cafe["code"])
    assert " hidden" in opening_tag(html, "where")
    assert " hidden" in opening_tag(html, "picker")
    assert "picking" not in opening_tag(html, "app")
    assert "Round" not in html.split('<script type="application/json"')[0].replace("Round 0", "")


def test_page_shows_the_round_once_rounds_started(app, cafe):
    with app.app_context():
        services.start_round(db.session.get(CafeSession, cafe["id"]))
        services.start_round(db.session.get(CafeSession, cafe["id"]))
    http = app.test_client()
    html = page(http, cafe["code"])
    assert "hidden" not in opening_tag(html, "where")
    assert re.search(r'<span id="round-now" class="round-now">Round 2</span>', html)
    assert " hidden" in opening_tag(html, "table-bar")  # no tables: no table control
    assert http.get(f"/j/{cafe['code']}/state.json").json["session"]["round"] == 2


# -- the table event ------------------------------------------------------------------------------

def table(sock, data):
    return sock.emit("table", data, namespace=PHONE, callback=True)


def test_table_event_seats_and_unseats(app, cafe, tables):
    _, phone = join_phone(app, cafe["code"])
    assert table(phone, {"table_id": tables[0]}) == {"ok": True, "table_id": tables[0]}
    assert seats(app) == [tables[0]]
    assert table(phone, {"table_id": str(tables[1])}) == {"ok": True, "table_id": tables[1]}  # a form's string
    assert seats(app) == [tables[1]]
    assert table(phone, {"table_id": None}) == {"ok": True, "table_id": None}
    assert seats(app) == [None]
    # A reconnect's snapshot has it.
    table(phone, {"table_id": tables[2]})
    phone.get_received(PHONE)
    phone.disconnect(PHONE)
    phone.connect(PHONE, auth={"code": cafe["code"]})
    (state,) = events(phone, "state", PHONE)
    assert state["table_id"] == tables[2]
    assert state["tables"] == [{"id": tables[0], "name": "Table 1"}, {"id": tables[1], "name": "Table 2"},
                               {"id": tables[2], "name": "Housing & <transport>"}]


@pytest.mark.parametrize("data", [
    None, "1", [1], {}, {"table_id": "abc"}, {"table_id": True}, {"table_id": 1.0}, {"table_id": 2**70},
    {"table_id": -3}, {"table_id": ["1"]}, {"table_id": {"id": 1}}, {"table_id": "9" * 40}, {"table_id": 999_999},
])
def test_bad_table_events_are_refused_and_the_socket_lives(app, cafe, tables, data):
    _, phone = join_phone(app, cafe["code"])
    table(phone, {"table_id": tables[0]})
    assert table(phone, data) == {"ok": False, "error": NOT_FOUND}
    assert seats(app) == [tables[0]]
    assert phone.is_connected(PHONE)
    assert table(phone, {"table_id": tables[1]})["ok"]


def test_table_of_another_session_is_refused(app, cafe, tables, other):
    _, phone = join_phone(app, cafe["code"])
    assert table(phone, {"table_id": other["tables"][0]}) == {"ok": False, "error": NOT_FOUND}
    assert seats(app) == []  # no table taken: no participant made


def test_answers_after_moving_record_the_new_table(app, cafe, tables):
    choice, notes_q = cafe["questions"][0], cafe["questions"][1]
    red, green, _ = option_ids(app, choice)
    http, phone = join_phone(app, cafe["code"])
    with app.app_context():
        services.start_round(db.session.get(CafeSession, cafe["id"]))
    table(phone, {"table_id": tables[0]})
    assert phone.emit("vote", {"question_id": choice, "client_id": cid(), "choices": [red]}, namespace=PHONE, callback=True)["ok"]
    first = phone.emit("note", {"question_id": notes_q, "client_id": cid(), "text": "At one"}, namespace=PHONE, callback=True)

    # Round 2: the participant moves to another table in one tap.
    with app.app_context():
        services.start_round(db.session.get(CafeSession, cafe["id"]))
    assert table(phone, {"table_id": tables[1]})["ok"]
    assert phone.emit("vote", {"question_id": choice, "client_id": cid(), "choices": [green]}, namespace=PHONE, callback=True)["ok"]
    second = phone.emit("note", {"question_id": notes_q, "client_id": cid(), "text": "At two"}, namespace=PHONE, callback=True)
    # The plain HTTP fallback records the new table too.
    third = http.post(f"/j/{cafe['code']}/note", json={"question_id": notes_q, "client_id": cid(), "text": "By HTTP"}).json
    with app.app_context():
        notes = {n.id: (n.table_id, n.round) for n in db.session.query(Note)}
        assert notes == {first["id"]: (tables[0], 1), second["id"]: (tables[1], 2), third["id"]: (tables[1], 2)}
        (vote,) = db.session.query(Vote).all()
        assert (vote.table_id, vote.round) == (tables[1], 2)


def test_every_socket_of_the_phone_moves(app, cafe, tables):
    """Two tabs (or a reconnect beside a stale socket): the one that did not move answers for the new table too."""
    http, phone = join_phone(app, cafe["code"])
    other_tab = app.extensions["socketio"].test_client(app, namespace=PHONE, flask_test_client=http, auth={"code": cafe["code"]})
    table(phone, {"table_id": tables[2]})
    ack = other_tab.emit("note", {"question_id": cafe["questions"][1], "client_id": cid(), "text": "hi"},
                         namespace=PHONE, callback=True)
    with app.app_context():
        assert db.session.get(Note, ack["id"]).table_id == tables[2]



def test_a_move_made_elsewhere_counts_at_once(app, client, facilitator, cafe, tables):
    """The table is read from the database with each answer: a move made through another server
    process, or a table the facilitator removed, counts for the next note on this socket."""
    http, phone = join_phone(app, cafe["code"])
    table(phone, {"table_id": tables[0]})
    with app.app_context():  # as another process would: straight to the database
        participant = db.session.query(Participant).one()
        services.choose_table(participant, tables[2])
    moved = phone.emit("note", {"question_id": cafe["questions"][1], "client_id": cid(), "text": "moved"},
                       namespace=PHONE, callback=True)
    # The facilitator takes away the (still empty) first and second tables... and the third.
    with app.app_context():
        assert db.session.get(Note, moved["id"]).table_id == tables[2]
        db.session.delete(db.session.get(Note, moved["id"]))
        db.session.commit()
    r = client.post(f"/sessions/{cafe['id']}/tables", data={"tables": ""})
    assert r.status_code == 302
    unseated = phone.emit("note", {"question_id": cafe["questions"][1], "client_id": cid(), "text": "no table"},
                          namespace=PHONE, callback=True)
    assert unseated["ok"], unseated
    with app.app_context():
        assert db.session.get(Note, unseated["id"]).table_id is None


# -- the plain POST route ------------------------------------------------------------------------

def test_table_route_json(app, cafe, tables, other):
    http, phone = join_phone(app, cafe["code"])
    url = f"/j/{cafe['code']}/table"
    r = http.post(url, json={"table_id": tables[1]})
    assert r.status_code == 200 and r.json == {"ok": True, "table_id": tables[1]}
    assert seats(app) == [tables[1]]
    # The open socket answers for the new table at once.
    ack = phone.emit("note", {"question_id": cafe["questions"][1], "client_id": cid(), "text": "hi"},
                     namespace=PHONE, callback=True)
    with app.app_context():
        assert db.session.get(Note, ack["id"]).table_id == tables[1]
    for bad in ({"table_id": other["tables"][0]}, {"table_id": "x"}, {}, [tables[0]], {"table_id": True}):
        r = http.post(url, json=bad)
        assert r.status_code == 400 and r.json == {"ok": False, "error": NOT_FOUND}
    assert seats(app) == [tables[1]]
    r = http.post(url, json={"table_id": None})
    assert r.json == {"ok": True, "table_id": None} and seats(app) == [None]


def test_table_route_needs_a_participant(app, cafe, tables):
    stranger = app.test_client()
    r = stranger.post(f"/j/{cafe['code']}/table", json={"table_id": tables[0]})
    assert r.status_code == 403 and r.json == {"ok": False, "error": "Open the join link again to take part."}
    r = stranger.post("/j/ZZZZZZ/table", json={"table_id": tables[0]})
    assert r.status_code == 404 and r.json["ok"] is False
    assert stranger.post(f"/j/{cafe['code']}/table", data={"table_id": str(tables[0])}).status_code == 302
    with app.app_context():
        assert db.session.query(Participant).count() == 0


def test_table_route_form_post_works_without_script(app, cafe, tables, other):
    http = app.test_client()
    page(http, cafe["code"])
    url = f"/j/{cafe['code']}/table"
    r = http.post(url, data={"table_id": str(tables[2])}, follow_redirects=True)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and r.request.path == f"/j/{cafe['code']}"
    assert "You are at Housing &amp; &lt;transport&gt;." in html
    assert "Table: Housing &amp; &lt;transport&gt;" in html and " hidden" in opening_tag(html, "picker")

    # "I'm not at a table": the phone stops asking, and says where it is.
    r = http.post(url, data={"table_id": "none"}, follow_redirects=True)
    html = r.get_data(as_text=True)
    assert seats(app) == [None]
    assert "You are not at a table." in html and "Table: none" in html
    assert " hidden" in opening_tag(html, "picker") and 'data-no-table="1"' in html
    # Scanning a table's code later seats it again.
    http.get(f"/j/{cafe['code']}?t={tables[0]}")
    html = page(http, cafe["code"])
    assert 'data-no-table=""' in html and "Table: Table 1" in html

    r = http.post(url, data={"table_id": str(other["tables"][0])}, follow_redirects=True)
    assert "That table was not found. Choose your table again." in r.get_data(as_text=True)
    assert seats(app) == [tables[0]]


def test_table_route_enforces_csrf(app, cafe, tables):
    app.config["WTF_CSRF_ENABLED"] = True
    http = app.test_client()
    html = page(http, cafe["code"])
    url = f"/j/{cafe['code']}/table"
    r = http.post(url, json={"table_id": tables[0]})
    assert r.status_code == 400 and r.json == {"ok": False, "error": "This page is out of date: reload it and send again."}
    assert http.post(url, data={"table_id": str(tables[0])}).status_code == 400
    assert http.post(url, json={"table_id": tables[0]}, headers={"X-CSRFToken": "forged"}).status_code == 400
    assert seats(app) == []  # no table taken: no participant made
    token = re.search(r'data-csrf="([^"]+)"', html).group(1)
    r = http.post(url, json={"table_id": tables[0]}, headers={"X-CSRFToken": token})
    assert r.json == {"ok": True, "table_id": tables[0]}
    form_token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    assert http.post(url, data={"table_id": str(tables[1]), "csrf_token": form_token}).status_code == 302
    assert seats(app) == [tables[1]]


# -- rounds and the status of one's own notes ----------------------------------------------------

def test_phone_state_and_live_events_carry_the_round(app, client, cafe, tables):
    http, phone = join_phone(app, cafe["code"])
    phone.get_received(PHONE)
    with app.app_context():
        session = db.session.get(CafeSession, cafe["id"])
        services.start_round(session)
    assert events(phone, "round", PHONE) == [{"round": 1}]
    assert http.get(f"/j/{cafe['code']}/state.json").json["session"]["round"] == 1
    assert phone.emit("state", namespace=PHONE, callback=True)["state"]["session"]["round"] == 1


def test_own_notes_show_their_status(app, cafe, tables):
    notes_q = cafe["questions"][1]
    http, phone = join_phone(app, cafe["code"])
    with app.app_context():
        services.set_moderation(db.session.get(CafeSession, cafe["id"]), "post", "rubbish")

    def post(text):
        return phone.emit("note", {"question_id": notes_q, "client_id": cid(), "text": text}, namespace=PHONE, callback=True)

    shown = post("More buses")
    held = post("Rubbish collection")  # a blocked word: held, whatever the mode
    assert (shown["status"], held["status"]) == ("visible", "held")
    with app.app_context():
        services.set_moderation(db.session.get(CafeSession, cafe["id"]), "pre", "")
    waiting = post("Safer crossings")
    assert waiting["status"] == "pending"
    by_http = http.post(f"/j/{cafe['code']}/note", json={"question_id": notes_q, "client_id": cid(), "text": "Benches"}).json
    assert by_http["status"] == "pending"

    phone.get_received(PHONE)
    with app.app_context():
        services.moderate(db.session.get(Note, shown["id"]), "hide", "facilitator")
    # Only the author's phone hears of it.
    _, bystander = join_phone(app, cafe["code"])
    bystander.get_received(PHONE)
    assert events(phone, "note", PHONE) == [{"id": shown["id"], "question_id": notes_q, "text": "More buses",
                                             "status": "hidden"}]
    assert bystander.get_received(PHONE) == []

    statuses = {n["id"]: n["status"] for n in http.get(f"/j/{cafe['code']}/state.json").json["notes"][str(notes_q)]}
    assert statuses == {shown["id"]: "hidden", held["id"]: "held", waiting["id"]: "pending", by_http["id"]: "pending"}


def test_phone_script_words_note_statuses_kindly():
    """The words a participant reads: never that a note matched a blocked word."""
    from pathlib import Path

    script = (Path(__file__).resolve().parent.parent / "static" / "phone.js").read_text()
    assert "Waiting for approval by the facilitator" in script
    assert "Hidden by the facilitator" in script
    assert "✓ Your note was received; it will show once the facilitator approves it." in script
    assert not re.search(r"block|banned|offensive", script.split("NOTE_STATUS")[1].split("};")[0], re.I)
