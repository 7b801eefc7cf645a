"""Fuzzing every socket event and every form and JSON route: bad input gets a clear refusal, never
a server error, a missing ack or a traceback.

The socket events are read from the namespaces' Events objects, so a new event is fuzzed without
a change here. Hypothesis draws payloads of wrong types, missing and extra keys, huge and negative
numbers, NUL, lone surrogates, deep nesting, long texts and wrong numbers of arguments, mixed with
real ids so that the deeper rules run too. The same runs on PostgreSQL (CONSULT_TEST_POSTGRES),
which refuses NUL in text and numbers past its columns where SQLite takes them.
"""
import json
import logging
import re
import uuid
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from consult import cafe as cafe_rules, rules, services
from consult.extensions import db
from consult.facilitator import events as facilitator_events
from consult.host import events as host_events
from consult.models import CafeSession
from consult.participant import events as participant_events

from .conftest import PASSWORD, join_phone, login, make_cafe, make_facilitator, post_note
from .test_postgres import pg_app  # noqa: F401 (a fixture)

NAMESPACES = {events.sockets.namespace: events.sockets
              for events in (participant_events, host_events, facilitator_events)}
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                database=None)

# -- what goes in ------------------------------------------------------------------------------

NASTY = ["", " ", "\x00", "a\x00b", "\ud800", "x\udfffy", "\ud83d", "\x01\x0b\x1b\x7f", "\ufffe\uffff",
         "=1+1", "<script>alert(1)</script>", "é" * 3000, "0", "1", "-1", "99999999999999999999", "none", "all",
         "open", "close", "show", "reveal", "hide", "restore", "approve", "highlight", "unhighlight", "start",
         "control", "projector", "X", "O", "\u202e", "../../etc/passwd", "%00", "\r\n\r\n"]
HUGE = [0, -1, 2**31 - 1, 2**31, 2**32, 2**63 - 1, 2**63, -2**63 - 1, 10**40, 10**400]
KEYS = ["question_id", "client_id", "choices", "value", "text", "note_id", "dot_id", "table_id", "action",
        "number", "dots", "round", "target_id", "source_ids", "on", "row_id", "horizon_id", "code", "token",
        "session_id", "view"]


def nested(depth, inner=1):
    value = inner
    for i in range(depth):
        value = [value] if i % 2 else {"text": value}
    return value


def json_values(ids):
    """Any JSON value, leaning to the ids, names and texts consult's events use."""
    ints = st.one_of(st.sampled_from(ids), st.sampled_from(HUGE), st.integers())
    texts = st.one_of(st.sampled_from(NASTY), st.text(st.characters(codec=None, exclude_categories=()), max_size=20),
                      st.sampled_from([str(i) for i in ids]))
    scalars = st.one_of(st.none(), st.booleans(), ints, texts,
                        st.floats(allow_nan=True, allow_infinity=True))
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=4)), inner, max_size=5)), max_leaves=10)


def payloads(ids):
    """Event payloads: objects with consult's keys (real ids among the junk), anything at all, or deep nesting."""
    values = json_values(ids)
    client_ids = st.one_of(st.text("abcXYZ019_-", min_size=8, max_size=64), values)
    shaped = st.fixed_dictionaries({}, optional={
        **{key: values for key in KEYS}, "client_id": client_ids,
        "question_id": st.one_of(st.sampled_from(ids), values), "note_id": st.one_of(st.sampled_from(ids), values),
        "choices": st.one_of(st.lists(st.sampled_from(ids), max_size=3), values),
    })
    deep = st.sampled_from([30, 31, 32, 33, 40, 200]).map(nested)
    return st.one_of(shaped, shaped, values, deep)


def argument_lists(ids):
    """The arguments of an event: usually one payload, but none, two or three as well."""
    one = payloads(ids)
    return st.one_of(one.map(lambda p: [p]), one.map(lambda p: [p]), st.lists(one, max_size=3))


# -- the world the events land in --------------------------------------------------------------

class Errors(logging.Handler):
    """Every error logged anywhere (a handler's traceback, python-socketio's, the writer's)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def take(self):
        out = [f"{r.name}: {r.getMessage()} {r.exc_info[1]!r}" if r.exc_info else f"{r.name}: {r.getMessage()}"
               for r in self.records]
        self.records.clear()
        return out


@pytest.fixture(autouse=True)
def cheap_passwords(fast_passwords):
    """Cheap password hashes: every test signs in."""


@pytest.fixture
def errors():
    handler = Errors()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


def build_world(app, owner_id):
    """A café with every kind of question, tables, notes, a trajectory grid and dot-voting open; with
    a phone, a table host, the control page and the projector connected."""
    cafe = make_cafe(app, owner_id)
    with app.app_context():
        session = db.session.get(CafeSession, cafe["id"])
        services.set_tables(session, ["Oak", "Ash"])
        grid = services.save_question(session, None, {"kind": "trajectory", "text": "Where next?",
                                                      "rows": "Housing\nTransport", "horizons": rules.horizons_text()})
        dotted = services.save_question(session, None, {"kind": "notes", "text": "Ideas", "max_length": 280})
        for q in (grid, dotted):
            services.control(session, "open", q.id)
        table = session.tables[0]
        who = services.join(session)
        cafe_rules.choose_table(who, table.id)
        db.session.commit()
        voter = rules.Voter(who.id, session.id)
        notes = [post_note(voter, {"question_id": dotted.id, "client_id": f"seed-{i:06d}", "text": f"Idea {i}"})[0]
                 for i in range(3)]
        services.set_dots(session, dotted.id, "open", 3)
        services.control(session, "open", cafe["questions"][1])
        ids = sorted({*cafe["questions"], grid.id, dotted.id, *notes, table.id, session.id,
                      *(o.id for q in session.questions for o in q.options),
                      *(r.id for r in grid.rows), *(h.id for h in grid.horizons)})
        token, table_id = table.host_token, table.id
    phone_http, phone = join_phone(app, cafe["code"])
    assert phone.emit("table", {"table_id": table_id}, namespace="/phone", callback=True)["ok"]
    socketio = app.extensions["socketio"]
    host = socketio.test_client(app, namespace="/host", auth={"token": token})
    screens = app.test_client()
    login(screens)
    control = socketio.test_client(app, namespace="/facilitator", flask_test_client=screens,
                                   auth={"session_id": cafe["id"], "view": "control"})
    projector = socketio.test_client(app, namespace="/facilitator", flask_test_client=screens,
                                     auth={"session_id": cafe["id"], "view": "projector"})
    sockets = {"/phone": [phone], "/host": [host], "/facilitator": [control, projector]}
    for ns, socks in sockets.items():
        assert all(s.is_connected(ns) for s in socks), ns
    return {"cafe": cafe, "ids": ids, "sockets": sockets, "token": token, "phone_http": phone_http,
            "screens": screens}


def event_names(namespace):
    """Every event a namespace handles (read from its Events), an unknown one and python-socketio's own names."""
    events = NAMESPACES[namespace]
    names = [name for name, _ in events.handlers if name not in ("connect", "disconnect", "*")]
    return sorted({*names, *events.queued_handlers}) + ["no-such-event", "connect", "disconnect", "\x00", "é" * 200]


def test_every_handled_event_is_fuzzed():
    """The lists come from the Events objects: the phone's answers, the host's and the control page's events."""
    assert {"vote", "note", "dot", "undot", "table", "state"} <= set(event_names("/phone"))
    assert {"notes", "add", "edit", "moderate", "merge", "summary"} <= set(event_names("/host"))
    assert {"control", "round", "moderate", "dots"} <= set(event_names("/facilitator"))


def emit_and_check(world, errors, namespace, event, args, callback=True):
    for sock in world["sockets"][namespace]:
        ack = sock.emit(event, *args, namespace=namespace, callback=callback)
        where = (namespace, event, args)
        assert sock.is_connected(namespace), where
        if callback:
            assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool), (where, ack)  # None: no ack at all
            assert ack["ok"] or ack.get("error") not in (None, rules.FAILED), (where, ack)
        else:
            assert ack is None, where
        assert errors.take() == [], where


def fuzz_sockets(app, owner_id, errors, namespace, examples):
    world = build_world(app, owner_id)
    ids = world["ids"]
    errors.take()

    @settings(FUZZ, max_examples=examples)
    @given(event=st.sampled_from(event_names(namespace)), args=argument_lists(ids), callback=st.booleans())
    def run(event, args, callback):
        emit_and_check(world, errors, namespace, event, args, callback or event != "connect")

    run()
    return world


@pytest.mark.parametrize("namespace", sorted(NAMESPACES))
def test_socket_events_never_fail_on_bad_input(app, facilitator, errors, namespace):
    world = fuzz_sockets(app, facilitator, errors, namespace, 200)
    # The sockets still work afterwards: each namespace answers a well-formed request.
    ack = world["sockets"]["/phone"][0].emit("state", namespace="/phone", callback=True)
    assert ack["ok"] is True


RAW = {  # Socket.IO packets no client library would send: (type, id and data, whether an ack is asked for)
    "100,000 deep": ("2", "1" + "[" * 100_000 + "]" * 100_000, True),
    "deep object": ("2", '1["vote",' + '{"a":' * 5000 + "1" + "}" * 5000 + "]", True),
    "not JSON": ("2", '1["vote",{nope}]', True),
    "a number of 5000 digits": ("2", '1["vote",' + "9" * 5000 + "]", True),
    "no event name": ("2", "1[]", True),
    "a number for a name": ("2", "1[42,{}]", True),
    "a list for a name": ("2", '1[["vote"],{}]', True),
    "an object for data": ("2", '1{"vote":1}', True),
    "a string for data": ("2", '1"vote"', True),
    "NUL in the name": ("2", '1["vo\\u0000te",{}]', True),
    "a lone surrogate": ("2", '1["note",{"question_id":1,"client_id":"abcdefgh1","text":"\\ud800"}]', True),
    "a binary attachment": ("51-", '1["vote",{"_placeholder":true,"num":0}]', True),
    "no ack asked": ("2", '["vote",' + "[" * 3000 + "]" * 3000 + "]", False),
}


@pytest.mark.parametrize("namespace", sorted(NAMESPACES))
def test_raw_packets_are_answered_and_the_socket_kept(app, facilitator, errors, namespace):
    world = build_world(app, facilitator)
    server = app.extensions["socketio"].server
    errors.take()
    for case, (kind, body, answered), sock in [(c, RAW[c], s) for c in sorted(RAW) for s in world["sockets"][namespace]]:
        sock.acks = None
        server._handle_eio_message(sock.eio_sid, kind + namespace + "," + body)
        if kind == "51-":
            server._handle_eio_message(sock.eio_sid, b"\x00\x01")
        assert errors.take() == [], case
        if answered:
            assert sock.acks is not None and sock.acks["args"][0]["ok"] is False, (case, sock.acks)
            assert sock.acks["args"][0]["error"] != rules.FAILED
        else:
            assert sock.acks is None
        assert sock.is_connected(namespace)
        ack = sock.emit("no-such-event", namespace=namespace, callback=True)
        assert ack["ok"] is False and "no-such-event" in ack["error"]


# -- routes ------------------------------------------------------------------------------------

FIELDS = ["email", "password", "remember", "confirm", "code", "title", "date", "venue", "description", "start",
          "source", "kind", "text", "options", "multiple", "allow_unsure", "scale_min", "scale_max", "min_label",
          "max_label", "max_length", "rows", "horizons", "image_alt", "remove_image", "tables", "moderation",
          "blocked_words", "action", "question_id", "number", "note_id", "dots", "direction", "what", "priorities",
          "action_id", "theme", "sub_theme", "lead", "outcome", "table_id", "opt_text-0", "opt_alt-0", "opt_had-0"]
SKIP = {"static", "auth.logout", "facilitator.delete", "writeup.download", "writeup.shared_download"}


def routes(app):
    return sorted((rule for rule in app.url_map.iter_rules() if rule.endpoint not in SKIP), key=lambda r: r.rule)


def form_texts(ids):
    # Form fields travel as UTF-8: a lone surrogate cannot be sent in one (only its replacement).
    return st.one_of(st.sampled_from([n for n in NASTY if not re.search("[\ud800-\udfff]", n)]),
                     st.sampled_from([str(i) for i in ids]), st.text(max_size=20))


def path_values(ids, world):
    return st.one_of(st.sampled_from([str(i) for i in ids] + [world["cafe"]["code"], world["token"]]),
                     st.sampled_from([str(h) for h in HUGE[:-1]]), st.sampled_from(NASTY[:12]).filter(bool))


def requests(app, world):
    ids = world["ids"]
    return st.fixed_dictionaries({
        "rule": st.sampled_from(routes(app)),
        "path": st.dictionaries(st.sampled_from(["session_id", "question_id", "table_id", "token", "code", "name",
                                                 "fmt"]), path_values(ids, world)),
        "query": st.dictionaries(st.sampled_from(["t", "next", "view", "kind"]), form_texts(ids), max_size=2),
        "form": st.dictionaries(st.sampled_from(FIELDS), form_texts(ids), max_size=8),
        "json": st.one_of(st.none(), payloads(ids).map(lambda p: json.dumps(p)),
                          st.sampled_from(["[" * 100_000 + "]" * 100_000, '{"a":' * 40 + "1" + "}" * 40, "{nope",
                                           "9" * 5000, '"\\ud800"', '{"text": "\\u0000"}'])),
        "who": st.sampled_from(["facilitator", "phone", "nobody"]),
    })


def url_for_rule(rule, path, world):
    defaults = {"session_id": str(world["cafe"]["id"]), "question_id": str(world["ids"][0]), "table_id": "1",
                "token": world["token"], "code": world["cafe"]["code"], "name": "0" * 32 + ".png", "fmt": "csv"}
    url = rule.rule
    for arg in rule.arguments:
        value = path.get(arg, defaults.get(arg, "1"))
        if "int:" in url.split("<" + arg)[0][-5:] or f"<int:{arg}>" in url:
            value = value if value.isdigit() else defaults[arg]
        # A lone surrogate goes as the bytes it would be (not UTF-8): what a hostile client can send.
        url = re.sub(rf"<(?:\w+:)?{arg}>", quote(value.encode("utf-8", "surrogatepass"), safe=""), url)
    return url


def fuzz_routes(app, world, errors, examples):
    clients = {"facilitator": world["screens"], "phone": world["phone_http"], "nobody": app.test_client()}

    @settings(FUZZ, max_examples=examples)
    @given(req=requests(app, world))
    def run(req):
        rule = req["rule"]
        url = url_for_rule(rule, req["path"], world)
        client = clients[req["who"]]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method == "GET":
                response = client.get(url, query_string=req["query"])
            elif req["json"] is not None:
                response = client.post(url, data=req["json"], content_type="application/json")
                if response.status_code == 400:
                    assert response.is_json and response.json["ok"] is False, (url, response.data[:200])
            else:
                response = client.post(url, data=req["form"], query_string=req["query"])
            assert response.status_code < 500, (method, url, req)
            assert errors.take() == [], (method, url, req)

    run()


def test_routes_never_fail_on_bad_input(app, facilitator, errors):
    world = build_world(app, facilitator)
    errors.take()
    fuzz_routes(app, world, errors, 300)


# -- the cases that broke, each named ---------------------------------------------------------

@pytest.mark.parametrize("url", ["/host/abcdefgh%00", "/j/ABC%00DE", "/shared/" + "a" * 20 + "%00", "/j/%00/state.json",
                                 "/pictures/%00.png", "/host/" + "a" * 10 + "%01"])
def test_nul_in_a_url_part_is_a_400(app, client, url):
    response = client.get(url)
    assert response.status_code == 400
    assert b"cannot be one of consult" in response.data


@pytest.mark.parametrize("data", [{"email": "a\x00@example.org", "password": "x"},
                                  {"email": "fac@example.org", "password": "pass\x00word"}])
def test_nul_in_a_sign_in_form_is_a_400(app, client, data):
    response = client.post("/auth/login", data=data)
    assert response.status_code == 400
    assert b"NUL" in response.data


@pytest.mark.parametrize("route", ["vote", "note", "dot", "undot", "table"])
def test_a_very_deep_json_body_is_a_clear_400(app, cafe, route):
    http, _ = join_phone(app, cafe["code"])
    response = http.post(f"/j/{cafe['code']}/{route}", data="[" * 100_000 + "]" * 100_000,
                         content_type="application/json")
    assert response.status_code == 400
    assert response.json == {"ok": False, "error": "That request is nested too deeply to be one of consult's."}


def test_a_note_with_nul_control_characters_and_a_lone_surrogate_is_stored_clean(app, cafe):
    http, phone = join_phone(app, cafe["code"])
    ack = phone.emit("note", {"question_id": cafe["questions"][1], "client_id": "c-" + uuid.uuid4().hex,
                              "text": "a\x00b\x01c\ud800d\r\ne"}, namespace="/phone", callback=True)
    assert ack["ok"] is True, ack
    with app.app_context():
        from consult.models import Note

        assert db.session.get(Note, ack["id"]).text == "abcd\ne"


def test_wrong_argument_counts_are_malformed_not_failed(app, facilitator, errors):
    world = build_world(app, facilitator)
    errors.take()
    for namespace, events in NAMESPACES.items():
        takes_one = [name for name, _ in events.handlers if name not in ("connect", "disconnect", "*", "state")]
        for event in takes_one + list(events.queued_handlers):
            for args in [(), ({}, {}), ({"a": 1}, "extra", 3)]:
                for sock in world["sockets"][namespace]:
                    ack = sock.emit(event, *args, namespace=namespace, callback=True)
                    assert ack == {"ok": False, "error": rules.MALFORMED}, (event, args, ack)
    assert errors.take() == []


# -- PostgreSQL: NUL and numbers past a column, where SQLite would have taken them -------------

@pytest.fixture
def pg_owner(pg_app):
    pg_app.config["WTF_CSRF_ENABLED"] = False  # as on SQLite (conftest): the fuzz reaches the forms' rules
    return make_facilitator(pg_app)


@pytest.mark.parametrize("namespace", sorted(NAMESPACES))
def test_socket_events_on_postgres(pg_app, pg_owner, errors, namespace):
    fuzz_sockets(pg_app, pg_owner, errors, namespace, 40)


def test_routes_on_postgres(pg_app, pg_owner, errors):
    world = build_world(pg_app, pg_owner)
    errors.take()
    fuzz_routes(pg_app, world, errors, 60)


def test_nul_and_huge_numbers_on_postgres(pg_app, pg_owner, errors):
    world = build_world(pg_app, pg_owner)
    errors.take()
    code, token = world["cafe"]["code"], world["token"]
    client = pg_app.test_client()
    assert client.post("/auth/login", data={"email": "fac@example.org\x00", "password": PASSWORD}).status_code == 400
    assert client.get(f"/host/{quote(token)}%00").status_code == 400
    assert client.get(f"/j/{code}%00").status_code == 400
    assert client.get(f"/host/{'a' * 20}").status_code == 404
    phone = world["sockets"]["/phone"][0]
    note_q = world["cafe"]["questions"][1]
    for payload in ({"question_id": note_q, "client_id": "abc\x00defgh", "text": "x"},
                    {"question_id": note_q, "client_id": "c-" + uuid.uuid4().hex, "text": "nul \x00 here"},
                    {"question_id": 2**63, "client_id": "c-" + uuid.uuid4().hex, "text": "x"},
                    {"question_id": 2**31, "client_id": "c-" + uuid.uuid4().hex, "text": "x"}):
        ack = phone.emit("note", payload, namespace="/phone", callback=True)
        assert ack["ok"] or ack["error"] != rules.FAILED, (payload, ack)
    host = world["sockets"]["/host"][0]
    for payload in ({"note_id": 2**40, "text": "x"}, {"note_id": world["ids"][0], "text": "\x00"},
                    {"question_id": note_q, "round": 2**70, "text": "x"}):
        for event in ("edit", "summary"):
            ack = host.emit(event, payload, namespace="/host", callback=True)
            assert ack["ok"] is False and ack["error"] != rules.FAILED, (event, payload, ack)
    bad = pg_app.extensions["socketio"].test_client(pg_app, namespace="/host", auth={"token": token + "\x00"})
    assert not bad.is_connected("/host")
    assert errors.take() == []
