"""The audit trail: late retries never undo a newer answer, receipts, their look-up, the audit download."""
import csv
import io
import re

from sqlalchemy import select, text

from consult import audit, rules, services
from consult.batch import Item, Writer
from consult.dots import record_dots
from consult.extensions import db
from consult.models import AuditEntry, Dot, Note, Question, Vote
from consult.results import results

from .conftest import cast_vote, join_phone, login, make_cafe, make_facilitator, option_ids
from .test_postgres import pg_app  # noqa: F401 (a fixture)

PHONE = "/phone"
RECEIPT = re.compile(r"^[ABCDEFGHJKMNPQRSTUVWXYZ2-9]{4}-[ABCDEFGHJKMNPQRSTUVWXYZ2-9]{4}$")


def vote(sock, data):
    return sock.emit("vote", data, namespace=PHONE, callback=True)


def trail(app):
    with app.app_context():
        return [(e.id, e.kind, e.client_id, e.participant_id, e.target_id, e.value, e.detail, e.by, e.receipt, e.at)
                for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def choices_of(app, question_id):
    with app.app_context():
        return {v.participant_id: sorted(c.option_id for c in v.choices)
                for v in db.session.scalars(select(Vote).filter_by(question_id=question_id))}


def bars(app, question_id):
    with app.app_context():
        return [b["count"] for b in results(db.session.get(Question, question_id))["bars"]]


# -- a late retry never reverts a newer answer ------------------------------------------

def test_a_late_retry_over_the_socket_does_not_revert_the_newer_vote(app, cafe):
    qid = cafe["questions"][0]
    red, green, _ = option_ids(app, qid)
    _, phone = join_phone(app, cafe["code"])
    first = vote(phone, {"question_id": qid, "client_id": "vote-a-000001", "choices": [red]})
    second = vote(phone, {"question_id": qid, "client_id": "vote-b-000001", "choices": [green]})
    assert first["ok"] and second["ok"] and first["id"] == second["id"]
    late = vote(phone, {"question_id": qid, "client_id": "vote-a-000001", "choices": [red]})
    # Acknowledged as what it was (its own receipt), and said to be replaced since; nothing applied.
    assert late == {"ok": True, "id": first["id"], "receipt": first["receipt"], "current": False}
    assert list(choices_of(app, qid).values()) == [[green]]
    assert bars(app, qid) == [0, 1, 0]
    with app.app_context():
        assert db.session.scalar(select(Vote.client_id)) == "vote-b-000001"
    # The newer one, resent, still stands.
    again = vote(phone, {"question_id": qid, "client_id": "vote-b-000001", "choices": [green]})
    assert again == {"ok": True, "id": second["id"], "receipt": second["receipt"]}


def test_a_late_retry_over_http_does_not_revert_the_newer_vote(app, cafe):
    qid = cafe["questions"][3]  # the scale
    phone = app.test_client()
    assert phone.get(f"/j/{cafe['code']}").status_code == 200
    url = f"/j/{cafe['code']}/vote"
    first = phone.post(url, json={"question_id": qid, "client_id": "http-a-00001", "value": 2}).json
    second = phone.post(url, json={"question_id": qid, "client_id": "http-b-00001", "value": 5}).json
    late = phone.post(url, json={"question_id": qid, "client_id": "http-a-00001", "value": 2})
    assert late.status_code == 200
    assert late.json == {"ok": True, "id": first["id"], "receipt": first["receipt"], "current": False}
    with app.app_context():
        assert db.session.scalar(select(Vote.value)) == 5
        assert results(db.session.get(Question, qid))["mean"] == 5
    state = phone.get(f"/j/{cafe['code']}/state.json").json
    assert state["answers"][str(qid)]["value"] == 5 and state["answers"][str(qid)]["receipt"] == second["receipt"]


def test_late_retries_and_duplicates_in_one_batch(app, cafe):
    """The writer's batch path: copies of A and B interleaved in one batch leave B, counted once each."""
    qid = cafe["questions"][0]
    red, green, blue = option_ids(app, qid)
    with app.app_context():
        session = db.session.get(Question, qid).session
        who = rules.Voter(services.join(session).id, session.id)
        other = rules.Voter(services.join(session).id, session.id)
    a = {"question_id": qid, "client_id": "batch-a-0001", "choices": [red]}
    b = {"question_id": qid, "client_id": "batch-b-0001", "choices": [green]}
    c = {"question_id": qid, "client_id": "batch-c-0001", "choices": [blue]}
    batch = [Item("vote", who, p, None) for p in (a, b, a, b, a)] + [Item("vote", other, c, None) for _ in range(3)]
    writer = Writer(app, app.extensions["socketio"], services.answered)
    with app.app_context():
        writer._commit(batch)
        acks = services.answered(batch)
    assert all(ack["ok"] for ack in acks)
    assert [ack["receipt"] for ack in acks[:5]] == [acks[0]["receipt"], acks[1]["receipt"]] * 2 + [acks[0]["receipt"]]
    assert acks[0]["receipt"] != acks[1]["receipt"]
    assert [ack.get("current", True) for ack in acks[:5]] == [True, True, False, True, False]
    assert choices_of(app, qid) == {who.id: [green], other.id: [blue]}
    assert bars(app, qid) == [0, 1, 1]
    assert [(kind, client_id) for _, kind, client_id, *_ in trail(app) if kind == "vote"] == [
        ("vote", "batch-a-0001"), ("vote", "batch-c-0001"), ("vote", "batch-b-0001")]


def test_a_retry_storm_counts_once(app, cafe):
    qid = cafe["questions"][4]  # several answers
    a, b, c, _ = option_ids(app, qid)
    _, phone = join_phone(app, cafe["code"])
    payload = {"question_id": qid, "client_id": "storm-000001", "choices": [a, c]}
    acks = [vote(phone, payload) for _ in range(25)]
    assert all(ack == acks[0] for ack in acks) and RECEIPT.match(acks[0]["receipt"])
    assert bars(app, qid) == [1, 0, 1, 0]
    entries = [e for e in trail(app) if e[1] == "vote"]
    assert len(entries) == 1 and entries[0][5] == f"{a},{c}"


def test_a_dot_taken_back_stays_taken_back_when_its_placement_is_resent(app, facilitator):
    cafe = make_cafe(app, facilitator, [{"kind": "notes", "text": "Ideas?", "max_length": 80}])
    qid = cafe["questions"][0]
    _, phone = join_phone(app, cafe["code"])
    ideas = [phone.emit("note", {"question_id": qid, "client_id": f"idea-{n:07d}", "text": f"Idea {n}"},
                        namespace=PHONE, callback=True)["id"] for n in range(2)]
    with app.app_context():
        services.set_dots(db.session.get(Question, qid).session, qid, "open", 2)
    place = {"question_id": qid, "note_id": ideas[0], "client_id": "dot-0000001"}
    placed = phone.emit("dot", place, namespace=PHONE, callback=True)
    assert placed["ok"] and placed["placed"] and RECEIPT.match(placed["receipt"])
    back = phone.emit("undot", {"question_id": qid, "dot_id": placed["id"]}, namespace=PHONE, callback=True)
    assert back["ok"] and back["taken"] and RECEIPT.match(back["receipt"]) and back["mine"] == []
    late = phone.emit("dot", place, namespace=PHONE, callback=True)
    assert late["ok"] and late["placed"] is False and late["current"] is False
    assert late["receipt"] == placed["receipt"] and late["mine"] == [] and late["left"] == 2
    with app.app_context():
        assert db.session.query(Dot).count() == 0
        assert results(db.session.get(Question, qid))["dots"]["placed"] == 0
    # Taking it back again changes nothing, and logs nothing more.
    again = phone.emit("undot", {"question_id": qid, "dot_id": placed["id"]}, namespace=PHONE, callback=True)
    assert again["ok"] and again["taken"] is False
    assert [e[1] for e in trail(app)].count("undot") == 1


# -- the trail is appended to, never rewritten ---------------------------------------------

def test_changing_a_vote_appends_and_keeps_the_earlier_entry(app, cafe):
    qid = cafe["questions"][0]
    red, green, _ = option_ids(app, qid)
    _, phone = join_phone(app, cafe["code"])
    first = vote(phone, {"question_id": qid, "client_id": "keep-a-00001", "choices": [red]})
    before = trail(app)
    assert [e[1:6] for e in before if e[1] == "vote"] == [("vote", "keep-a-00001", before[-1][3], first["id"], str(red))]
    vote(phone, {"question_id": qid, "client_id": "keep-b-00001", "choices": [green]})
    vote(phone, {"question_id": qid, "client_id": "keep-a-00001", "choices": [red]})  # a late retry: no entry
    after = trail(app)
    assert after[:len(before)] == before  # the earlier entries, untouched
    assert [e[1:3] + (e[5],) for e in after[len(before):]] == [("vote", "keep-b-00001", str(green))]


def test_moderation_and_question_changes_are_in_the_trail(app, client, cafe):
    notes_q = cafe["questions"][1]
    _, phone = join_phone(app, cafe["code"])
    ids = [phone.emit("note", {"question_id": notes_q, "client_id": f"mod-{n:08d}", "text": f"Note {n}"},
                      namespace=PHONE, callback=True)["id"] for n in range(3)]
    for note_id, action in ((ids[0], "hide"), (ids[0], "restore"), (ids[1], "highlight")):
        assert client.post(f"/sessions/{cafe['id']}/moderate", data={"note_id": note_id, "action": action}).status_code == 302
    with app.app_context():
        note = db.session.get(Note, ids[2])
        services.merge(db.session.get(Note, ids[1]), [note], by="host:Oak")
        services.edit_note(note, "Note two, corrected", by="host:Oak")
        services.control(note.question.session, "close", notes_q)
    kinds = [(e[1], e[4], e[7]) for e in trail(app) if e[1] not in ("note", "open")]
    assert kinds == [("hide", ids[0], "fac@example.org"), ("restore", ids[0], "fac@example.org"),
                     ("highlight", ids[1], "fac@example.org"), ("merge", ids[2], "host:Oak"),
                     ("edit", ids[2], "host:Oak"), ("close", None, "")]


def test_deleting_a_question_is_in_the_session_trail(app, client, cafe):
    qid = cafe["questions"][0]
    _, phone = join_phone(app, cafe["code"])
    vote(phone, {"question_id": qid, "client_id": "gone-a-00001", "choices": option_ids(app, qid)[:1]})
    assert client.post(f"/sessions/{cafe['id']}/questions/{qid}/delete").status_code == 302
    with app.app_context():
        (entry,) = db.session.scalars(select(AuditEntry).filter_by(kind="deleted")).all()
        assert (entry.session_id, entry.question_id, entry.target_id) == (cafe["id"], None, qid)
        assert entry.value == "Pick one (1 answer)"
        assert db.session.scalar(select(AuditEntry.id).filter_by(question_id=qid)) is None


# -- receipts ----------------------------------------------------------------------------

def test_receipt_lookup_says_counted_and_current_without_the_choice(app, client, cafe):
    qid = cafe["questions"][0]
    red, green, _ = option_ids(app, qid)
    _, phone = join_phone(app, cafe["code"])
    first = vote(phone, {"question_id": qid, "client_id": "look-a-00001", "choices": [red]})
    page = client.get(f"/sessions/{cafe['id']}/receipts", query_string={"receipt": first["receipt"].lower().replace("-", " ")})
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and first["receipt"] in body
    assert "current answer" in body and "Pick one" in body
    assert not any(colour in body for colour in ("Red", "Green", "Blue"))
    second = vote(phone, {"question_id": qid, "client_id": "look-b-00001", "choices": [green]})
    body = client.get(f"/sessions/{cafe['id']}/receipts", query_string={"receipt": first["receipt"]}).get_data(as_text=True)
    assert "Replaced by the participant's later answer" in body and "current answer" not in body
    assert not any(colour in body for colour in ("Red", "Green", "Blue"))
    body = client.get(f"/sessions/{cafe['id']}/receipts", query_string={"receipt": second["receipt"]}).get_data(as_text=True)
    assert "current answer" in body
    unknown = "ZZZZ-ZZZZ" if "ZZZZ-ZZZZ" not in (first["receipt"], second["receipt"]) else "YYYY-YYYY"
    body = client.get(f"/sessions/{cafe['id']}/receipts", query_string={"receipt": unknown}).get_data(as_text=True)
    assert "No answer in this session has that receipt" in body
    body = client.get(f"/sessions/{cafe['id']}/receipts", query_string={"receipt": "<b>0O1I</b>"}).get_data(as_text=True)
    assert "A receipt is 8 letters and numbers" in body and "<b>0O1I" not in body


def test_receipts_are_private_to_their_session_and_facilitator(app, cafe):
    qid = cafe["questions"][0]
    _, phone = join_phone(app, cafe["code"])
    counted = vote(phone, {"question_id": qid, "client_id": "priv-a-00001", "choices": option_ids(app, qid)[:1]})
    other_session = make_cafe(app, make_facilitator(app, "other@example.org"), title="Other café")
    client = app.test_client()
    login(client, "other@example.org")
    assert client.get(f"/sessions/{cafe['id']}/receipts", query_string={"receipt": counted["receipt"]}).status_code == 404
    body = client.get(f"/sessions/{other_session['id']}/receipts",
                      query_string={"receipt": counted["receipt"]}).get_data(as_text=True)
    assert "No answer in this session has that receipt" in body
    assert client.get(f"/sessions/{cafe['id']}/questions/{qid}/audit.csv").status_code == 404


def test_receipt_codes_look_right_and_differ():
    codes = audit.receipts(2000)
    assert len(set(codes)) == 2000
    assert all(re.fullmatch(r"[ABCDEFGHJKMNPQRSTUVWXYZ2-9]{8}", c) for c in codes)
    assert audit.normalise(" abcd-efgh ") == "ABCDEFGH" and audit.normalise("ABCD-EFG0") is None


# -- the audit download: totals recomputed from the trail equal the results ---------------------

def section(rows, heading):
    """The rows after the totals heading, as {label: count}."""
    start = next(i for i, row in enumerate(rows) if row and row[0].startswith("Totals recomputed"))
    return {row[0]: int(row[1]) for row in rows[start + 1:] if len(row) == 2 and row[1].isdigit()}


def busy_cafe(app, owner_id):
    """Votes, changed votes, late retries and duplicates from several phones; notes moderated, dots placed."""
    cafe = make_cafe(app, owner_id)
    choice, notes_q, yesno, scale, multi = cafe["questions"]
    with app.app_context():
        session = db.session.get(Question, choice).session
        people = [rules.Voter(services.join(session).id, session.id) for _ in range(6)]
    opts = {q: option_ids(app, q) for q in (choice, yesno, multi)}
    writer = Writer(app, app.extensions["socketio"], services.answered)
    batch = []
    for n, who in enumerate(people):
        first = {"question_id": choice, "client_id": f"tot-c{n}-first", "choices": [opts[choice][n % 3]]}
        later = {"question_id": choice, "client_id": f"tot-c{n}-later", "choices": [opts[choice][(n + 1) % 3]]}
        batch += [Item("vote", who, first, None), Item("vote", who, first, None)]
        if n % 2:
            batch += [Item("vote", who, later, None), Item("vote", who, first, None)]  # changed, then a late retry
        batch.append(Item("vote", who, {"question_id": yesno, "client_id": f"tot-yes-{n:03d}", "choices": [opts[yesno][n % 3]]}, None))
        batch.append(Item("vote", who, {"question_id": scale, "client_id": f"tot-scale-{n:03d}", "value": 1 + n % 5}, None))
        batch.append(Item("vote", who, {"question_id": multi, "client_id": f"tot-multi-{n:03d}", "choices": opts[multi][: 1 + n % 4]}, None))
        batch.append(Item("note", who, {"question_id": notes_q, "client_id": f"tot-note-{n:03d}", "text": f"=Idea {n}"}, None))
    with app.app_context():
        writer._commit(batch)
        assert [item.error for item in batch if item.error] == []
        # More changes in a later batch, with late copies of the first answers.
        later = [Item("vote", people[0], {"question_id": scale, "client_id": "tot-scale-again", "value": 5}, None),
                 Item("vote", people[0], {"question_id": scale, "client_id": "tot-scale-000", "value": 1}, None),
                 Item("vote", people[2], {"question_id": choice, "client_id": "tot-c2-first", "choices": [opts[choice][2]]}, None)]
        writer._commit(later)
        note_ids = [db.session.scalar(select(Note.id).filter_by(client_id=f"tot-note-{n:03d}")) for n in range(6)]
        notes = [db.session.get(Note, i) for i in note_ids]
        services.moderate(notes[0], "hide", "fac@example.org")
        services.merge(notes[1], [notes[2]], "fac@example.org")
        services.merge(notes[3], [notes[1]], "fac@example.org")  # the merged note follows: one level deep
        services.unmerge(notes[2], "fac@example.org")
        services.set_dots(session, notes_q, "open", 3)
        dots = [(people[n], {"question_id": notes_q, "note_id": note_ids[t], "client_id": f"tot-dot-{n}-{t}"})
                for n in range(4) for t in (1, 3, 4, 5)[: 1 + n % 3]]
        for who, payload in dots + dots[:2]:  # the first two resent
            record_dots([(who, payload)])
            db.session.commit()
        services.take_back_dot(people[1], {"question_id": notes_q, "dot_id": db.session.scalar(
            select(Dot.id).filter_by(client_id="tot-dot-1-3"))})
        record_dots([(people[1], {"question_id": notes_q, "note_id": note_ids[3], "client_id": "tot-dot-1-3"})])
        db.session.commit()
        services.moderate(notes[5], "hide", "fac@example.org")
    return cafe


def check_totals(app, cafe):
    choice, notes_q, yesno, scale, multi = cafe["questions"]
    with app.app_context():
        for qid in cafe["questions"]:
            question = db.session.get(Question, qid)
            result, again = results(question), audit.totals(question, audit.entries_of(qid))
            assert again["total"] == result["total"], question.kind
            if question.kind == "notes":
                assert result["dots"]["placed"] == again["placed"] > 0
                assert {r["id"]: r["dots"] for r in result["dots"]["ranked"] if r["dots"]} == again["dots"]
            else:
                key = "value" if question.kind == "scale" else "id"
                assert {b[key]: b["count"] for b in result["bars"] if b["count"]} == again["counts"]
        return {qid: results(db.session.get(Question, qid)) for qid in cafe["questions"]}


def test_audit_totals_equal_results(app, client, facilitator):
    cafe = busy_cafe(app, facilitator)
    final = check_totals(app, cafe)
    choice, notes_q, yesno, scale, multi = cafe["questions"]
    assert final[choice]["total"] == 6 and final[notes_q]["total"] == 3  # 6 notes: 2 hidden, 1 merged into another
    # The download, as the facilitator gets it.
    for qid in (choice, scale, multi):
        r = client.get(f"/sessions/{cafe['id']}/questions/{qid}/audit.csv")
        assert r.status_code == 200 and r.mimetype == "text/csv"
        rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
        totals = section(rows, "Totals")
        assert totals.pop("people who voted") == final[qid]["total"]
        key = "value" if qid == scale else "text"
        assert totals == {str(b[key]): b["count"] for b in final[qid]["bars"]}
        head = rows[1]
        entries = [dict(zip(head, row)) for row in rows[2:] if len(row) == len(head)]
        votes = [e for e in entries if e["kind"] == "vote"]
        assert votes and all(RECEIPT.match(e["receipt"]) and re.fullmatch(r"P\d+", e["participant"]) for e in votes)
    # Notes: their text is protected in the spreadsheet; the totals are the notes shown and their dots.
    r = client.get(f"/sessions/{cafe['id']}/questions/{notes_q}/audit.csv")
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert ["'=Idea 0"] == [row[7] for row in rows[2:] if len(row) > 7 and row[7].endswith("Idea 0")]
    totals = section(rows, "Totals")
    assert totals["notes shown"] == final[notes_q]["total"] and totals["dots that count"] == final[notes_q]["dots"]["placed"]


def test_an_imported_session_carries_its_answers_into_the_trail(app, client, facilitator):
    from consult.transfer import export

    cafe = busy_cafe(app, facilitator)
    with app.app_context():
        data = export(db.session.get(Question, cafe["questions"][0]).session)
        copy = services.import_session(data, facilitator)
        copied = {"id": copy.id, "questions": [q.id for q in copy.questions]}
    check_totals(app, copied)


# -- the migration carries earlier answers over -------------------------------------------

def test_the_migration_carries_stored_answers_over(tmp_path, monkeypatch):
    from flask_migrate import upgrade

    from .test_cli import fresh_app

    app = fresh_app(tmp_path, monkeypatch)
    with app.app_context():
        upgrade(revision="7382bbcfb16c")
        for sql in [
            "INSERT INTO facilitator (id, email, password_hash, created_at) VALUES (1, 'a@b.c', 'x', '2026-01-01 10:00:00')",
            "INSERT INTO cafe_session (id, owner_id, title, venue, description, join_code, current_round, moderation, "
            "blocked_words, created_at) VALUES (1, 1, 'Old', '', '', 'ABCDEF', 0, 'post', '', '2026-01-01 10:00:00')",
            "INSERT INTO question (id, session_id, position, kind, text, multiple, allow_unsure, scale_min, scale_max, "
            "min_label, max_label, max_length, is_open, revealed, dots, dots_open, image_alt) "
            "VALUES (1, 1, 0, 'choice', 'Pick', 0, 0, 1, 5, '', '', 280, 1, 1, 0, 0, '')",
            "INSERT INTO option (id, question_id, position, text, image_alt) VALUES (1, 1, 0, 'A', ''), (2, 1, 1, 'B', '')",
            "INSERT INTO participant (id, session_id, token, created_at) VALUES (1, 1, 'tok-1', '2026-01-01 10:00:00'), "
            "(2, 1, 'tok-2', '2026-01-01 10:00:00')",
            "INSERT INTO vote (id, question_id, participant_id, client_id, round, created_at, updated_at) VALUES "
            "(1, 1, 1, 'old-vote-0001', 0, '2026-01-01 10:01:00', '2026-01-01 10:01:00'), "
            "(2, 1, 2, 'old-vote-0002', 0, '2026-01-01 10:02:00', '2026-01-01 10:02:00')",
            "INSERT INTO vote_choice (vote_id, option_id) VALUES (1, 2), (2, 2)",
        ]:
            db.session.execute(text(sql))
        db.session.commit()
        upgrade()
        entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        assert [(e.kind, e.client_id, e.value, e.detail, e.receipt) for e in entries] == [
            ("vote", "old-vote-0001", "2", "carried over", None), ("vote", "old-vote-0002", "2", "carried over", None)]
        question = db.session.get(Question, 1)
        assert audit.totals(question, entries) == {"total": 2, "counts": {2: 2}}
        # A retry of an answer stored before the trail is still recognised.
        (done,) = rules.record_votes([(rules.Voter(1, 1), {"question_id": 1, "client_id": "old-vote-0001", "choices": [1]})])
        assert done == (1, False)


# -- PostgreSQL ----------------------------------------------------------------------------

def test_late_retries_and_totals_on_postgres(pg_app):
    pg_app.config.update(CONSULT_BROADCAST_INTERVAL=0)
    cafe = busy_cafe(pg_app, make_facilitator(pg_app))
    qid = cafe["questions"][0]
    red, green = option_ids(pg_app, qid)[:2]
    with pg_app.app_context():
        who = services.join(db.session.get(Question, qid).session)
        cast_vote(who, {"question_id": qid, "client_id": "pg-late-a001", "choices": [red]})
        cast_vote(who, {"question_id": qid, "client_id": "pg-late-b001", "choices": [green]})
        late = cast_vote(who, {"question_id": qid, "client_id": "pg-late-a001", "choices": [red]})
        assert tuple(late) == (late[0], False) and late.current is False
        assert db.session.scalar(select(Vote.client_id).filter_by(participant_id=who.id)) == "pg-late-b001"
    check_totals(pg_app, cafe)


def test_the_audit_download_keeps_formulas_from_running(app, client, cafe):
    qid = cafe["questions"][1]
    _, phone = join_phone(app, cafe["code"])
    # A client id may start with a minus sign, which a spreadsheet reads as a formula, as it does "=".
    ack = phone.emit("note", {"question_id": qid, "client_id": "-1-1-1-1-1", "text": "=HYPERLINK(\"http://x\")"},
                     namespace=PHONE, callback=True)
    assert ack["ok"]
    rows = list(csv.reader(io.StringIO(client.get(f"/sessions/{cafe['id']}/questions/{qid}/audit.csv").get_data(as_text=True))))
    (row,) = [row for row in rows if len(row) > 5 and row[2] == "note"]
    assert row[5] == "'-1-1-1-1-1" and row[7] == "'=HYPERLINK(\"http://x\")" and row[1] == ack["receipt"]
