"""World Café rules: tables, rounds, hosts, moderation (no HTTP, no sockets)."""
import pytest

from consult import services
from consult import cafe as rules_cafe
from consult import rules
from consult.extensions import db
from consult.models import CafeSession, CafeTable, HostSummary, Note, NoteEdit, Participant, Question, Vote
from consult.results import results

from .conftest import cast_vote, post_note


@pytest.fixture
def ctx(app, facilitator, cafe):
    with app.app_context():
        session = db.session.get(CafeSession, cafe["id"])
        services.set_tables(session, rules_cafe.table_names("3"))
        yield session, [db.session.get(Question, i) for i in cafe["questions"]]


def seat(session, table):
    p = services.join(session)
    services.choose_table(p, table.id)
    return rules.Voter(p.id, session.id)


def test_table_names():
    assert rules_cafe.table_names("3") == ["Table 1", "Table 2", "Table 3"]
    assert rules_cafe.table_names(" Oak \n\n Ash ") == ["Oak", "Ash"]
    with pytest.raises(rules.Invalid, match="same name"):
        rules_cafe.table_names("Oak\noak")
    with pytest.raises(rules.Invalid, match="At most"):
        rules_cafe.table_names("61")


def test_tables_rename_add_and_keep_answered_ones(ctx):
    session, qs = ctx
    t1, t2, t3 = session.tables
    token = t1.host_token
    services.set_tables(session, ["Oak", "Ash", "Elm", "Yew"])
    assert [t.name for t in session.tables] == ["Oak", "Ash", "Elm", "Yew"] and t1.host_token == token
    post_note(seat(session, t3), {"question_id": qs[1].id, "client_id": "n-0000001", "text": "hi"})
    with pytest.raises(rules.Invalid, match="Elm has answers"):
        services.set_tables(session, ["Oak", "Ash"])
    assert len(session.tables) == 4
    services.set_tables(session, ["Oak", "Ash", "Elm"])
    assert [t.name for t in session.tables] == ["Oak", "Ash", "Elm"]


def test_answers_record_table_and_round(ctx):
    session, qs = ctx
    t1, t2, _ = session.tables
    who = seat(session, t1)
    cast_vote(who, {"question_id": qs[0].id, "client_id": "v-0000001", "choices": [qs[0].options[0].id]})
    assert services.start_round(session) == 1
    post_note(who, {"question_id": qs[1].id, "client_id": "n-0000001", "text": "round one"})
    services.start_round(session)
    services.choose_table(db.session.get(Participant, who.id), t2.id)
    moved = who
    post_note(moved, {"question_id": qs[1].id, "client_id": "n-0000002", "text": "round two"})
    cast_vote(moved, {"question_id": qs[0].id, "client_id": "v-0000002", "choices": [qs[0].options[1].id]})
    vote = db.session.query(Vote).one()
    assert (vote.table_id, vote.round) == (t2.id, 2)
    notes = db.session.query(Note).order_by(Note.id).all()
    assert [(n.table_id, n.round) for n in notes] == [(t1.id, 1), (t2.id, 2)]
    assert [n["text"] for n in results(qs[1], 1)["notes"]] == ["round one"]
    assert results(qs[1])["total"] == 2
    assert results(qs[0], 1)["total"] == 0 and results(qs[0], 2)["total"] == 1
    services.show_round(session, "1")
    assert session.shown_round == 1
    services.show_round(session, "all")
    assert session.shown_round is None
    with pytest.raises(rules.Invalid, match="not started"):
        services.show_round(session, 3)


def test_choose_table_only_in_own_session(app, ctx, facilitator):
    session, _ = ctx
    p = services.join(session)
    other = CafeSession(owner_id=facilitator, title="Other", join_code=rules.unique_join_code())
    other.tables.append(CafeTable(name="Far"))
    db.session.add(other)
    db.session.commit()
    with pytest.raises(rules.Invalid, match="table was not found"):
        services.choose_table(p, other.tables[0].id)
    with pytest.raises(rules.Invalid):
        services.choose_table(p, "x")
    assert services.choose_table(p, session.tables[1].id) == session.tables[1].id
    assert services.choose_table(p, None) is None


def test_host_tokens_and_revoking(ctx):
    session, _ = ctx
    table = session.tables[0]
    old = table.host_token
    assert rules_cafe.host_table(old) is table
    new = services.revoke_host(table)
    assert new != old and rules_cafe.host_table(old) is None and rules_cafe.host_table(new) is table
    assert rules_cafe.host_table("") is None and rules_cafe.host_table(None) is None


def test_host_notes_edits_merges_highlights_summaries(ctx):
    session, qs = ctx
    t1, t2, _ = session.tables
    notes_q = qs[1]
    who = seat(session, t1)
    a, _ = post_note(who, {"question_id": notes_q.id, "client_id": "n-0000001", "text": "More jobz"})
    b, _ = post_note(who, {"question_id": notes_q.id, "client_id": "n-0000002", "text": "more jobs"})
    h, created = services.host_note(t1, {"question_id": notes_q.id, "client_id": "h-0000001", "text": "Said aloud"})
    assert created and services.host_note(t1, {"question_id": notes_q.id, "client_id": "h-0000001", "text": "x"}) == (h, False)
    with pytest.raises(rules.Invalid):
        services.host_note(t2, {"question_id": notes_q.id, "client_id": "h-0000001", "text": "x"})
    with pytest.raises(rules.Invalid, match="not found"):
        services.host_note(t1, {"question_id": qs[0].id, "client_id": "h-0000002", "text": "x"})

    # A host reaches only their own table's notes.
    with pytest.raises(rules.Invalid, match="not found"):
        rules_cafe.note_in(session, a, table=t2)
    note_a = rules_cafe.note_in(session, a, table=t1)
    services.edit_note(note_a, "More jobs", by="host:Table 1")
    assert note_a.text == "More jobs" and [e.text for e in note_a.edits] == ["More jobz"]
    with pytest.raises(rules.Invalid, match="limit is 50"):
        services.edit_note(note_a, "x" * 51, by="host")

    note_b = rules_cafe.note_in(session, b)
    services.highlight(note_b, True)
    services.merge(note_a, [note_b], by="host:Table 1")
    assert note_b.merged_into_id == note_a.id and note_a.highlight  # a merge keeps the highlight
    shown = [n["text"] for n in results(notes_q)["notes"]]
    assert shown == ["More jobs", "Said aloud"]
    assert db.session.get(Note, b).text == "more jobs"  # the original is kept
    with pytest.raises(rules.Invalid):
        services.merge(note_a, [note_a], by="x")
    services.unmerge(note_b, by="facilitator")
    assert len(results(notes_q)["notes"]) == 3

    services.save_summary(t1, notes_q, 0, "  Jobs, jobs, jobs ")
    services.save_summary(t1, notes_q, 0, "Jobs and skills")
    assert db.session.query(HostSummary).one().text == "Jobs and skills"
    listed = rules_cafe.table_notes(t1, notes_q.id)
    assert [n["text"] for n in listed] == ["More jobs", "more jobs", "Said aloud"]
    assert listed[0]["edited"] and listed[2]["author"] == "host"


def test_moderation(ctx):
    session, qs = ctx
    notes_q = qs[1]
    who = seat(session, session.tables[0])
    services.set_moderation(session, "post", "darn\n  rude words \n")
    n1, _ = post_note(who, {"question_id": notes_q.id, "client_id": "n-0000001", "text": "Darn buses"})
    n2, _ = post_note(who, {"question_id": notes_q.id, "client_id": "n-0000002", "text": "Darned good"})
    n3, _ = post_note(who, {"question_id": notes_q.id, "client_id": "n-0000003", "text": "such RUDE WORDS"})
    assert [db.session.get(Note, i).status for i in (n1, n2, n3)] == ["held", "visible", "held"]
    assert [n["text"] for n in rules_cafe.review_queue(session)] == ["Darn buses", "such RUDE WORDS"]
    assert [n["text"] for n in results(notes_q)["notes"]] == ["Darned good"]

    services.set_moderation(session, "pre", "")
    n4, _ = post_note(who, {"question_id": notes_q.id, "client_id": "n-0000004", "text": "Needs a look"})
    assert db.session.get(Note, n4).status == "pending"
    services.moderate(db.session.get(Note, n4), "approve", by="facilitator")
    services.moderate(db.session.get(Note, n2), "hide", by="host:Table 1")
    assert [n["text"] for n in results(notes_q)["notes"]] == ["Needs a look"]
    services.moderate(db.session.get(Note, n2), "restore", by="facilitator")
    assert len(results(notes_q)["notes"]) == 2
    actions = [e.action for e in db.session.query(NoteEdit).filter_by(note_id=n2).order_by(NoteEdit.id)]
    assert actions == ["hide", "restore"]
    with pytest.raises(rules.Invalid):
        services.moderate(db.session.get(Note, n2), "delete", by="x")
    with pytest.raises(rules.Invalid):
        services.set_moderation(session, "sometimes", "")
