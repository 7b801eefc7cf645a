"""End to end: a real `consult serve` process, a facilitator's screens and phones as Socket.IO clients.

Run once per async mode the server supports in production (eventlet and gevent):
the facilitator runs questions from the control socket, phones vote and post notes,
the projector follows the results, and after a SIGKILL restart nothing acknowledged
is lost or doubled.
"""
import re
import socket
import sqlite3
import threading
import time
import uuid

import pytest
import requests
import socketio

from .live_server import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]

PHONES = 5
WAIT = 5  # seconds: the bound on any single wait for the server
RESULTS_WITHIN = 1.0  # seconds from the last ack to the projector showing it


def cookie_header(http):
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies)


def new_client_id():
    return uuid.uuid4().hex


class Peer:
    """A Socket.IO client on one namespace that records every event it receives."""

    def __init__(self, name, url, namespace, auth, cookie):
        self.name = name
        self.url = url
        self.namespace = namespace
        self.auth = auth
        self.cookie = cookie
        self.events = []  # (event name, data, time received)
        self.cond = threading.Condition()
        # Reconnect quickly, as a phone's page would after the server comes back.
        self.sio = socketio.Client(reconnection_delay=0.2, reconnection_delay_max=0.5, randomization_factor=0)
        self.sio.on("*", self._record, namespace=namespace)
        for event in ("connect", "disconnect", "connect_error"):
            self.sio.on(event, self._recorder(event), namespace=namespace)

    def _recorder(self, event):
        return lambda *args: self._record(event, *args)

    def _record(self, event, *args):
        with self.cond:
            self.events.append((event, args[0] if args else None, time.monotonic()))
            self.cond.notify_all()

    def connect(self):
        self.sio.connect(
            self.url, namespaces=[self.namespace], auth=self.auth, headers={"Cookie": self.cookie},
            transports=["websocket"], wait_timeout=WAIT,
        )
        assert self.sio.transport() == "websocket"
        return self

    def close(self):
        """Disconnect, or stop reconnecting if the server is gone."""
        try:
            self.sio.shutdown()
        except Exception:  # already gone: nothing to clean up
            pass

    def call(self, event, data):
        return self.sio.call(event, data, namespace=self.namespace, timeout=WAIT)

    def mark(self):
        """A position in the event log, to wait for events received after it."""
        with self.cond:
            return len(self.events)

    def since(self, mark, name=None):
        with self.cond:
            return [(e, d) for e, d, _ in self.events[mark:] if name is None or e == name]

    def wait_for(self, name, predicate=lambda data: True, since=0, timeout=WAIT):
        """The first `name` event after `since` whose data satisfies predicate; fails at the deadline."""
        return self.find(name, predicate, since, timeout)[1]

    def find(self, name, predicate=lambda data: True, since=0, timeout=WAIT):
        """Like wait_for, but returns (position in the log, data)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, (event, data, _) in enumerate(self.events[since:], since):
                    if event == name and predicate(data):
                        return i, data
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(e, d) for e, d, _ in self.events[since:]]
                    raise AssertionError(f"{self.name}: no matching {name!r} event within {timeout:.2f}s; got {seen!r}")
                self.cond.wait(left)


def ok(ack):
    assert isinstance(ack, dict) and ack.get("ok") is True, ack
    return ack


def refused(ack, *words):
    assert isinstance(ack, dict) and ack.get("ok") is False, ack
    for word in words:
        assert word in ack["error"], ack
    return ack


def bars(result):
    """{option id or scale value: (count, percent)} from a vote result."""
    return {b.get("id", b.get("value")): (b["count"], b["percent"]) for b in result["bars"]}


def stop_cleanly(live):
    """Stop the server with Ctrl+C: it must exit 0, and have logged no traceback all along."""
    proc = live.proc
    live.stop()
    log = live.log.read_text()
    print(f"server log ({live.async_mode}):\n{log}")  # shown by pytest when the test fails
    assert "Traceback" not in log, log
    assert proc is None or proc.returncode == 0, f"exit status {proc.returncode}:\n{log}"


@pytest.fixture(params=["eventlet", "gevent"])
def server(request, tmp_path):
    live = LiveServer(tmp_path / "instance", async_mode=request.param)
    live.code = live.demo()
    live.start()
    try:
        yield live
    finally:
        stop_cleanly(live)


@pytest.fixture
def peers():
    """Every Socket.IO client a test makes; all disconnected afterwards, whatever happened."""
    made = []
    yield made
    for peer in made:
        peer.close()


def test_live_event_survives_a_hard_restart(server, peers):
    code = server.code

    # -- the facilitator signs in and opens the control page and the projector --
    facilitator = server.login()
    page = facilitator.get(server.url + "/sessions/", timeout=WAIT).text
    session_id = int(re.search(r'href="/sessions/(\d+)/control"', page).group(1))
    fac_cookie = cookie_header(facilitator)

    def screen(view):
        peer = Peer(view, server.url, "/facilitator", {"session_id": session_id, "view": view}, fac_cookie)
        peers.append(peer)
        return peer.connect()

    control, projector = screen("control"), screen("projector")
    first = control.wait_for("state")
    questions = [q["id"] for q in first["questions"]]
    assert len(questions) == 8  # five open notes, yes/no, scale, and a trajectory grid
    notes_q, other_notes_q, yesno_q, scale_q = questions[0], questions[1], questions[5], questions[6]
    assert first["current"]["id"] == notes_q and first["current"]["kind"] == "notes"
    projector.wait_for("state", lambda s: s["session_id"] == session_id)

    # A projector cannot drive the session.
    refused(projector.call("control", {"action": "open", "question_id": yesno_q}), "control page")

    # -- phones join: the page sets the participant cookie, then the socket connects with it --
    phones, phone_http = [], []
    for i in range(PHONES):
        http = requests.Session()
        assert http.get(f"{server.url}/j/{code}", timeout=WAIT).status_code == 200
        phone = Peer(f"phone{i}", server.url, "/phone", {"code": code}, cookie_header(http))
        peers.append(phone)
        phone.connect()
        phones.append(phone)
        phone_http.append(http)
    for phone in phones:
        state = phone.wait_for("state")
        assert state["session"]["code"] == code
        assert state["question"]["id"] == notes_q
        assert state["answers"] == {} and state["notes"] == {}
    control.wait_for("state", lambda s: s["joined"] == PHONES and s["connected"] == PHONES)

    # -- yes/no: open it from the control socket; every phone is told --
    marks = [p.mark() for p in phones]
    ok(control.call("control", {"action": "open", "question_id": yesno_q}))
    for phone, mark in zip(phones, marks):
        question = phone.wait_for("question", lambda q: q and q["id"] == yesno_q, since=mark)
    assert question["kind"] == "yesno" and question["is_open"]
    options = {o["text"]: o["id"] for o in question["options"]}
    assert list(options) == ["Yes", "No", "Not sure"]
    yes, no, unsure = options["Yes"], options["No"], options["Not sure"]
    projector.wait_for("state", lambda s: s["current"]["id"] == yesno_q)

    # From here on a phone must hear nothing about other people's votes.
    quiet = [p.mark() for p in phones]

    first_choice = [yes, no, no, unsure, yes]
    yesno_ids = [new_client_id() for _ in phones]
    vote_ids, yesno_receipts = [], []
    for phone, choice, client_id in zip(phones, first_choice, yesno_ids):
        ack = ok(phone.call("vote", {"question_id": yesno_q, "client_id": client_id, "choices": [choice]}))
        vote_ids.append(ack["id"])
        yesno_receipts.append(ack["receipt"])
    assert len(set(vote_ids)) == PHONES
    # Phone 2 changes its mind: a new submission, the same vote row.
    yesno_ids[2] = new_client_id()
    changed = ok(phones[2].call("vote", {"question_id": yesno_q, "client_id": yesno_ids[2], "choices": [yes]}))
    assert changed["id"] == vote_ids[2] and changed["receipt"] != yesno_receipts[2]
    yesno_receipts[2] = changed["receipt"]
    # Phone 0 retries its vote (a lost ack): same client_id, no second vote, the same receipt.
    retried = ok(phones[0].call("vote", {"question_id": yesno_q, "client_id": yesno_ids[0], "choices": [yes]}))
    assert retried["id"] == vote_ids[0] and retried["receipt"] == yesno_receipts[0]
    # Bad ballots are refused with a message for the person.
    refused(phones[1].call("vote", {"question_id": yesno_q, "client_id": new_client_id(), "choices": [yes, no]}),
            "only one")
    refused(phones[1].call("vote", {"question_id": yesno_q, "client_id": "short", "choices": [yes]}), "malformed")
    refused(phones[1].call("note", {"question_id": yesno_q, "client_id": new_client_id(), "text": "hello"}),
            "votes, not notes")
    last_ack = time.monotonic()

    final_yesno = [yes, no, yes, unsure, yes]
    want = {yes: (3, 60.0), no: (1, 20.0), unsure: (1, 20.0)}

    def shows(result, total, expected):
        return result is not None and result["total"] == total and not result.get("hidden") and bars(result) == expected

    projector.wait_for("state", lambda s: s["current"]["id"] == yesno_q and shows(s.get("results"), 5, want),
                       timeout=last_ack + RESULTS_WITHIN - time.monotonic())
    control.wait_for("state", lambda s: s["current"]["id"] == yesno_q and shows(s.get("results"), 5, want),
                     timeout=last_ack + RESULTS_WITHIN - time.monotonic())

    # The projector respects "hide": it then shows how many answered, not the bars.
    ok(control.call("control", {"action": "hide", "question_id": yesno_q}))
    hidden = projector.wait_for("state", lambda s: s["current"]["id"] == yesno_q and not s["revealed"])["results"]
    assert hidden == {"question_id": yesno_q, "kind": "yesno", "total": 5, "hidden": True}
    mark = projector.mark()
    ok(control.call("control", {"action": "reveal", "question_id": yesno_q}))
    projector.wait_for("state", lambda s: s["revealed"] and shows(s.get("results"), 5, want), since=mark)

    # -- closing: a late vote is refused, clearly, and changes nothing --
    mark = phones[4].mark()
    ok(control.call("control", {"action": "close", "question_id": yesno_q}))
    closed = phones[4].wait_for("question", lambda q: q["id"] == yesno_q and not q["is_open"], since=mark)
    assert closed["options"] == question["options"]
    refused(phones[4].call("vote", {"question_id": yesno_q, "client_id": new_client_id(), "choices": [no]}),
            "closed", "not saved")

    # -- the 1-5 scale --
    ok(control.call("control", {"action": "open", "question_id": scale_q}))
    scale = phones[0].wait_for("question", lambda q: q["id"] == scale_q)
    assert (scale["kind"], scale["scale_min"], scale["scale_max"]) == ("scale", 1, 5)
    values = [4, 5, 3, 4, 2]
    scale_ids = [new_client_id() for _ in phones]
    scale_receipts = [ok(phone.call("vote", {"question_id": scale_q, "client_id": client_id, "value": value}))["receipt"]
                      for phone, value, client_id in zip(phones, values, scale_ids)]
    refused(phones[0].call("vote", {"question_id": scale_q, "client_id": new_client_id(), "value": 6}), "from 1 to 5")
    last_ack = time.monotonic()
    want_scale = {1: (0, 0.0), 2: (1, 20.0), 3: (1, 20.0), 4: (2, 40.0), 5: (1, 20.0)}
    result = projector.wait_for(
        "state", lambda s: s["current"]["id"] == scale_q and shows(s.get("results"), 5, want_scale),
        timeout=last_ack + RESULTS_WITHIN - time.monotonic(),
    )["results"]
    assert result["mean"] == 3.6

    # -- open notes: several per phone, a retry, and one too long --
    ok(control.call("control", {"action": "open", "question_id": other_notes_q}))
    for phone in phones:
        note_q = phone.wait_for("question", lambda q: q["id"] == other_notes_q)
    assert note_q["kind"] == "notes" and note_q["max_length"] == 280
    notes = {}  # phone index -> [(client_id, text)]
    for i, phone in enumerate(phones):
        for n in range(2 if i % 2 else 1):
            client_id, text = new_client_id(), f"Note {n} from phone {i}: jobs with training"
            ok(phone.call("note", {"question_id": other_notes_q, "client_id": client_id, "text": text}))
            notes.setdefault(i, []).append((client_id, text))
    # Notes on the first question, open since the demo was made, though it is no longer shown.
    early = (new_client_id(), "A city where young people stay")
    ok(phones[3].call("note", {"question_id": notes_q, "client_id": early[0], "text": early[1]}))
    # A retry of a stored note returns it and stores nothing new.
    client_id, text = notes[1][0]
    again = ok(phones[1].call("note", {"question_id": other_notes_q, "client_id": client_id, "text": text}))
    too_long = refused(
        phones[2].call("note", {"question_id": other_notes_q, "client_id": new_client_id(), "text": "x" * 281}),
        "281 characters", "limit is 280", "nothing was lost",
    )
    assert "id" not in too_long
    refused(phones[2].call("note", {"question_id": other_notes_q, "client_id": new_client_id(), "text": "   "}),
            "Write a note")
    last_ack = time.monotonic()
    all_texts = [text for i in sorted(notes) for _, text in notes[i]]
    result = projector.wait_for(
        "state",
        lambda s: s["current"]["id"] == other_notes_q and s["results"]["total"] == len(all_texts),
        timeout=last_ack + RESULTS_WITHIN - time.monotonic(),
    )["results"]
    assert [n["text"] for n in result["notes"]] == all_texts
    assert again["id"] in [n["id"] for n in result["notes"]]

    # Phones heard of questions being shown, opened and closed, and of nothing else.
    time.sleep(0.5)  # two broadcast intervals: a stray per-vote push would have arrived by now
    for phone, mark in zip(phones, quiet):
        heard = phone.since(mark)
        assert {event for event, _ in heard} <= {"question"}, heard
        assert all("results" not in data for _, data in heard)

    # -- SIGKILL the server mid-event and bring it back on the same port and instance --
    marks = {peer.name: peer.mark() for peer in peers}
    server.restart(hard=True)

    def reconnected(peer):
        """(log position of the drop, the state the peer receives on its automatic reconnect).

        The server pushes that state from its connect handler, so it may arrive just before the
        namespace's connect acknowledgement: wait for both before using the socket.
        """
        dropped, _ = peer.find("disconnect", since=marks[peer.name])
        peer.wait_for("connect", since=dropped, timeout=10)
        return dropped, peer.wait_for("state", since=dropped)

    for i, phone in enumerate(phones):
        _, state = reconnected(phone)
        assert state["question"]["id"] == other_notes_q
        answers = state["answers"]  # JSON object keys: question ids as strings
        # Each with the receipt its phone was given when it counted, to show again after a reload.
        assert answers[str(yesno_q)] == {"choices": [final_yesno[i]], "value": None, "client_id": yesno_ids[i],
                                         "receipt": yesno_receipts[i]}
        assert answers[str(scale_q)] == {"choices": [], "value": values[i], "client_id": scale_ids[i],
                                         "receipt": scale_receipts[i]}
        assert set(answers) == {str(yesno_q), str(scale_q)}
        mine = {int(q): [(n["client_id"], n["text"]) for n in ns] for q, ns in state["notes"].items()}
        want_notes = {other_notes_q: notes[i]}
        if i == 3:
            want_notes[notes_q] = [early]
        assert mine == want_notes
    dropped, _ = reconnected(control)
    reconnected(projector)
    # The new process counts each phone once.
    control.wait_for("state", lambda s: s["connected"] == PHONES, since=dropped)
    assert all(s["connected"] <= PHONES for _, s in control.since(dropped, "state"))

    # The control view, question by question, shown from the control socket after the restart.
    def control_state(question_id):
        ok(control.call("control", {"action": "show", "question_id": question_id}))
        state = facilitator.get(f"{server.url}/sessions/{session_id}/state.json?view=control", timeout=WAIT).json()
        assert state["current"]["id"] == question_id
        return state

    state = control_state(yesno_q)
    assert state["joined"] == PHONES
    assert state["results"]["total"] == 5 and bars(state["results"]) == want
    assert {q["id"]: q["is_open"] for q in state["questions"]}[yesno_q] is False
    state = control_state(scale_q)
    assert state["results"]["total"] == 5 and bars(state["results"]) == want_scale and state["results"]["mean"] == 3.6
    state = control_state(other_notes_q)
    assert [n["text"] for n in state["results"]["notes"]] == all_texts
    state = control_state(notes_q)
    assert [n["text"] for n in state["results"]["notes"]] == [early[1]]
    # The phone's HTTP fallback agrees with its socket.
    assert phone_http[3].get(f"{server.url}/j/{code}/state.json", timeout=WAIT).json()["answers"][str(scale_q)][
        "value"] == values[3]

    # -- and the database file itself, read with sqlite3 --
    db = sqlite3.connect(f"file:{server.instance / 'consult.db'}?mode=ro", uri=True, timeout=WAIT)
    try:
        count = lambda sql, *args: db.execute(sql, args).fetchone()[0]  # noqa: E731
        assert count("SELECT count(*) FROM participant WHERE session_id = ?", session_id) == PHONES
        assert count("SELECT count(*) FROM vote WHERE question_id = ?", yesno_q) == PHONES
        assert count("SELECT count(*) FROM vote WHERE question_id = ?", scale_q) == PHONES
        assert count("SELECT count(*) FROM vote") == 2 * PHONES
        assert count("SELECT count(*) FROM vote_choice") == PHONES  # one choice per yes/no vote
        assert count("SELECT count(*) FROM note WHERE question_id = ?", other_notes_q) == len(all_texts)
        assert count("SELECT count(*) FROM note") == len(all_texts) + 1
        assert count("SELECT count(DISTINCT client_id) FROM note") == len(all_texts) + 1
        stored = {cid for (cid,) in db.execute("SELECT client_id FROM vote")}
        assert stored == set(yesno_ids) | set(scale_ids)
        choices = dict(db.execute(
            "SELECT vote.client_id, vote_choice.option_id FROM vote JOIN vote_choice ON vote_choice.vote_id = vote.id"
        ))
        assert choices == dict(zip(yesno_ids, final_yesno))
    finally:
        db.close()


def test_eventlet_connection_limit(tmp_path):
    """CONSULT_MAX_CONNECTIONS reaches eventlet's WSGI server: past it, a request waits for a free slot."""
    live = LiveServer(tmp_path / "instance", async_mode="eventlet", env={"CONSULT_MAX_CONNECTIONS": "2"})
    live.start()
    held = []
    try:
        # The readiness probe's connection is closed; hold both slots with idle keep-alive connections.
        for _ in range(2):
            s = socket.create_connection(("127.0.0.1", live.port), timeout=WAIT)
            s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            s.settimeout(WAIT)
            assert s.recv(64).startswith(b"HTTP/1.1 200")
            held.append(s)
        with pytest.raises(requests.Timeout):
            requests.get(live.url + "/", timeout=1)
        held.pop().close()
        assert requests.get(live.url + "/", timeout=WAIT).status_code == 200
    finally:
        for s in held:
            s.close()
        stop_cleanly(live)


def test_many_answers_over_http_at_once(server):
    """Phones whose socket is down answer by HTTP: 60 at once, more than the database pool's 15
    connections, wait for the writer together, holding no connection meanwhile; each gets its
    own ack, and its note is stored."""
    phones = []
    for _ in range(60):
        http = requests.Session()
        page = http.get(f"{server.url}/j/{server.code}", timeout=WAIT).text
        phones.append((http, re.search(r'data-csrf="([^"]+)"', page).group(1)))
    state = phones[0][0].get(f"{server.url}/j/{server.code}/state.json", timeout=WAIT).json()
    question_id = state["question"]["id"]
    start, acks = threading.Barrier(len(phones)), {}

    def post(i):
        http, token = phones[i]
        start.wait()
        r = http.post(f"{server.url}/j/{server.code}/note", headers={"X-CSRFToken": token}, timeout=30,
                      json={"question_id": question_id, "client_id": f"http-note-{i:04d}", "text": f"Note {i}"})
        acks[i] = (r.status_code, r.json())

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(phones))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(40)
    # A request that hung would have timed out (30 s) and left no ack.
    assert len(acks) == len(phones) and all(code == 200 and ack["ok"] for code, ack in acks.values()), acks
    db = sqlite3.connect(server.instance / "consult.db")
    try:
        stored = dict(db.execute("SELECT client_id, id FROM note WHERE client_id LIKE 'http-note-%'"))
    finally:
        db.close()
    assert {f"http-note-{i:04d}": ack["id"] for i, (_, ack) in acks.items()} == stored
    # The server still serves a new phone at once.
    assert requests.get(f"{server.url}/j/{server.code}", timeout=WAIT).status_code == 200
