"""End to end: a small World Café on a real `consult serve` (eventlet) process.

3 tables, 2 rounds, a host per table marking highlights and writing summaries, phones moving
table between rounds, dot-voting, and a trajectory grid; then the write-up downloaded as
Markdown and JSON, and the SQLite database read directly: nothing acknowledged lost, nothing
stored twice.

Every client is a real Socket.IO (or HTTP) client over loopback: the control page and the
projector (signed in as the facilitator), three table hosts (their secret links) and six phones
(seated by their table's join link).
"""
import html
import json
import re
import sqlite3

import pytest
import requests

from .live_server import LiveServer
from .test_e2e import WAIT, Peer, cookie_header, new_client_id, ok, refused, stop_cleanly

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

TABLES = 3
PHONES = 6  # two a table
DOTS = 2


def wait_count(peer, name, n, predicate=lambda data: True, since=0, timeout=WAIT):
    """Wait until peer has received n `name` events matching predicate since a mark; returns their data."""
    found = []
    for _ in range(n):
        position, data = peer.find(name, predicate, since, timeout)
        found.append(data)
        since = position + 1
    return found


@pytest.fixture
def cafe_server(tmp_path):
    live = LiveServer(tmp_path / "instance", async_mode="eventlet")
    live.code = live.demo(plain=False)
    live.start()
    try:
        yield live
    finally:
        stop_cleanly(live)


@pytest.fixture
def peers():
    made = []
    yield made
    for peer in made:
        peer.close()


def test_small_world_cafe(cafe_server, peers):
    server, code = cafe_server, cafe_server.code
    url = server.url

    # `consult demo` printed the demo café's 4 tables, each with a join and a host link.
    printed = re.findall(r"(Table \d)\s+join: \S+/j/" + code + r"\?t=(\d+)\s+host: \S+/host/(\S+)", server.demo_output)
    assert [name for name, _, _ in printed] == ["Table 1", "Table 2", "Table 3", "Table 4"]
    assert "Round 1 has started" in server.demo_output

    # -- the facilitator signs in, opens the control page and the projector ------------------------
    facilitator = server.login()
    listing = facilitator.get(url + "/sessions/", timeout=WAIT).text
    session_id = int(re.search(r'href="/sessions/(\d+)/control"', listing).group(1))
    fac_cookie = cookie_header(facilitator)

    def screen(view):
        peer = Peer(view, url, "/facilitator", {"session_id": session_id, "view": view}, fac_cookie)
        peers.append(peer)
        return peer.connect()

    control, projector = screen("control"), screen("projector")
    first = control.wait_for("state")
    assert first["round"] == 1 and len(first["tables"]) == 4
    questions = [q["id"] for q in first["questions"]]
    kinds = [q["kind"] for q in first["questions"]]
    assert kinds == ["notes"] * 5 + ["yesno", "scale", "trajectory"]
    notes_q, traj_q = questions[0], questions[7]
    assert first["current"]["id"] == notes_q and first["current"]["is_open"]
    projector.wait_for("state", lambda s: s["current"]["id"] == notes_q)

    # -- 3 tables, through the session page's Tables form (with its CSRF token) ---------------------
    page = facilitator.get(f"{url}/sessions/{session_id}", timeout=WAIT).text
    form = re.search(r'<form method="post" action="/sessions/%d/tables".*?</form>' % session_id, page, re.S).group(0)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    mark = control.mark()
    saved = facilitator.post(f"{url}/sessions/{session_id}/tables", data={"csrf_token": csrf, "tables": str(TABLES)},
                             timeout=WAIT)
    assert saved.status_code == 200 and saved.url.endswith(f"/sessions/{session_id}#table-setup"), saved.url
    assert "Saved: 3 tables." in saved.text
    # The session page now lists 3 tables, each with its host link and its join link.
    host_links = dict(re.findall(r'id="host-link-(\d+)" value="[^"]*/host/([^"]+)"', saved.text))
    join_links = dict(re.findall(r'id="join-link-(\d+)" value="([^"]+)"', saved.text))
    table_ids = [int(t) for t in re.findall(r'<li class="card cafe-table" id="table-(\d+)">', saved.text)]
    assert len(table_ids) == TABLES and set(host_links) == set(join_links) == {str(t) for t in table_ids}
    # The first three demo tables are kept (same ids, same host links); Table 4 is gone.
    assert [(f"Table {n}", str(t), host_links[str(t)]) for n, t in enumerate(table_ids, 1)] == printed[:TABLES]
    for t in table_ids:
        assert html.unescape(join_links[str(t)]).endswith(f"/j/{code}?t={t}")
    tokens = {t: host_links[str(t)] for t in table_ids}
    names = {t: f"Table {n}" for n, t in enumerate(table_ids, 1)}
    # The control page hears of it live.
    control.wait_for("state", lambda s: [t["id"] for t in s["tables"]] == table_ids, since=mark)

    # -- a host per table, on its secret link ---------------------------------------------------------
    hosts = {}
    for t in table_ids:
        host = Peer(f"host{names[t]}", url, "/host", {"token": tokens[t]}, "")
        peers.append(host)
        hosts[t] = host.connect()
    for t, host in hosts.items():
        view = ok(host.call("notes", {"question_id": notes_q, "round": 1}))
        assert view["notes"] == [] and view["summary"] == "" and view["current_round"] == 1

    # -- six phones, two a table, seated by their table's join link -----------------------------------
    seat1 = [table_ids[i // 2] for i in range(PHONES)]
    phones = []
    for i in range(PHONES):
        http = requests.Session()
        r = http.get(f"{url}/j/{code}?t={seat1[i]}", timeout=WAIT)
        assert r.status_code == 200 and r.url == f"{url}/j/{code}", r.url  # seated, then the clean link
        phone = Peer(f"phone{i}", url, "/phone", {"code": code}, cookie_header(http))
        peers.append(phone)
        phones.append(phone.connect())
    for i, phone in enumerate(phones):
        state = phone.wait_for("state")
        assert state["table_id"] == seat1[i]
        assert [t["id"] for t in state["tables"]] == table_ids
        assert state["session"]["round"] == 1 and state["question"]["id"] == notes_q
    control.wait_for("state", lambda s: s["joined"] == PHONES and s["connected"] == PHONES
                     and s["seated"] == {str(t): 2 for t in table_ids})

    stored = {}  # note id -> (question, table, round, author, text): everything acknowledged
    client_ids = set()

    def post(phone_index, question_id, text, table, round_, **cell):
        client_id = new_client_id()
        ack = ok(phones[phone_index].call("note", {"question_id": question_id, "client_id": client_id, "text": text,
                                                   **cell}))
        assert ack["status"] == "visible"
        stored[ack["id"]] = (question_id, table, round_, "participant", text)
        client_ids.add(client_id)
        return ack["id"]

    def host_add(table, question_id, text, round_, **cell):
        client_id = new_client_id()
        payload = {"question_id": question_id, "client_id": client_id, "text": text, **cell}
        ack = ok(hosts[table].call("add", payload))
        assert ack["round"] == round_
        again = ok(hosts[table].call("add", payload))  # a retry (the ack was lost): nothing new
        assert again["id"] == ack["id"]
        stored[ack["id"]] = (question_id, table, round_, "host", text)
        client_ids.add(client_id)
        return ack["id"]

    def table_notes(table, question_id, round_):
        """{note id: note} the host of table sees on a question in a round (0: all rounds)."""
        view = ok(hosts[table].call("notes", {"question_id": question_id, "round": round_}))
        assert view["question_id"] == question_id and view["round"] == round_
        return {n["id"]: n for n in view["notes"]}, view

    def expected(question_id, table, round_):
        """The ids of the acknowledged notes of a table on a question in a round (0: all rounds)."""
        return {i for i, (q, t, r, _, _) in stored.items() if q == question_id and t == table and round_ in (0, r)}

    # -- round 1: phones post notes; each host sees its own table's, live ------------------------------
    host_marks = {t: h.mark() for t, h in hosts.items()}
    round1 = {}
    for i in range(PHONES):
        texts = [f"Round one note {n} from phone {i}" for n in range(2 if i == 0 else 1)]
        round1[i] = [post(i, notes_q, text, seat1[i], 1) for text in texts]
    for t, host in hosts.items():
        mine = expected(notes_q, t, 1)
        # One "changed" for each note of this table, none for another table's.
        wait_count(host, "changed", len(mine), lambda d: d == {"question_id": notes_q}, since=host_marks[t])
        seen, _ = table_notes(t, notes_q, 1)
        assert set(seen) == mine
        assert all(n["table_id"] == t and n["round"] == 1 and n["author"] == "participant" and not n["highlight"]
                   for n in seen.values())
    for t, host in hosts.items():
        changed = host.since(host_marks[t], "changed")
        assert len(changed) == len(expected(notes_q, t, 1)), changed

    # Each host highlights a note, adds one for the group, and writes the round's summary.
    highlighted = set()
    summaries = {}  # (table, question, round) -> text
    group_notes = {}
    for n, t in enumerate(table_ids):
        target = round1[2 * n][0]  # the first note of the table's first phone
        note = ok(hosts[t].call("highlight", {"note_id": target, "on": True}))["note"]
        assert note["highlight"] is True and note["id"] == target
        highlighted.add(target)
        group_notes[t] = host_add(t, notes_q, f"Group view from {names[t]} in round one", 1)
        text = f"{names[t]} summary of round one"
        assert ok(hosts[t].call("summary", {"question_id": notes_q, "round": 1, "text": text}))["summary"] == text
        summaries[(t, notes_q, 1)] = text
    # A host cannot touch another table's notes.
    refused(hosts[table_ids[0]].call("highlight", {"note_id": round1[2][0], "on": True}), "not found")
    for t in table_ids:
        seen, view = table_notes(t, notes_q, 1)
        assert set(seen) == expected(notes_q, t, 1)
        assert {i for i, n in seen.items() if n["highlight"]} == highlighted & set(seen)
        assert seen[group_notes[t]]["author"] == "host"
        assert view["summary"] == summaries[(t, notes_q, 1)]

    # The projector shows every note of round 1 with its table and the highlights.
    def notes_shown(state, ids):
        r = state.get("results")
        return (state["current"]["id"] == notes_q and r is not None and not r.get("hidden")
                and {n["id"] for n in r["notes"]} == ids)

    wall = projector.wait_for("state", lambda s: notes_shown(s, set(stored)))["results"]
    assert {n["id"]: (n["table_id"], n["highlight"]) for n in wall["notes"]} == {
        i: (stored[i][1], i in highlighted) for i in stored}

    # -- round 2: started from the control socket; phones move table and post again -------------------
    phone_marks = [p.mark() for p in phones]
    host_marks = {t: h.mark() for t, h in hosts.items()}
    ok(control.call("round", {"action": "start"}))
    for phone, mark in zip(phones, phone_marks):
        assert phone.wait_for("round", since=mark) == {"round": 2}
    for t, host in hosts.items():
        assert host.wait_for("round", since=host_marks[t]) == {"round": 2}
    control.wait_for("state", lambda s: s["round"] == 2)
    assert ok(control.call("round", {"action": "start", "number": 2}))  # a repeated click: still round 2
    refused(control.call("round", {"action": "start", "number": 1}), "already started")

    seat2 = [table_ids[(i // 2 + 1 + i % 2) % TABLES] for i in range(PHONES)]  # every phone moves, tables mix
    assert all(a != b for a, b in zip(seat1, seat2)) and sorted(seat2) == sorted(seat1)
    for i, phone in enumerate(phones):
        assert ok(phone.call("table", {"table_id": seat2[i]}))["table_id"] == seat2[i]
    refused(phones[0].call("table", {"table_id": 999_999}), "table was not found")
    control.wait_for("state", lambda s: s["round"] == 2 and s["seated"] == {str(t): 2 for t in table_ids})

    host_marks = {t: h.mark() for t, h in hosts.items()}
    round2 = {i: post(i, notes_q, f"Round two note from phone {i}", seat2[i], 2) for i in range(PHONES)}
    for t in table_ids:
        mine = expected(notes_q, t, 2)
        assert len(mine) == 2
        wait_count(hosts[t], "changed", len(mine), lambda d: d == {"question_id": notes_q}, since=host_marks[t])
        seen, _ = table_notes(t, notes_q, 2)
        assert set(seen) == mine and all(note["round"] == 2 and note["table_id"] == t for note in seen.values())
        # All rounds: the table's round 1 notes, by the phones that sat there then, and round 2's.
        every, _ = table_notes(t, notes_q, 0)
        assert set(every) == expected(notes_q, t, 0)
        # The host highlights a round 2 note and writes round 2's summary; round 1's stays.
        target = min(mine)
        assert ok(hosts[t].call("highlight", {"note_id": target, "on": True}))["note"]["highlight"]
        highlighted.add(target)
        text = f"{names[t]} summary of round two"
        ok(hosts[t].call("summary", {"question_id": notes_q, "round": 2, "text": text}))
        summaries[(t, notes_q, 2)] = text
        assert table_notes(t, notes_q, 1)[1]["summary"] == summaries[(t, notes_q, 1)]
        assert table_notes(t, notes_q, 2)[1]["summary"] == text
    assert {stored[i][1] for i in round2.values()} == set(table_ids)
    projector.wait_for("state", lambda s: notes_shown(s, set(stored)))
    # The projector can show one round only.
    mark = projector.mark()
    ok(control.call("round", {"action": "show", "number": 2}))
    one = projector.wait_for("state", lambda s: s["shown_round"] == 2, since=mark)["results"]
    assert {n["id"] for n in one["notes"]} == set(round2.values())
    mark = projector.mark()
    ok(control.call("round", {"action": "show", "number": 0}))
    projector.wait_for("state", lambda s: s["shown_round"] is None and notes_shown(s, set(stored)), since=mark)

    # -- dot-voting: 2 dots each on the notes question --------------------------------------------------
    phone_marks = [p.mark() for p in phones]
    assert control.call("dots", {"question_id": notes_q, "action": "open", "dots": DOTS}) == {
        "ok": True, "open": True, "dots": DOTS}
    for phone, mark in zip(phones, phone_marks):
        listed = phone.wait_for("dots", lambda d: d["open"], since=mark)
        assert listed["per_person"] == DOTS and [n["id"] for n in listed["notes"]] == sorted(stored)
        assert all(set(n) == {"id", "text", "also"} for n in listed["notes"])  # no totals on phones
        q = phone.wait_for("question", lambda d: d["id"] == notes_q, since=mark)
        assert q["dots_open"] and not q["is_open"]
    # No new notes while people prioritise.
    refused(phones[0].call("note", {"question_id": notes_q, "client_id": new_client_id(), "text": "Late"}), "closed")

    top, second, third = round1[0][0], group_notes[table_ids[1]], round2[3]
    placed = {}  # dot id -> (phone, note)
    dot_client_ids = set()

    def dot(i, note_id, client_id=None):
        client_id = client_id or new_client_id()
        return phones[i].call("dot", {"question_id": notes_q, "note_id": note_id, "client_id": client_id}), client_id

    for i in range(5):  # five phones put a dot on the top note
        ack, client_id = dot(i, top)
        ok(ack)
        assert ack["placed"] and ack["left"] == DOTS - 1
        placed[ack["id"]] = (i, top)
        dot_client_ids.add(client_id)
    for i in range(4):  # four put their second on the group note of Table 2
        ack, client_id = dot(i, second)
        ok(ack)
        assert ack["left"] == 0 and [d["note_id"] for d in ack["mine"]] == [top, second]
        placed[ack["id"]] = (i, second)
        dot_client_ids.add(client_id)
    for _ in range(2):  # phone 5 stacks both its dots on one note
        ack, client_id = dot(5, third)
        placed[ok(ack)["id"]] = (5, third)
        dot_client_ids.add(client_id)
    # A retry of a placed dot places nothing; a third dot is refused.
    last_client_id = client_id
    again, _ = dot(5, third, last_client_id)
    assert ok(again)["placed"] is False and again["id"] == ack["id"]
    refused(dot(5, top)[0], "used all 2")
    refused(dot(0, third)[0], "used all 2")
    # Phone 4 places its second dot, then takes it back.
    ack, _ = dot(4, third)
    extra = ok(ack)["id"]
    taken = ok(phones[4].call("undot", {"question_id": notes_q, "dot_id": extra}))
    assert taken["taken"] is True and taken["left"] == 1 and [d["note_id"] for d in taken["mine"]] == [top]
    assert ok(phones[4].call("undot", {"question_id": notes_q, "dot_id": extra}))["taken"] is False  # a retry
    assert len(placed) == 11

    want_dots = {top: 5, second: 4, third: 2}

    def ranked_as_wanted(state):
        r = state.get("results")
        if not r or state["current"]["id"] != notes_q or not r.get("dots"):
            return False
        ranking = r["dots"]["ranked"]
        return (r["dots"]["placed"] == 11 and r["dots"]["voters"] == PHONES
                and [(n["id"], n["dots"], n["rank"]) for n in ranking[:3]]
                == [(top, 5, 1), (second, 4, 2), (third, 2, 3)]
                and all(n["dots"] == 0 and n["rank"] == 4 for n in ranking[3:]))

    ranking = projector.wait_for("state", ranked_as_wanted)["results"]
    assert len(ranking["dots"]["ranked"]) == len(stored)
    assert {n["id"]: n["dots"] for n in ranking["notes"]} == {i: want_dots.get(i, 0) for i in stored}

    mark = projector.mark()
    closed = control.call("dots", {"question_id": notes_q, "action": "close"})
    assert closed == {"ok": True, "open": False, "dots": DOTS}
    projector.wait_for("state", lambda s: ranked_as_wanted(s) and not s["results"]["dots"]["open"], since=mark)
    refused(dot(4, third)[0], "closed")

    # -- the trajectory grid -----------------------------------------------------------------------------
    phone_marks = [p.mark() for p in phones]
    ok(control.call("control", {"action": "open", "question_id": traj_q}))
    for phone, mark in zip(phones, phone_marks):
        grid = phone.wait_for("question", lambda d: d["id"] == traj_q, since=mark)
    assert grid["kind"] == "trajectory" and grid["is_open"]
    rows = [r["id"] for r in grid["rows"]]
    horizons = [h["id"] for h in grid["horizons"]]
    assert len(rows) == 5 and [h["name"] for h in grid["horizons"]] == [
        "Exploring", "Emerging", "Sustaining", "Systems change"]

    cells = {}  # note id -> (row, horizon)
    host_marks = {t: h.mark() for t, h in hosts.items()}
    milestones = {}
    for i in range(PHONES):
        cell = {"row_id": rows[i % len(rows)], "horizon_id": horizons[i % len(horizons)]}
        milestones[i] = post(i, traj_q, f"Milestone from phone {i}", seat2[i], 2, **cell)
        cells[milestones[i]] = (cell["row_id"], cell["horizon_id"])
    refused(phones[0].call("note", {"question_id": traj_q, "client_id": new_client_id(), "text": "Nowhere"}),
            "Choose where")
    # The host of phone 2's table sees its milestone in its cell, and moves it to another.
    mover = seat2[2]
    wait_count(hosts[mover], "changed", 2, lambda d: d == {"question_id": traj_q}, since=host_marks[mover])
    seen, view = table_notes(mover, traj_q, 2)
    assert set(seen) == expected(traj_q, mover, 2)
    assert (seen[milestones[2]]["row_id"], seen[milestones[2]]["horizon_id"]) == cells[milestones[2]]
    assert [r["id"] for r in view["rows"]] == rows and [h["id"] for h in view["horizons"]] == horizons
    phone_mark = phones[2].mark()
    moved = ok(hosts[mover].call("move", {"note_id": milestones[2], "row_id": rows[4], "horizon_id": horizons[3]}))
    assert (moved["note"]["row_id"], moved["note"]["horizon_id"]) == (rows[4], horizons[3])
    cells[milestones[2]] = (rows[4], horizons[3])
    # Its author's phone shows it in the new cell.
    told = phones[2].wait_for("note", lambda d: d["id"] == milestones[2], since=phone_mark)
    assert (told["row_id"], told["horizon_id"]) == (rows[4], horizons[3])
    # Another table's host cannot move it.
    other = next(t for t in table_ids if t != mover)
    refused(hosts[other].call("move", {"note_id": milestones[2], "row_id": rows[0], "horizon_id": horizons[0]}),
            "not found")
    # Table 1's host adds a milestone for the group, highlights it and sums up the grid.
    t1 = table_ids[0]
    group_milestone = host_add(t1, traj_q, "Group milestone from Table 1", 2, row_id=rows[1], horizon_id=horizons[3])
    cells[group_milestone] = (rows[1], horizons[3])
    ok(hosts[t1].call("highlight", {"note_id": group_milestone, "on": True}))
    highlighted.add(group_milestone)
    ok(hosts[t1].call("summary", {"question_id": traj_q, "round": 2, "text": "Table 1 sees employment first"}))
    summaries[(t1, traj_q, 2)] = "Table 1 sees employment first"

    def grid_of(state):
        r = state.get("results")
        if not r or r.get("kind") != "trajectory" or r.get("hidden"):
            return None
        return {n["id"]: (row["id"], c["horizon_id"]) for row in r["rows"] for c in row["cells"] for n in c["notes"]}

    shown = projector.wait_for("state", lambda s: s["current"]["id"] == traj_q and grid_of(s) == cells)["results"]
    assert shown["total"] == len(cells) == PHONES + 1
    counts = {(row["id"], c["horizon_id"]): c["count"] for row in shown["rows"] for c in row["cells"]}
    for row_horizon in set(cells.values()):
        assert counts[row_horizon] == list(cells.values()).count(row_horizon)

    # A phone asking for its whole picture: its new table, its notes of both rounds (and its
    # milestone in the cell it was moved to), its dots.
    mine = ok(phones[2].call("state", None))["state"]
    assert mine["table_id"] == seat2[2] and mine["session"]["round"] == 2 and mine["question"]["id"] == traj_q
    assert [n["id"] for n in mine["notes"][str(notes_q)]] == round1[2] + [round2[2]]
    assert [(n["id"], n["row_id"], n["horizon_id"]) for n in mine["notes"][str(traj_q)]] == [
        (milestones[2], rows[4], horizons[3])]
    assert [d["note_id"] for d in mine["my_dots"][str(notes_q)]] == [top, second]

    # -- the write-up, downloaded as the facilitator -------------------------------------------------------
    r = facilitator.get(f"{url}/sessions/{session_id}/write-up.md", timeout=WAIT)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/markdown"), r.status_code
    md = r.text
    assert "6 participants · 3 tables · 2 rounds" in md
    assert "Table 4" not in md
    notes_section = md.split("## 1. ", 1)[1].split("## 2. ", 1)[0]
    for t in table_ids:
        def texts(round_):
            return "; ".join(stored[i][4] for i in sorted(expected(notes_q, t, round_)))

        marked = "<br>".join([stored[i][4] for i in sorted(expected(notes_q, t, 0) & highlighted)]
                             + [summaries[(t, notes_q, 1)], summaries[(t, notes_q, 2)]])
        row = f"| {names[t]} | Round 1: {texts(1)}<br>Round 2: {texts(2)} | {marked} |"
        assert row in notes_section, (row, notes_section)
    assert "### Prioritised" in notes_section
    assert "Dot-voting: 2 dots each · 11 dots placed by 6 people" in notes_section
    for rank, note_id in enumerate((top, second, third), 1):
        line = f"| {rank} | {stored[note_id][4]} · {names[stored[note_id][1]]} | {want_dots[note_id]} |"
        assert line in notes_section, (line, notes_section)
    # One row a table (no other), and only the three notes that got dots are ranked.
    assert len([line for line in notes_section.splitlines() if line.startswith("| Table ")]) == TABLES
    prioritised = notes_section.split("### Prioritised", 1)[1]
    assert len([line for line in prioritised.splitlines() if re.match(r"\| \d+ \|", line)]) == 3
    grid_section = md.split("## 8. ", 1)[1].split("## ", 1)[0]
    assert ("| Question or theme | Exploring \\~ 12 months | Emerging \\~ 6 – 24 months | Sustaining Ongoing "
            "| Systems change Ongoing |") in grid_section, grid_section
    for row in grid["rows"]:
        in_cells = []
        for h in horizons:
            ids = sorted(i for i, c in cells.items() if c == (row["id"], h))
            in_cells.append("<br>".join(
                "• " + ("★ " if i in highlighted else "") + stored[i][4] + (" (host)" if stored[i][3] == "host" else "")
                for i in ids))
        line = f"| {row['text']} | " + " | ".join(in_cells) + " |"
        assert line in grid_section, (line, grid_section)
    assert f"{PHONES + 1} milestones · ★ highlighted by a table host" in grid_section
    assert "*Host summary, Table 1, round 2:* Table 1 sees employment first" in grid_section

    r = facilitator.get(f"{url}/sessions/{session_id}/write-up.json", timeout=WAIT)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    data = json.loads(r.text)
    assert data["tables"] == [{"name": names[t]} for t in table_ids]
    assert data["session"]["current_round"] == 2
    table_pos = {t: n for n, t in enumerate(table_ids)}
    q_pos = {q: n for n, q in enumerate(questions)}
    assert data["questions"][q_pos[notes_q]]["dots"] == DOTS and not data["questions"][q_pos[notes_q]]["dots_open"]
    # Every acknowledged note, once, with its question, table, round, author, highlight and cell.
    ordered = sorted(stored)
    assert [(n["question"], n["table"], n["round"], n["author"], n["text"]) for n in data["notes"]] == [
        (q_pos[stored[i][0]], table_pos[stored[i][1]], stored[i][2], stored[i][3], stored[i][4]) for i in ordered]
    assert [n["highlight"] for n in data["notes"]] == [i in highlighted for i in ordered]
    assert [(n["row"], n["horizon"]) for n in data["notes"]] == [
        (rows.index(cells[i][0]), horizons.index(cells[i][1])) if i in cells else (None, None) for i in ordered]
    moved_ref = ordered.index(milestones[2])
    assert [e["action"] for e in data["notes"][moved_ref]["edits"]] == ["move"]
    assert sorted((s["table"], s["question"], s["round"], s["text"]) for s in data["summaries"]) == sorted(
        (table_pos[t], q_pos[q], rnd, text) for (t, q, rnd), text in summaries.items())
    assert len(data["participants"]) == PHONES
    assert sorted(p["table"] for p in data["participants"]) == sorted(table_pos[t] for t in seat2)
    dots_per_note = {}
    for d in data["dots"]:
        dots_per_note[ordered[d["note"]]] = dots_per_note.get(ordered[d["note"]], 0) + 1
    assert dots_per_note == want_dots and data["votes"] == []

    # -- the database itself ---------------------------------------------------------------------------
    db = sqlite3.connect(f"file:{server.instance / 'consult.db'}?mode=ro", uri=True, timeout=WAIT)
    try:
        def count(sql, *args):
            return db.execute(sql, args).fetchone()[0]

        assert count("SELECT count(*) FROM participant WHERE session_id = ?", session_id) == PHONES
        assert [t for (t,) in db.execute("SELECT id FROM cafe_table WHERE session_id = ? ORDER BY position",
                                          (session_id,))] == table_ids
        assert dict(db.execute("SELECT table_id, count(*) FROM participant WHERE session_id = ? GROUP BY table_id",
                               (session_id,))) == {t: 2 for t in table_ids}
        notes = {i: (q, t, rnd, a, text) for i, q, t, rnd, a, text in db.execute(
            "SELECT id, question_id, table_id, round, author, text FROM note")}
        assert notes == stored  # everything acknowledged, nothing else, each once
        assert count("SELECT count(DISTINCT client_id) FROM note") == len(stored)
        assert {c for (c,) in db.execute("SELECT client_id FROM note")} == client_ids
        assert {i for (i,) in db.execute("SELECT id FROM note WHERE highlight")} == highlighted
        assert count("SELECT count(*) FROM note WHERE status != 'visible' OR merged_into_id IS NOT NULL") == 0
        assert {i: (r_, h) for i, r_, h in db.execute(
            "SELECT id, row_id, horizon_id FROM note WHERE question_id = ?", (traj_q,))} == cells
        assert list(db.execute("SELECT note_id, action, by FROM note_edit")) == [
            (milestones[2], "move", f"host:{names[mover]}")]
        assert {i for (i,) in db.execute("SELECT id FROM dot")} == set(placed)
        assert dict(db.execute("SELECT note_id, count(*) FROM dot GROUP BY note_id")) == want_dots
        assert {c for (c,) in db.execute("SELECT client_id FROM dot")} == dot_client_ids
        assert count("SELECT count(DISTINCT participant_id) FROM dot") == PHONES
        assert {(t, q, rnd): text for t, q, rnd, text in db.execute(
            "SELECT table_id, question_id, round, text FROM host_summary")} == summaries
        assert count("SELECT count(*) FROM vote") == 0
        assert dict(db.execute("SELECT id, dots FROM question WHERE session_id = ? AND dots > 0", (session_id,))) == {
            notes_q: DOTS}
    finally:
        db.close()
