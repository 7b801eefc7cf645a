"""Rate limits: per phone for answers and sockets, per account and address for sign-in, wrong join
codes, joining, uploads and downloads; a phone over a limit is told politely and the room is
never shut out because it shares one address."""
import io
import time

import limits.storage.memory
import pytest

from consult import create_app, limits as consult_limits
from consult.extensions import db
from consult.models import Participant

from .conftest import PASSWORD, make_cafe, make_facilitator, option_ids, socket_client

PHONE = "/phone"
SLOW = "You are sending very fast: wait a moment and try again."

LIMITS = {
    "CONSULT_LIMIT_NOTES": "3 per minute",
    "CONSULT_LIMIT_VOTES": "4 per minute",
    "CONSULT_LIMIT_DOTS": "4 per minute",
    "CONSULT_LIMIT_TABLES": "3 per minute",
    "CONSULT_LIMIT_SOCKETS": 3,
    "CONSULT_LIMIT_SIGNIN_ACCOUNT": "3 per 15 minutes",
    "CONSULT_LIMIT_SIGNIN_IP": "5 per 15 minutes",
    "CONSULT_LIMIT_WRONG_CODES_DEVICE": "3 per 10 minutes",
    "CONSULT_LIMIT_WRONG_CODES_IP": "6 per hour",
    "CONSULT_LIMIT_JOIN_DEVICE": "5 per minute",
    "CONSULT_LIMIT_UPLOADS": "2 per hour",
    "CONSULT_LIMIT_EXPORTS": "2 per minute",
}


@pytest.fixture
def app(tmp_path, monkeypatch):
    """The tests' app with small limits, so each is reached in a few requests."""
    monkeypatch.setenv("CONSULT_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({
        "TESTING": True,
        "CONSULT_ASYNC_MODE": "threading",
        "CONSULT_DATABASE_URL": f"sqlite:///{tmp_path / 'test.db'}",
        "SQLALCHEMY_DATABASE_URI": None,
        "CONSULT_BROADCAST_INTERVAL": 0,
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": "consult.test",
        **LIMITS,
    })
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.engine.dispose()


class Clock:
    """The in-memory limits storage's clock, moved forward by hand instead of sleeping."""

    def __init__(self):
        self.offset = 0.0

    def time(self):
        return time.time() + self.offset


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(limits.storage.memory, "time", clock)
    return clock


def browser(app, address):
    """A browser at address (a venue's phones share the NAT's)."""
    http = app.test_client()
    http.environ_base["REMOTE_ADDR"] = address
    return http


def phone(app, code, http=None, address="10.0.0.1"):
    """A phone at the venue (all of them behind one address): its HTTP client and its socket."""
    http = http or browser(app, address)
    assert http.get(f"/j/{code}").status_code == 200
    sock = socket_client(app, PHONE, http, code=code)
    assert sock.is_connected(PHONE)
    return http, sock


def note(sock, question_id, n):
    return sock.emit("note", {"question_id": question_id, "client_id": f"note-{n:08d}", "text": f"Idea {n}"},
                     namespace=PHONE, callback=True)


def test_notes_per_phone_a_polite_refusal_then_fine_a_minute_later(app, facilitator, clock):
    cafe = make_cafe(app, facilitator)
    notes_q = cafe["questions"][1]
    _, sock = phone(app, cafe["code"])
    acks = [note(sock, notes_q, n) for n in range(4)]
    assert [a["ok"] for a in acks] == [True, True, True, False]
    assert acks[3]["error"] == SLOW
    assert 0 < acks[3]["retry_after"] <= 60
    assert sock.is_connected(PHONE)
    with app.app_context():
        assert db.session.query(Participant).count() == 1
        from consult.models import Note
        assert db.session.query(Note).count() == 3  # the refused one was not stored
    clock.offset = 61
    again = note(sock, notes_q, 3)
    assert again["ok"] is True


def test_a_phone_over_its_limit_does_not_slow_its_neighbours(app, facilitator):
    """Another phone on the same address (the venue's NAT) answers on as before."""
    cafe = make_cafe(app, facilitator)
    notes_q = cafe["questions"][1]
    _, busy = phone(app, cafe["code"])
    _, calm = phone(app, cafe["code"])
    assert [note(busy, notes_q, n)["ok"] for n in range(4)] == [True, True, True, False]
    assert [note(calm, notes_q, 100 + n)["ok"] for n in range(3)] == [True, True, True]


def test_votes_counted_over_socket_and_http_alike(app, facilitator):
    cafe = make_cafe(app, facilitator)
    choice = cafe["questions"][0]
    red, green, _ = option_ids(app, choice)
    http, sock = phone(app, cafe["code"])

    def vote(n, option):
        return {"question_id": choice, "client_id": f"vote-{n:08d}", "choices": [option]}

    assert sock.emit("vote", vote(1, red), namespace=PHONE, callback=True)["ok"]
    assert sock.emit("vote", vote(2, green), namespace=PHONE, callback=True)["ok"]
    assert http.post(f"/j/{cafe['code']}/vote", json=vote(3, red)).status_code == 200
    assert http.post(f"/j/{cafe['code']}/vote", json=vote(4, green)).status_code == 200
    r = http.post(f"/j/{cafe['code']}/vote", json=vote(5, red))
    assert r.status_code == 429
    assert r.get_json() == {"ok": False, "error": SLOW, "retry_after": int(r.headers["Retry-After"])}
    assert 0 < int(r.headers["Retry-After"]) <= 60
    refused = sock.emit("vote", vote(6, red), namespace=PHONE, callback=True)
    assert refused["ok"] is False and refused["error"] == SLOW
    # What counts is the last vote that was stored.
    state = sock.emit("state", namespace=PHONE, callback=True)["state"]
    assert state["answers"][str(choice)]["choices"] == [green]


def test_dots_limited_per_phone(app, facilitator):
    from consult import services
    from consult.models import CafeSession

    cafe = make_cafe(app, facilitator)
    notes_q = cafe["questions"][1]
    _, author = phone(app, cafe["code"])
    made = [note(author, notes_q, n)["id"] for n in range(3)]
    with app.app_context():
        services.set_dots(db.session.get(CafeSession, cafe["id"]), notes_q, "open", 10)
    _, sock = phone(app, cafe["code"])
    acks = [sock.emit("dot", {"question_id": notes_q, "note_id": made[n % 3], "client_id": f"dot-{n:08d}"},
                      namespace=PHONE, callback=True) for n in range(5)]
    assert [a["ok"] for a in acks] == [True] * 4 + [False]
    assert acks[4]["error"] == SLOW


def test_table_moves_limited_per_phone_over_socket_and_http(app, facilitator, clock):
    from consult import services
    from consult.models import CafeSession

    cafe = make_cafe(app, facilitator)
    with app.app_context():
        tables = [t.id for t in services.set_tables(db.session.get(CafeSession, cafe["id"]), ["Oak", "Ash"])]
    http, sock = phone(app, cafe["code"])
    acks = [sock.emit("table", {"table_id": tables[n % 2]}, namespace=PHONE, callback=True) for n in range(3)]
    assert [a["ok"] for a in acks] == [True] * 3
    refused = sock.emit("table", {"table_id": tables[1]}, namespace=PHONE, callback=True)
    assert refused["ok"] is False and refused["error"] == SLOW
    # The same count by HTTP (the socket down), as JSON and as the picker's plain form.
    r = http.post(f"/j/{cafe['code']}/table", json={"table_id": tables[1]})
    assert r.status_code == 429 and r.json["error"] == SLOW and int(r.headers["Retry-After"]) > 0
    page = http.post(f"/j/{cafe['code']}/table", data={"table_id": str(tables[1])}, follow_redirects=True)
    assert SLOW in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(Participant.table_id)) == tables[0]  # the third move stands
    # Another phone in the same room is not held back.
    _, other = phone(app, cafe["code"])
    assert other.emit("table", {"table_id": tables[1]}, namespace=PHONE, callback=True)["ok"]
    clock.offset += 61
    assert sock.emit("table", {"table_id": tables[1]}, namespace=PHONE, callback=True)["ok"]


def test_sockets_per_device_are_capped(app, facilitator):
    cafe = make_cafe(app, facilitator)
    http, first = phone(app, cafe["code"])
    more = [socket_client(app, PHONE, http, code=cafe["code"]) for _ in range(3)]
    assert [s.is_connected(PHONE) for s in more] == [True, True, False]
    # Another phone behind the same address is not affected.
    _, other = phone(app, cafe["code"])
    assert other.is_connected(PHONE)
    # Closing one frees its place.
    first.disconnect(namespace=PHONE)
    assert socket_client(app, PHONE, http, code=cafe["code"]).is_connected(PHONE)


def test_sign_in_throttled_per_account(app, client, fast_passwords):
    make_facilitator(app, "ann@example.org")
    make_facilitator(app, "bob@example.org")
    for _ in range(3):
        assert client.post("/auth/login", data={"email": "ann@example.org", "password": "wrong"}).status_code == 401
    r = client.post("/auth/login", data={"email": "ANN@example.org ", "password": PASSWORD})
    assert r.status_code == 429
    assert b"Too many wrong passwords" in r.data and b"minutes" in r.data
    assert 0 < int(r.headers["Retry-After"]) <= 15 * 60
    # Another account from the same address signs in.
    assert client.post("/auth/login", data={"email": "bob@example.org", "password": PASSWORD}).status_code == 302


def test_sign_in_throttled_per_address(app, fast_passwords):
    make_facilitator(app, "ann@example.org")
    here = browser(app, "192.0.2.7")
    for n in range(5):
        assert here.post("/auth/login", data={"email": f"user{n}@example.org", "password": "x"}).status_code == 401
    assert here.post("/auth/login", data={"email": "ann@example.org", "password": PASSWORD}).status_code == 429
    elsewhere = browser(app, "192.0.2.8")
    assert elsewhere.post("/auth/login", data={"email": "ann@example.org", "password": PASSWORD}).status_code == 302


def test_right_passwords_cost_nothing(app, fast_passwords):
    make_facilitator(app, "ann@example.org")
    for _ in range(8):
        http = app.test_client()
        assert http.post("/auth/login", data={"email": "ann@example.org", "password": PASSWORD}).status_code == 302


def test_wrong_join_codes_cost_per_device_and_right_ones_do_not(app, facilitator):
    cafe = make_cafe(app, facilitator)
    guesser = browser(app, "10.0.0.1")
    guesser.get("/")  # the start page gives it its device cookie
    for code in ("AAAAAA", "BBBBBB", "CCCCCC"):
        assert guesser.post("/", data={"code": code}).status_code == 404
    # Over the limit, a right code gets the same answer as a wrong one: no way to tell them apart.
    for attempt in (lambda: guesser.post("/", data={"code": cafe["code"]}),
                    lambda: guesser.get(f"/j/{cafe['code']}"),
                    lambda: guesser.get("/j/DDDDDD/state.json")):
        r = attempt()
        assert r.status_code == 429
        assert b"Too many codes that match no session" in r.data
        assert int(r.headers["Retry-After"]) > 0
    assert guesser.get("/j/DDDDDD/state.json").get_json()["ok"] is False
    # A neighbour on the same address joins with the right code, as often as a phone needs.
    neighbour = browser(app, "10.0.0.1")
    for _ in range(4):
        assert neighbour.get(f"/j/{cafe['code']}").status_code == 200


def test_wrong_join_codes_cost_per_address_across_devices(app, facilitator):
    cafe = make_cafe(app, facilitator)
    for n in range(6):
        device = browser(app, "10.0.0.9")
        device.get("/")
        assert device.get(f"/j/ZZZZZ{n}").status_code == 404
    fresh = browser(app, "10.0.0.9")
    assert fresh.get(f"/j/{cafe['code']}").status_code == 429
    assert browser(app, "10.0.0.10").get(f"/j/{cafe['code']}").status_code == 200


def test_wrong_codes_over_the_socket_count_too(app, facilitator):
    cafe = make_cafe(app, facilitator)
    http = browser(app, "10.0.0.1")
    assert http.get(f"/j/{cafe['code']}").status_code == 200
    for code in ("AAAAAA", "BBBBBB", "CCCCCC"):
        assert not socket_client(app, PHONE, http, code=code).is_connected(PHONE)
    assert not socket_client(app, PHONE, http, code=cafe["code"]).is_connected(PHONE)
    assert http.get(f"/j/{cafe['code']}").status_code == 429


def test_opening_a_join_link_capped_per_device(app, facilitator):
    cafe = make_cafe(app, facilitator)
    http = browser(app, "10.0.0.1")
    http.get("/")  # its device cookie
    assert [http.get(f"/j/{cafe['code']}").status_code for _ in range(6)] == [200] * 5 + [429]
    assert browser(app, "10.0.0.1").get(f"/j/{cafe['code']}").status_code == 200


def test_uploads_limited_per_account(app, client, facilitator):
    cafe = make_cafe(app, facilitator)

    def upload():
        data = {"what": "import", "file": (io.BytesIO(b"Action,Lead\nPaint the hall,Ann\n"), "actions.csv")}
        return client.post(f"/sessions/{cafe['id']}/actions", data=data, content_type="multipart/form-data")

    assert [upload().status_code for _ in range(3)] == [302, 302, 429]
    # A form with no file in it is not an upload.
    assert client.post(f"/sessions/{cafe['id']}/actions", data={"what": "priorities", "priorities": ""}).status_code == 302


def test_downloads_limited(app, client, facilitator):
    cafe = make_cafe(app, facilitator)
    codes = [client.get(f"/sessions/{cafe['id']}/write-up.{fmt}").status_code for fmt in ("md", "csv", "json")]
    assert codes == [200, 200, 429]


def test_limits_off_for_a_load_test(tmp_path, monkeypatch, fast_passwords):
    monkeypatch.setenv("CONSULT_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("CONSULT_LIMITS", "0")
    app = create_app({"TESTING": True, "CONSULT_ASYNC_MODE": "threading", "CONSULT_BROADCAST_INTERVAL": 0,
                      "CONSULT_DATABASE_URL": f"sqlite:///{tmp_path / 'off.db'}", "SQLALCHEMY_DATABASE_URI": None,
                      "WTF_CSRF_ENABLED": False, "SERVER_NAME": "consult.test", **LIMITS})
    with app.app_context():
        db.create_all()
    user = make_facilitator(app)
    cafe = make_cafe(app, user)
    http, sock = phone(app, cafe["code"])
    assert all(note(sock, cafe["questions"][1], n)["ok"] for n in range(10))
    assert all(socket_client(app, PHONE, http, code=cafe["code"]).is_connected(PHONE) for _ in range(5))
    assert {http.post("/auth/login", data={"email": "fac@example.org", "password": "x"}).status_code
            for _ in range(8)} == {401}


def test_a_storage_out_of_reach_stops_nothing(tmp_path, monkeypatch, caplog):
    """Limits protect the event: with their Redis gone, phones and pages carry on (and it is logged)."""
    monkeypatch.setenv("CONSULT_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({"TESTING": True, "CONSULT_ASYNC_MODE": "threading", "CONSULT_BROADCAST_INTERVAL": 0,
                      "CONSULT_DATABASE_URL": f"sqlite:///{tmp_path / 'gone.db'}", "SQLALCHEMY_DATABASE_URI": None,
                      "WTF_CSRF_ENABLED": False, "SERVER_NAME": "consult.test", **LIMITS,
                      "CONSULT_LIMITS_STORAGE": "redis://127.0.0.1:1/0"})
    with app.app_context():
        db.create_all()
    cafe = make_cafe(app, make_facilitator(app))
    http, sock = phone(app, cafe["code"])
    assert all(note(sock, cafe["questions"][1], n)["ok"] for n in range(5))
    assert http.get(f"/j/{cafe['code']}").status_code == 200
    assert "rate-limit storage failed" in caplog.text


def test_limit_settings_and_storage():
    """Counts are shared through the message queue's Redis, or the storage named; memory otherwise."""
    cfg = {"CONSULT_LIMITS_STORAGE": None, "CONSULT_MESSAGE_QUEUE": None}
    assert consult_limits.storage_uri(cfg) == "memory://"
    assert consult_limits.storage_uri({**cfg, "CONSULT_MESSAGE_QUEUE": "redis://10.1.1.1:6379/0"}) == "redis://10.1.1.1:6379/0"
    assert consult_limits.storage_uri({**cfg, "CONSULT_MESSAGE_QUEUE": "kafka://x",
                                       "CONSULT_LIMITS_STORAGE": "redis://r:6379/2"}) == "redis://r:6379/2"


# -- no participant until a phone answers or picks a table ---------------------------------

def participants(app):
    with app.app_context():
        return db.session.query(Participant).count()


def test_opening_a_join_link_makes_no_participant(app, facilitator):
    cafe = make_cafe(app, facilitator)
    for n in range(300):
        http = browser(app, f"10.1.{n // 250}.{n % 250}")
        assert http.get(f"/j/{cafe['code']}").status_code == 200
        assert http.get(f"/j/{cafe['code']}/state.json").get_json()["answers"] == {}
    assert participants(app) == 0


def test_a_phones_first_answer_makes_its_participant(app, client, facilitator):
    from consult.models import Vote

    cafe = make_cafe(app, facilitator)
    notes_q, choice = cafe["questions"][1], cafe["questions"][0]
    http, sock = phone(app, cafe["code"])
    sock.get_received(PHONE)
    assert participants(app) == 0
    ack = note(sock, notes_q, 1)
    assert ack["ok"] and participants(app) == 1
    # The socket answers as that participant now: it hears of its own note when it is hidden.
    r = client.post(f"/sessions/{cafe['id']}/moderate", data={"note_id": ack["id"], "action": "hide"})
    assert r.status_code == 302
    heard = [e["args"][0] for e in sock.get_received(PHONE) if e["name"] == "note"]
    assert heard and heard[-1]["id"] == ack["id"] and heard[-1]["status"] == "hidden"
    # Later answers, over the socket or HTTP, are the same participant's.
    red = option_ids(app, choice)[0]
    assert sock.emit("vote", {"question_id": choice, "client_id": "vote-00000001", "choices": [red]},
                     namespace=PHONE, callback=True)["ok"]
    assert http.post(f"/j/{cafe['code']}/note", json={"question_id": notes_q, "client_id": "note-http-0001",
                                                      "text": "Over HTTP"}).get_json()["ok"]
    assert participants(app) == 1
    with app.app_context():
        assert db.session.query(Vote).one().participant_id == db.session.query(Participant).one().id


def test_a_first_answer_over_http_then_a_socket(app, facilitator):
    cafe = make_cafe(app, facilitator)
    notes_q = cafe["questions"][1]
    http = browser(app, "10.0.0.1")
    http.get(f"/j/{cafe['code']}")
    r = http.post(f"/j/{cafe['code']}/note", json={"question_id": notes_q, "client_id": "note-http-0001", "text": "Hi"})
    assert r.get_json()["ok"] and participants(app) == 1
    sock = socket_client(app, PHONE, http, code=cafe["code"])
    (state,) = [e["args"][0] for e in sock.get_received(PHONE) if e["name"] == "state"]
    assert [n["text"] for n in state["notes"][str(notes_q)]] == ["Hi"]


def test_a_refused_first_answer_still_leaves_the_phone_able_to_answer(app, facilitator):
    cafe = make_cafe(app, facilitator)
    _, sock = phone(app, cafe["code"])
    bad = sock.emit("note", {"question_id": cafe["questions"][1], "client_id": "note-00000001", "text": "x" * 51},
                    namespace=PHONE, callback=True)
    assert bad["ok"] is False and "limit is 50" in bad["error"]
    assert note(sock, cafe["questions"][1], 2)["ok"]
    assert participants(app) == 1


def test_first_answers_of_one_phone_in_one_batch_make_one_participant(app, facilitator):
    from consult import rules

    cafe = make_cafe(app, facilitator)
    with app.app_context():
        made = rules.enrol([rules.Voter(None, cafe["id"], "token-a"), rules.Voter(None, cafe["id"], "token-a"),
                            rules.Voter(None, cafe["id"], "token-b")])
        db.session.commit()
        again = rules.enrol([rules.Voter(None, cafe["id"], "token-b")])
    assert made[0].id == made[1].id != made[2].id == again[0].id
    assert participants(app) == 2


# -- real servers: the refusal a client reads, and counts shared between processes ----------

@pytest.mark.slow
@pytest.mark.timeout(120)
def test_two_processes_share_a_phones_counts_and_refuse_extra_sockets(tmp_path):
    """Two `consult serve` processes on one Redis: a phone's notes on one and on the other count
    together; a socket beyond the device's limit is refused with a message the page can show."""
    import re
    import uuid

    import requests
    import socketio

    from .live_server import LiveServer
    from .test_e2e import stop_cleanly

    env = {"CONSULT_DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}", "CONSULT_MESSAGE_QUEUE": REDIS,
           "CONSULT_CHANNEL": f"test-limits-{uuid.uuid4().hex[:10]}", "CONSULT_SECRET_KEY": uuid.uuid4().hex,
           "CONSULT_LIMIT_NOTES": "3 per minute", "CONSULT_LIMIT_SOCKETS": "2"}
    a, b = LiveServer(tmp_path / "a", env=env), LiveServer(tmp_path / "b", env=env)
    code = a.demo()
    servers, clients = [], []
    try:
        for server in (a, b):
            servers.append(server.start())
        http = requests.Session()
        page = http.get(f"{a.url}/j/{code}", timeout=10).text
        csrf = re.search(r'data-csrf="([^"]+)"', page).group(1)
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())

        def connect():
            sio, seen = socketio.Client(reconnection=False), {}
            sio.on("state", lambda data: seen.setdefault("state", data), namespace=PHONE)
            sio.on("connect_error", lambda data: seen.setdefault("error", data), namespace=PHONE)
            clients.append(sio)
            try:
                sio.connect(a.url, namespaces=[PHONE], auth={"code": code}, headers={"Cookie": cookie},
                            transports=["websocket"], wait_timeout=10)
            except socketio.exceptions.ConnectionError:
                pass
            return sio, seen

        sock, seen = connect()
        deadline = time.monotonic() + 10
        while "state" not in seen and time.monotonic() < deadline:
            time.sleep(0.05)
        question = seen["state"]["question"]["id"]

        def payload(n):
            return {"question_id": question, "client_id": f"note-{n:08d}", "text": f"Idea {n}"}

        assert [sock.call("note", payload(n), namespace=PHONE, timeout=10)["ok"] for n in range(2)] == [True, True]
        assert http.post(f"{b.url}/j/{code}/note", json=payload(2), headers={"X-CSRFToken": csrf}).json()["ok"]
        r = http.post(f"{b.url}/j/{code}/note", json=payload(3), headers={"X-CSRFToken": csrf})
        assert r.status_code == 429 and r.json()["error"] == SLOW and int(r.headers["Retry-After"]) > 0
        ack = sock.call("note", payload(4), namespace=PHONE, timeout=10)
        assert ack["ok"] is False and ack["error"] == SLOW

        second, _ = connect()
        assert second.connected
        third, seen = connect()
        assert not third.connected
        assert seen["error"]["message"] == consult_limits.TOO_MANY_SOCKETS
    finally:
        for sio in clients:
            sio.disconnect()
        for server in servers:
            stop_cleanly(server)


REDIS = "redis://127.0.0.1:6379/0"
