"""Scale-out: two `consult serve` processes sharing PostgreSQL and a Redis message queue.

Phones are connected to one process, the facilitator's control page and projector to the
other: what the facilitator does reaches the phones, and what the phones send shows live
on the projector, each answer stored once.
"""
import re
import subprocess
import time
import uuid

import pytest
import redis
import requests
from sqlalchemy import create_engine, text

from .live_server import LiveServer, free_port
from .test_e2e import WAIT, Peer, bars, cookie_header, new_client_id, ok, refused, stop_cleanly
from .test_postgres import PG

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

REDIS = "redis://127.0.0.1:6379/0"
PHONES = 6


def two_servers(tmp_path, async_mode, queue):
    """Two servers on one database schema, one Redis channel and one secret key: (a, b, code, database URL)."""
    schema = "s_" + uuid.uuid4().hex[:10]
    admin = create_engine(PG)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    env = {
        "CONSULT_DATABASE_URL": f"{PG}?options=-csearch_path%3D{schema}",
        "CONSULT_MESSAGE_QUEUE": queue,
        "CONSULT_CHANNEL": f"test-{schema}",  # apart from any other run sharing this Redis
        "CONSULT_SECRET_KEY": uuid.uuid4().hex,
    }
    a = LiveServer(tmp_path / "a", async_mode=async_mode, env=env)
    b = LiveServer(tmp_path / "b", async_mode=async_mode, env=env)
    code = a.demo()
    servers = []
    try:
        for server in (a, b):
            server.start()
            servers.append(server)
        yield a, b, code, env["CONSULT_DATABASE_URL"]
    finally:
        for server in servers:
            stop_cleanly(server)
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=["eventlet", "gevent"])
def pair(request, tmp_path):
    yield from two_servers(tmp_path, request.param, REDIS)


def test_phones_on_one_process_projector_on_another(pair):
    a, b, code, db_url = pair
    peers = []
    try:
        facilitator = b.login()
        page = facilitator.get(b.url + "/sessions/", timeout=WAIT).text
        session_id = int(re.search(r'href="/sessions/(\d+)/control"', page).group(1))
        cookie = cookie_header(facilitator)
        control = Peer("control", b.url, "/facilitator", {"session_id": session_id, "view": "control"}, cookie)
        projector = Peer("projector", b.url, "/facilitator", {"session_id": session_id, "view": "projector"}, cookie)
        peers += [control, projector]
        first = control.connect().wait_for("state")
        projector.connect().wait_for("state")
        questions = [q["id"] for q in first["questions"]]
        notes_q, yesno_q = questions[0], questions[5]

        phones = []
        for i in range(PHONES):
            http = requests.Session()
            assert http.get(f"{a.url}/j/{code}", timeout=WAIT).status_code == 200
            phone = Peer(f"phone{i}", a.url, "/phone", {"code": code}, cookie_header(http))
            peers.append(phone)
            phone.connect().wait_for("state")
            phones.append(phone)
        # Presence is shared: the control page on b counts the phones connected to a.
        control.wait_for("state", lambda s: s["joined"] == PHONES and s["connected"] == PHONES)

        # The facilitator on b opens a question: the phones on a are told.
        marks = [p.mark() for p in phones]
        ok(control.call("control", {"action": "open", "question_id": yesno_q}))
        options = []
        for phone, mark in zip(phones, marks):
            question = phone.wait_for("question", lambda q: q and q["id"] == yesno_q, since=mark)
            options = [o["id"] for o in question["options"]]

        # Phones on a vote (one retries, one changes its mind): the projector on b shows it live.
        mark = projector.mark()
        picks = [options[0]] * 4 + [options[1]] * 2
        ids = []
        for phone, pick in zip(phones, picks):
            cid = new_client_id()
            ids.append(cid)
            ok(phone.call("vote", {"question_id": yesno_q, "client_id": cid, "choices": [pick]}))
        ok(phones[0].call("vote", {"question_id": yesno_q, "client_id": ids[0], "choices": [options[0]]}))
        ok(phones[1].call("vote", {"question_id": yesno_q, "client_id": new_client_id(), "choices": [options[1]]}))
        state = projector.wait_for(
            "state", lambda s: s.get("results", {}).get("total") == PHONES
            and bars(s["results"])[options[1]][0] == 3, since=mark, timeout=2,
        )
        assert bars(state["results"])[options[0]] == (3, 50.0)

        # Notes posted on a appear on b's projector wall, and a closed question refuses on a.
        ok(control.call("control", {"action": "open", "question_id": notes_q}))
        for phone in phones:
            phone.wait_for("question", lambda q: q and q["id"] == notes_q)
        # The facilitator on b sets up 3 tables; phone 0 sits at the third in another tab, served
        # by b: its socket on a answers for the new table at once.
        page = facilitator.get(f"{b.url}/sessions/{session_id}", timeout=WAIT).text
        form = re.search(r'<form method="post" action="/sessions/%d/tables".*?</form>' % session_id, page, re.S).group(0)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        saved = facilitator.post(f"{b.url}/sessions/{session_id}/tables", data={"csrf_token": csrf, "tables": "3"},
                                 timeout=WAIT)
        assert "Saved: 3 tables." in saved.text
        tab = Peer("phone0-tab", b.url, "/phone", {"code": code}, phones[0].cookie)
        peers.append(tab)
        table_id = tab.connect().wait_for("state")["tables"][2]["id"]
        assert ok(tab.call("table", {"table_id": table_id}))["table_id"] == table_id
        tab.close()
        mark = projector.mark()
        for i, phone in enumerate(phones[:3]):
            ok(phone.call("note", {"question_id": notes_q, "client_id": new_client_id(), "text": f"Note {i} <b>"}))
        state = projector.wait_for("state", lambda s: s.get("results", {}).get("total") == 3, since=mark, timeout=2)
        assert sorted(n["text"] for n in state["results"]["notes"]) == ["Note 0 <b>", "Note 1 <b>", "Note 2 <b>"]
        ok(control.call("control", {"action": "close", "question_id": notes_q}))
        phones[0].wait_for("question", lambda q: q and q["id"] == notes_q and not q["is_open"])
        refused(phones[0].call("note", {"question_id": notes_q, "client_id": new_client_id(), "text": "late"}), "closed")

        # Phones leaving a are seen leaving on b.
        for phone in phones[3:]:
            phone.close()
        control.wait_for("state", lambda s: s["connected"] == 3)
    finally:
        for peer in peers:
            peer.close()

    engine = create_engine(db_url)
    with engine.connect() as conn:
        votes = conn.execute(text("SELECT count(*), count(DISTINCT participant_id) FROM vote WHERE question_id = :q"),
                             {"q": yesno_q}).one()
        notes = conn.execute(text("SELECT count(*), count(DISTINCT client_id) FROM note")).one()
        moved = conn.execute(text("SELECT table_id FROM note WHERE text = 'Note 0 <b>'")).scalar()
    engine.dispose()
    assert tuple(votes) == (PHONES, PHONES)
    assert tuple(notes) == (3, 3)
    assert moved == table_id


class RedisServer:
    """A throwaway redis-server of this test's own (the shared one on 6379 is never restarted)."""

    def __init__(self, tmp_path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = tmp_path
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.02)
            finally:
                client.close()

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture(params=["eventlet", "gevent"])
def own_redis_pair(request, tmp_path):
    server = RedisServer(tmp_path).start()
    try:
        for servers in two_servers(tmp_path, request.param, server.url):
            yield servers, server
    finally:
        server.kill()


def shows(phone, question_id, since):
    """Whether phone was told question_id is current after since: by "question", or by a whole "state"."""
    for event, data in phone.since(since):
        if event == "question" and data and data["id"] == question_id:
            return True
        if event == "state" and data.get("question") and data["question"]["id"] == question_id:
            return True
    return False


def until(check, deadline, what):
    while not check():
        assert time.monotonic() < deadline, what()
        time.sleep(0.02)


def test_after_redis_restarts_every_process_resyncs(own_redis_pair):
    (a, b, code, db_url), queue = own_redis_pair
    peers = []
    try:
        facilitator = b.login()
        page = facilitator.get(b.url + "/sessions/", timeout=WAIT).text
        session_id = int(re.search(r'href="/sessions/(\d+)/control"', page).group(1))
        cookie = cookie_header(facilitator)
        control = Peer("control", b.url, "/facilitator", {"session_id": session_id, "view": "control"}, cookie)
        projector_b = Peer("projector b", b.url, "/facilitator", {"session_id": session_id, "view": "projector"}, cookie)
        projector_a = Peer("projector a", a.url, "/facilitator", {"session_id": session_id, "view": "projector"}, cookie)
        peers += [control, projector_b, projector_a]
        questions = [q["id"] for q in control.connect().wait_for("state")["questions"]]
        projector_b.connect().wait_for("state")
        projector_a.connect().wait_for("state")
        yesno_q, scale_q = questions[5], questions[1]

        phones = []
        for i in range(PHONES):
            server = (a, b)[i % 2]
            http = requests.Session()
            assert http.get(f"{server.url}/j/{code}", timeout=WAIT).status_code == 200
            phone = Peer(f"phone{i} on {'ab'[i % 2]}", server.url, "/phone", {"code": code}, cookie_header(http))
            peers.append(phone)
            phones.append(phone.connect())
            phone.wait_for("state")
        on_a = phones[0::2]
        control.wait_for("state", lambda s: s["connected"] == PHONES)
        ok(control.call("control", {"action": "open", "question_id": yesno_q}))
        question = on_a[0].wait_for("question", lambda q: q and q["id"] == yesno_q)
        yes = question["options"][0]["id"]
        ok(phones[1].call("vote", {"question_id": yesno_q, "client_id": new_client_id(), "choices": [yes]}))
        projector_a.wait_for("state", lambda s: s.get("results", {}).get("total") == 1)

        queue.kill()
        # While Redis is gone each process goes on alone: phones on a vote (acked, stored), one leaves.
        for phone in on_a:
            ok(phone.call("vote", {"question_id": yesno_q, "client_id": new_client_id(), "choices": [yes]}))
        on_a[-1].close()
        phones.remove(on_a[-1])
        connected = len(phones)
        time.sleep(0.5)  # b's projector, told nothing, still shows 1 vote
        assert projector_b.since(0, "state")[-1][1]["results"]["total"] == 1

        queue.start()
        deadline = time.monotonic() + 2
        engine = create_engine(db_url)
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT count(*) FROM vote WHERE question_id = :q"), {"q": yesno_q}).scalar()
        engine.dispose()
        assert stored == 1 + len(on_a)

        def current(screen):
            states = screen.since(0, "state")
            return states[-1][1] if states else {}

        # With nothing else happening, every screen catches up: the votes it missed, and presence.
        for screen in (control, projector_a, projector_b):
            until(lambda: current(screen)["results"]["total"] == stored and current(screen)["connected"] == connected,
                  deadline, lambda: f"{screen.name}: {current(screen)}")

        # Once more, and this time the facilitator switches question the moment Redis is back:
        # before the other process has even reconnected, yet every phone on both must hear it.
        queue.kill()
        queue.start()
        deadline = time.monotonic() + 2
        marks = [p.mark() for p in phones]
        ok(control.call("control", {"action": "open", "question_id": scale_q}))
        for phone, mark in zip(phones, marks):
            until(lambda: shows(phone, scale_q, mark), deadline,
                  lambda: f"{phone.name} missed the switch: {phone.since(mark)}")
        for screen in (control, projector_a, projector_b):
            until(lambda: current(screen)["current"]["id"] == scale_q and current(screen)["connected"] == connected,
                  deadline, lambda: f"{screen.name}: {current(screen)}")
    finally:
        for peer in peers:
            peer.close()
