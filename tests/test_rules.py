"""Domain rules and result aggregation, without HTTP or sockets."""
import pytest

from consult import rules
from consult.extensions import db
from consult.models import CafeSession, Note, Participant, Question, Vote
from consult.results import results

from .conftest import make_cafe, option_ids


@pytest.fixture
def ctx(app, facilitator, cafe):
    with app.app_context():
        session = db.session.get(CafeSession, cafe["id"])
        yield session, rules.join(session), [db.session.get(Question, i) for i in cafe["questions"]]


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
    assert rules.join(session, p.token).id == p.id
    assert rules.join(session, "forged").id != p.id


def test_vote_counts_once_and_can_change(ctx):
    session, p, qs = ctx
    red, green, _ = [o.id for o in qs[0].options]
    vote, changed = rules.cast_vote(p, {"question_id": qs[0].id, "client_id": "vote-aaaa-1", "choices": [red]})
    assert changed
    again, changed = rules.cast_vote(p, {"question_id": qs[0].id, "client_id": "vote-aaaa-1", "choices": [red]})
    assert again.id == vote.id and not changed
    rules.cast_vote(p, {"question_id": qs[0].id, "client_id": "vote-aaaa-2", "choices": [green]})
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
        rules.cast_vote(p, payload)


def test_vote_rules(ctx):
    _, p, qs = ctx
    choice, notes, yesno, scale, multi = qs
    base = {"client_id": "c-00000001"}
    with pytest.raises(rules.Invalid, match="Choose an answer"):
        rules.cast_vote(p, {**base, "question_id": choice.id, "choices": []})
    with pytest.raises(rules.Invalid, match="not one of the options"):
        rules.cast_vote(p, {**base, "question_id": choice.id, "choices": [multi.options[0].id]})
    with pytest.raises(rules.Invalid, match="only one"):
        rules.cast_vote(p, {**base, "question_id": choice.id, "choices": [o.id for o in choice.options[:2]]})
    with pytest.raises(rules.Invalid, match="notes, not votes"):
        rules.cast_vote(p, {**base, "question_id": notes.id, "choices": [1]})
    with pytest.raises(rules.Invalid, match="from 1 to 5"):
        rules.cast_vote(p, {**base, "question_id": scale.id, "value": 6})
    with pytest.raises(rules.Invalid, match="Choose a number"):
        rules.cast_vote(p, {**base, "question_id": scale.id, "value": "3"})
    rules.cast_vote(p, {**base, "question_id": multi.id, "choices": [o.id for o in multi.options[:3]]})
    rules.cast_vote(p, {"client_id": "c-00000002", "question_id": scale.id, "value": 4})
    rules.cast_vote(p, {"client_id": "c-00000003", "question_id": yesno.id, "choices": [yesno.options[2].id]})
    assert [o.text for o in yesno.options] == ["Yes", "No", "Not sure"]
    assert [b["count"] for b in results(multi)["bars"]] == [1, 1, 1, 0]
    r = results(scale)
    assert r["mean"] == 4 and r["bars"][3]["count"] == 1 and r["bars"][0]["text"] == "1 (Not)"


def test_closed_question_refuses_and_keeps_nothing(ctx):
    session, p, qs = ctx
    rules.control(session, "close", qs[0].id)
    with pytest.raises(rules.Invalid, match="closed"):
        rules.cast_vote(p, {"client_id": "c-00000001", "question_id": qs[0].id, "choices": [qs[0].options[0].id]})
    assert db.session.query(Vote).count() == 0


def test_a_client_id_cannot_be_taken_over(ctx):
    session, p, qs = ctx
    other = rules.join(session)
    rules.cast_vote(p, {"client_id": "c-00000001", "question_id": qs[0].id, "choices": [qs[0].options[0].id]})
    with pytest.raises(rules.Invalid):
        rules.cast_vote(other, {"client_id": "c-00000001", "question_id": qs[0].id, "choices": [qs[0].options[0].id]})


def test_participant_cannot_answer_another_session(app, ctx, facilitator):
    _, p, _ = ctx
    other = make_cafe(app, facilitator, title="Other")
    with pytest.raises(rules.Invalid, match="not found"):
        rules.cast_vote(p, {"client_id": "c-00000001", "question_id": other["questions"][0],
                            "choices": option_ids(app, other["questions"][0])[:1]})


def test_notes(ctx):
    _, p, qs = ctx
    notes = qs[1]
    base = {"question_id": notes.id}
    with pytest.raises(rules.Invalid, match="Write a note"):
        rules.post_note(p, {**base, "client_id": "n-00000001", "text": "   "})
    with pytest.raises(rules.Invalid, match="limit is 50"):
        rules.post_note(p, {**base, "client_id": "n-00000001", "text": "x" * 51})
    with pytest.raises(rules.Invalid, match="Write a note"):
        rules.post_note(p, {**base, "client_id": "n-00000001", "text": 5})
    note, created = rules.post_note(p, {**base, "client_id": "n-00000001", "text": " <b>Jobs</b> £ “ok” 🙂 "})
    assert created and note.text == "<b>Jobs</b> £ “ok” 🙂"
    _, created = rules.post_note(p, {**base, "client_id": "n-00000001", "text": "<b>Jobs</b>"})
    assert not created
    rules.post_note(p, {**base, "client_id": "n-00000002", "text": "Second"})
    r = results(notes)
    assert r["total"] == 2 and [n["text"] for n in r["notes"]] == ["<b>Jobs</b> £ “ok” 🙂", "Second"]
    with pytest.raises(rules.Invalid, match="votes, not notes"):
        rules.post_note(p, {"question_id": qs[0].id, "client_id": "n-00000003", "text": "hi"})


def test_control_actions(ctx):
    session, _, qs = ctx
    rules.control(session, "close", qs[2].id)
    assert not qs[2].is_open
    rules.control(session, "open", qs[2].id)
    assert qs[2].is_open and session.current_question is qs[2]
    rules.control(session, "show", qs[1].id)
    assert session.current_question is qs[1]
    rules.control(session, "hide", qs[1].id)
    assert not qs[1].revealed
    rules.control(session, "reveal", qs[1].id)
    assert qs[1].revealed
    with pytest.raises(rules.Invalid):
        rules.control(session, "explode", qs[1].id)
    with pytest.raises(rules.Invalid):
        rules.control(session, "open", 10**9)


def test_editing_keeps_answers(ctx):
    session, p, qs = ctx
    choice = qs[0]
    red = choice.options[0].id
    rules.cast_vote(p, {"client_id": "c-00000001", "question_id": choice.id, "choices": [red]})
    rules.save_question(session, choice, {"kind": "choice", "text": "Pick a colour", "options": "Crimson\nGreen\nBlue\nGold"})
    assert choice.options[0].id == red and choice.options[0].text == "Crimson"
    assert results(choice)["bars"][0]["count"] == 1
    with pytest.raises(rules.Invalid, match="has votes"):
        rules.save_question(session, choice, {"kind": "choice", "text": "x", "options": "Green\nBlue"})
    with pytest.raises(rules.Invalid, match="type cannot change"):
        rules.save_question(session, choice, {"kind": "notes", "text": "x"})
    db.session.refresh(choice)
    assert choice.text == "Pick a colour" and len(choice.options) == 4
    rules.save_question(session, choice, {"kind": "choice", "text": "x", "options": "Crimson\nGreen\nBlue"})
    assert len(choice.options) == 3


def test_question_validation(ctx):
    session, _, _ = ctx
    with pytest.raises(rules.Invalid, match="2 to 12"):
        rules.save_question(session, None, {"kind": "choice", "text": "x", "options": "only one"})
    with pytest.raises(rules.Invalid, match="2 to 12"):
        rules.save_question(session, None, {"kind": "choice", "text": "x", "options": "\n".join(map(str, range(13)))})
    with pytest.raises(rules.Invalid, match="scale"):
        rules.save_question(session, None, {"kind": "scale", "text": "x", "scale_min": 5, "scale_max": 5})
    q = rules.save_question(session, None, {"kind": "scale", "text": "x", "scale_min": 0, "scale_max": 10})
    assert [b["value"] for b in results(q)["bars"]] == list(range(11))


def test_move_and_duplicate(ctx):
    session, p, qs = ctx
    rules.cast_vote(p, {"client_id": "c-00000001", "question_id": qs[0].id, "choices": [qs[0].options[0].id]})
    rules.move_question(qs[1], -1)
    assert [q.id for q in session.questions][:2] == [qs[1].id, qs[0].id]
    copy = rules.duplicate_session(session)
    assert copy.join_code != session.join_code
    assert [q.text for q in copy.questions] == [q.text for q in session.questions]
    assert [len(q.options) for q in copy.questions] == [len(q.options) for q in session.questions]
    assert all(not q.votes and not q.is_open for q in copy.questions)


def test_deleting_a_session_removes_its_answers(ctx):
    session, p, qs = ctx
    rules.cast_vote(p, {"client_id": "c-00000001", "question_id": qs[0].id, "choices": [qs[0].options[0].id]})
    rules.post_note(p, {"client_id": "n-00000001", "question_id": qs[1].id, "text": "hi"})
    db.session.delete(session)
    db.session.commit()
    assert db.session.query(Vote).count() == db.session.query(Note).count() == db.session.query(Participant).count() == 0
