"""Domain rules and result aggregation, without HTTP or sockets."""
import pytest

from consult import services
from consult import rules
from consult.extensions import db
from consult.models import CafeSession, Note, Participant, Question, Vote
from consult.results import results

from .conftest import cast_vote, make_cafe, option_ids, post_note


@pytest.fixture
def ctx(app, facilitator, cafe):
    with app.app_context():
        session = db.session.get(CafeSession, cafe["id"])
        yield session, services.join(session), [db.session.get(Question, i) for i in cafe["questions"]]


def test_join_codes_avoid_ambiguous_characters():
    for _ in range(200):
        code = rules.new_join_code()
        assert code and len(code) == 6 and not set(code) & set("0O1IL")


def test_normalise_code_accepts_typing_variants():
    assert rules.normalise_code(" ab-c 234 ") == "ABC234"
    assert rules.normalise_code("ABC23O") is None  # O is never in a code
    assert rules.normalise_code(None) is None
    assert rules.normalise_code("ABC") is None


def test_join_reuses_a_known_token(ctx):
    session, p, _ = ctx
    assert services.join(session, p.token).id == p.id
    assert services.join(session, "forged").id != p.id


def test_vote_counts_once_and_can_change(ctx):
    session, p, qs = ctx
    red, green, _ = [o.id for o in qs[0].options]
    vote_id, changed = cast_vote(p, {"question_id": qs[0].id, "client_id": "vote-aaaa-1", "choices": [red]})
    assert changed
    again, changed = cast_vote(p, {"question_id": qs[0].id, "client_id": "vote-aaaa-1", "choices": [red]})
    assert again == vote_id and not changed
    cast_vote(p, {"question_id": qs[0].id, "client_id": "vote-aaaa-2", "choices": [green]})
    assert db.session.query(Vote).filter_by(question_id=qs[0].id).count() == 1
    r = results(qs[0])
    assert r["total"] == 1
    assert [b["count"] for b in r["bars"]] == [0, 1, 0]
    assert r["bars"][1]["percent"] == 100.0


@pytest.mark.parametrize(
    "payload, message",
    [
        (None, "malformed"),
        ({"question_id": 1, "choices": [1]}, "malformed"),
        ({"client_id": "short", "choices": [1]}, "malformed"),
        ({"client_id": "x" * 65, "choices": [1]}, "malformed"),
        ({"client_id": "c-000001", "question_id": "1"}, "not found"),
        ({"client_id": "c-000001", "question_id": 99999, "choices": [1]}, "not found"),
        ({"client_id": "c-000001", "question_id": True, "choices": [1]}, "not found"),
    ],
)
def test_bad_vote_payloads_are_refused(ctx, payload, message):
    _, p, qs = ctx
    with pytest.raises(rules.Invalid, match=message):
        cast_vote(p, payload)


def test_vote_rules(ctx):
    _, p, qs = ctx
    choice, notes, yesno, scale, multi = qs
    base = {"client_id": "c-00000001"}
    with pytest.raises(rules.Invalid, match="Choose an answer"):
        cast_vote(p, {**base, "question_id": choice.id, "choices": []})
    with pytest.raises(rules.Invalid, match="not one of the options"):
        cast_vote(p, {**base, "question_id": choice.id, "choices": [multi.options[0].id]})
    with pytest.raises(rules.Invalid, match="only one"):
        cast_vote(p, {**base, "question_id": choice.id, "choices": [o.id for o in choice.options[:2]]})
    with pytest.raises(rules.Invalid, match="notes, not votes"):
        cast_vote(p, {**base, "question_id": notes.id, "choices": [1]})
    with pytest.raises(rules.Invalid, match="from 1 to 5"):
        cast_vote(p, {**base, "question_id": scale.id, "value": 6})
    with pytest.raises(rules.Invalid, match="Choose a number"):
        cast_vote(p, {**base, "question_id": scale.id, "value": "3"})
    cast_vote(p, {**base, "question_id": multi.id, "choices": [o.id for o in multi.options[:3]]})
    cast_vote(p, {"client_id": "c-00000002", "question_id": scale.id, "value": 4})
    cast_vote(p, {"client_id": "c-00000003", "question_id": yesno.id, "choices": [yesno.options[2].id]})
    assert [o.text for o in yesno.options] == ["Yes", "No", "Not sure"]
    assert [b["count"] for b in results(multi)["bars"]] == [1, 1, 1, 0]
    r = results(scale)
    assert r["mean"] == 4 and r["bars"][3]["count"] == 1 and r["bars"][0]["text"] == "1 (Not)"


def test_closed_question_refuses_and_keeps_nothing(ctx):
    session, p, qs = ctx
    services.control(session, "close", qs[0].id)
    with pytest.raises(rules.Invalid, match="closed"):
        cast_vote(p, {"client_id": "c-00000001", "question_id": qs[0].id, "choices": [qs[0].options[0].id]})
    assert db.session.query(Vote).count() == 0


def test_a_client_id_cannot_be_taken_over(ctx):
    session, p, qs = ctx
    other = services.join(session)
    cast_vote(p, {"client_id": "c-00000001", "question_id": qs[0].id, "choices": [qs[0].options[0].id]})
    with pytest.raises(rules.Invalid):
        cast_vote(other, {"client_id": "c-00000001", "question_id": qs[0].id, "choices": [qs[0].options[0].id]})


def test_participant_cannot_answer_another_session(app, ctx, facilitator):
    _, p, _ = ctx
    other = make_cafe(app, facilitator, title="Other")
    with pytest.raises(rules.Invalid, match="not found"):
        cast_vote(p, {"client_id": "c-00000001", "question_id": other["questions"][0],
                            "choices": option_ids(app, other["questions"][0])[:1]})


def test_notes(ctx):
    _, p, qs = ctx
    notes = qs[1]
    base = {"question_id": notes.id}
    with pytest.raises(rules.Invalid, match="Write a note"):
        post_note(p, {**base, "client_id": "n-00000001", "text": "   "})
    with pytest.raises(rules.Invalid, match="limit is 50"):
        post_note(p, {**base, "client_id": "n-00000001", "text": "x" * 51})
    with pytest.raises(rules.Invalid, match="Write a note"):
        post_note(p, {**base, "client_id": "n-00000001", "text": 5})
    note_id, created = post_note(p, {**base, "client_id": "n-00000001", "text": " <b>Jobs</b> £ “ok” 🙂 "})
    assert created and db.session.get(Note, note_id).text == "<b>Jobs</b> £ “ok” 🙂"
    _, created = post_note(p, {**base, "client_id": "n-00000001", "text": "<b>Jobs</b>"})
    assert not created
    post_note(p, {**base, "client_id": "n-00000002", "text": "Second"})
    r = results(notes)
    assert r["total"] == 2 and [n["text"] for n in r["notes"]] == ["<b>Jobs</b> £ “ok” 🙂", "Second"]
    with pytest.raises(rules.Invalid, match="votes, not notes"):
        post_note(p, {"question_id": qs[0].id, "client_id": "n-00000003", "text": "hi"})


def test_control_actions(ctx):
    session, _, qs = ctx
    services.control(session, "close", qs[2].id)
    assert not qs[2].is_open
    services.control(session, "open", qs[2].id)
    assert qs[2].is_open and session.current_question is qs[2]
    services.control(session, "show", qs[1].id)
    assert session.current_question is qs[1]
    services.control(session, "hide", qs[1].id)
    assert not qs[1].revealed
    services.control(session, "reveal", qs[1].id)
    assert qs[1].revealed
    with pytest.raises(rules.Invalid):
        services.control(session, "explode", qs[1].id)
    with pytest.raises(rules.Invalid):
        services.control(session, "open", 10**9)


def test_editing_keeps_answers(ctx):
    session, p, qs = ctx
    choice = qs[0]
    red = choice.options[0].id
    cast_vote(p, {"client_id": "c-00000001", "question_id": choice.id, "choices": [red]})
    services.save_question(session, choice, {"kind": "choice", "text": "Pick a colour", "options": "Crimson\nGreen\nBlue\nGold"})
    assert choice.options[0].id == red and choice.options[0].text == "Crimson"
    assert results(choice)["bars"][0]["count"] == 1
    with pytest.raises(rules.Invalid, match="has votes"):
        services.save_question(session, choice, {"kind": "choice", "text": "x", "options": "Green\nBlue"})
    with pytest.raises(rules.Invalid, match="type cannot change"):
        services.save_question(session, choice, {"kind": "notes", "text": "x"})
    db.session.refresh(choice)
    assert choice.text == "Pick a colour" and len(choice.options) == 4
    services.save_question(session, choice, {"kind": "choice", "text": "x", "options": "Crimson\nGreen\nBlue"})
    assert len(choice.options) == 3


def test_question_validation(ctx):
    session, _, _ = ctx
    with pytest.raises(rules.Invalid, match="2 to 12"):
        services.save_question(session, None, {"kind": "choice", "text": "x", "options": "only one"})
    with pytest.raises(rules.Invalid, match="2 to 12"):
        services.save_question(session, None, {"kind": "choice", "text": "x", "options": "\n".join(map(str, range(13)))})
    with pytest.raises(rules.Invalid, match="scale"):
        services.save_question(session, None, {"kind": "scale", "text": "x", "scale_min": 5, "scale_max": 5})
    q = services.save_question(session, None, {"kind": "scale", "text": "x", "scale_min": 0, "scale_max": 10})
    assert [b["value"] for b in results(q)["bars"]] == list(range(11))


def test_move_and_duplicate(ctx):
    session, p, qs = ctx
    cast_vote(p, {"client_id": "c-00000001", "question_id": qs[0].id, "choices": [qs[0].options[0].id]})
    services.move_question(qs[1], -1)
    assert [q.id for q in session.questions][:2] == [qs[1].id, qs[0].id]
    copy = services.duplicate_session(session)
    assert copy.join_code != session.join_code
    assert [q.text for q in copy.questions] == [q.text for q in session.questions]
    assert [len(q.options) for q in copy.questions] == [len(q.options) for q in session.questions]
    assert all(not q.votes and not q.is_open for q in copy.questions)


def test_deleting_a_session_removes_its_answers(ctx):
    session, p, qs = ctx
    cast_vote(p, {"client_id": "c-00000001", "question_id": qs[0].id, "choices": [qs[0].options[0].id]})
    post_note(p, {"client_id": "n-00000001", "question_id": qs[1].id, "text": "hi"})
    db.session.delete(session)
    db.session.commit()
    assert db.session.query(Vote).count() == db.session.query(Note).count() == db.session.query(Participant).count() == 0


def test_record_votes_in_one_batch(ctx):
    """A burst arrives as one batch: retries, changes, bad items and new votes together."""
    session, p, qs = ctx
    choice, scale = qs[0], qs[3]
    red, green, blue = [o.id for o in choice.options]
    q = rules.Voter(p.id, session.id)
    others = [rules.Voter(services.join(session).id, session.id) for _ in range(3)]
    cast_vote(q, {"question_id": choice.id, "client_id": "before-01", "choices": [red]})
    items = [
        (q, {"question_id": choice.id, "client_id": "before-01", "choices": [red]}),  # a retry
        (q, {"question_id": choice.id, "client_id": "change-01", "choices": [green]}),  # a change
        (others[0], {"question_id": choice.id, "client_id": "new-0001", "choices": [blue]}),
        (others[0], {"question_id": choice.id, "client_id": "new-0001", "choices": [blue]}),  # sent twice at once
        (others[1], {"question_id": choice.id, "client_id": "new-0002", "choices": []}),  # empty
        (others[1], {"question_id": scale.id, "client_id": "new-0003", "value": 2}),
        (others[2], {"question_id": choice.id, "client_id": "new-0004", "choices": [red]}),
        (others[2], {"question_id": choice.id, "client_id": "new-0005", "choices": [green]}),  # changed at once
        (others[2], {"question_id": choice.id, "client_id": "new-0003", "choices": [red]}),  # someone else's id
    ]
    out = rules.record_votes(items)
    db.session.commit()
    assert out[0][1] is False and out[1][1] is True and out[0][0] == out[1][0]
    assert out[2][1] is True and out[3] == (out[2][0], False)
    assert isinstance(out[4], rules.Invalid) and "Choose an answer" in str(out[4])
    assert out[5][1] is True
    assert out[6][1] is True and out[7] == (out[6][0], True)
    assert isinstance(out[8], rules.Invalid)
    assert [b["count"] for b in results(choice)["bars"]] == [0, 2, 1]
    assert results(scale)["mean"] == 2
    assert db.session.query(Vote).count() == 4


def test_record_notes_in_one_batch(ctx):
    session, p, qs = ctx
    notes = qs[1]
    q = rules.Voter(p.id, session.id)
    out = rules.record_notes([
        (q, {"question_id": notes.id, "client_id": "note-0001", "text": "one"}),
        (q, {"question_id": notes.id, "client_id": "note-0001", "text": "one"}),
        (q, {"question_id": notes.id, "client_id": "note-0002", "text": "x" * 51}),
        (q, {"question_id": notes.id, "client_id": "note-0003", "text": "two"}),
    ])
    db.session.commit()
    assert out[0][1] and out[1] == (out[0][0], False) and isinstance(out[2], rules.Invalid) and out[3][1]
    assert [n["text"] for n in results(notes)["notes"]] == ["one", "two"]


def test_the_writer_batches_concurrent_answers(app, cafe):
    """Many requests answering at once: each gets its own ack, from fewer commits than answers."""
    import threading

    from sqlalchemy import event

    writer = app.extensions["consult"].writer
    with app.app_context():
        session = db.session.get(CafeSession, cafe["id"])
        voters = [rules.Voter(services.join(session).id, session.id) for _ in range(40)]
        qid = cafe["questions"][0]
        options = option_ids(app, qid)
        engine = db.engine
    acks, commits = {}, []
    event.listen(engine, "commit", lambda conn: commits.append(1))
    start = threading.Barrier(40)

    def vote(i):
        payload = {"question_id": qid, "client_id": f"burst-{i:04d}", "choices": [options[i % 3]]}
        if i == 39:
            payload["choices"] = []
        start.wait()
        acks[i] = writer.wait("vote", voters[i], payload)

    threads = [threading.Thread(target=vote, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert acks.pop(39) == {"ok": False, "error": "Choose an answer before sending."}
    assert len(acks) == 39 and all(ack["ok"] and ack["id"] for ack in acks.values())
    assert len({ack["id"] for ack in acks.values()}) == 39
    assert len(commits) < 39  # answers that came together shared a commit
    with app.app_context():
        assert db.session.query(Vote).count() == 39
