"""Dot-voting rules (consult/dots.py) and the ranking (consult/results.py), without HTTP or sockets."""
import pytest

from consult import services
from consult import dots, rules
from consult.extensions import db
from consult.models import CafeSession, Dot, Question
from consult.results import hidden, results

from .conftest import make_cafe, place_dot, post_note

pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
def ctx(app, facilitator, cafe):
    """The café's notes question with three visible notes, and two people."""
    with app.app_context():
        session = db.session.get(CafeSession, cafe["id"])
        qs = [db.session.get(Question, i) for i in cafe["questions"]]
        notes_q = qs[1]
        writer = rules.Voter(services.join(session).id, session.id)
        ids = [post_note(writer, {"question_id": notes_q.id, "client_id": f"note-000{i}", "text": t})[0]
               for i, t in enumerate(["Buses", "Jobs", "Parks"])]
        people = [rules.Voter(services.join(session).id, session.id) for _ in range(2)]
        yield session, qs, notes_q, ids, people


def dot(who, q, note_id, client_id):
    return place_dot(who, {"question_id": q.id, "note_id": note_id, "client_id": client_id})


def count(**filters):
    return db.session.query(Dot).filter_by(**filters).count()


def ranking(q):
    return [(n["text"], n["dots"], n["rank"]) for n in results(q)["dots"]["ranked"]]


def test_open_and_close(ctx):
    session, qs, q, _, _ = ctx
    assert q.is_open and session.current_question is qs[0]
    services.set_dots(session, q.id, "open", 3)
    assert (q.dots, q.dots_open, q.is_open) == (3, True, False)  # no new notes while people prioritise
    assert session.current_question is q  # and the question is on screen
    services.set_dots(session, str(q.id), "close")
    assert (q.dots, q.dots_open) == (3, False)
    services.set_dots(session, q.id, "open", "5")  # a form sends digits
    assert (q.dots, q.dots_open) == (5, True)
    services.control(session, "open", q.id)  # taking notes again ends dot-voting
    assert q.is_open and not q.dots_open and q.dots == 5


@pytest.mark.parametrize("n", [0, 21, -1, None, "", "x", "3.5", True, 2.0, [3], "1000", "²", "٣"])
def test_open_needs_1_to_20_dots(ctx, n):
    session, _, q, _, _ = ctx
    with pytest.raises(rules.Invalid, match="from 1 to 20 dots"):
        services.set_dots(session, q.id, "open", n)
    assert not q.dots_open


def test_open_refuses_other_questions_and_actions(ctx, app, facilitator):
    session, qs, q, _, _ = ctx
    with pytest.raises(rules.Invalid, match="open-notes questions only"):
        services.set_dots(session, qs[0].id, "open", 3)
    other = make_cafe(app, facilitator, title="Other")
    for question_id in (other["questions"][1], 2**40, "x", None, True):
        with pytest.raises(rules.Invalid, match="question was not found"):
            services.set_dots(session, question_id, "open", 3)
    with pytest.raises(rules.Invalid, match="Unknown action"):
        services.set_dots(session, q.id, "reset", 3)


def test_place_stack_limit_and_take_back(ctx):
    session, _, q, (buses, jobs, parks), (ann, bob) = ctx
    services.set_dots(session, q.id, "open", 3)
    first, placed = dot(ann, q, jobs, "dot-ann-1")
    assert placed and count(participant_id=ann.id) == 1
    dot(ann, q, jobs, "dot-ann-2")  # dots stack on one note
    dot(ann, q, buses, "dot-ann-3")
    with pytest.raises(rules.Invalid, match="You have used all 3 of your dots. Take one back"):
        dot(ann, q, parks, "dot-ann-4")
    assert count(participant_id=ann.id) == 3
    # A retry of a placed dot places nothing, even with no dots left.
    assert dot(ann, q, jobs, "dot-ann-1") == (first, False)
    # Taking one back frees it; taking the same dot back again changes nothing.
    assert dots.take_back(ann, {"dot_id": first}) == (first, True)
    assert dots.take_back(ann, {"dot_id": first}) == (first, False)
    assert dot(ann, q, parks, "dot-ann-4")[1]
    # By note: the latest of ann's dots on it.
    latest = db.session.query(Dot).filter_by(participant_id=ann.id, note_id=parks).one().id
    assert dots.take_back(ann, {"question_id": q.id, "note_id": parks}) == (latest, True)
    with pytest.raises(rules.Invalid, match="no dot on that note"):
        dots.take_back(ann, {"question_id": q.id, "note_id": parks})
    dot(bob, q, jobs, "dot-bob-1")
    assert ranking(q) == [("Jobs", 2, 1), ("Buses", 1, 2), ("Parks", 0, 3)]
    assert dots.mine(ann.id, q.id) == [{"id": d.id, "note_id": d.note_id, "client_id": d.client_id}
                                       for d in db.session.query(Dot).filter_by(participant_id=ann.id).order_by(Dot.id)]


def test_place_refused(ctx, app, facilitator):
    session, qs, q, (buses, jobs, parks), (ann, bob) = ctx
    with pytest.raises(rules.Invalid, match="Dot-voting is closed: your dot was not placed."):
        dot(ann, q, jobs, "dot-ann-1")
    services.set_dots(session, q.id, "open", 2)
    with pytest.raises(rules.Invalid, match="closed"):  # no new notes while people prioritise
        post_note(ann, {"question_id": q.id, "client_id": "note-late", "text": "late"})
    for payload, message in [
        ({"question_id": q.id, "note_id": 999999, "client_id": "dot-x-0001"}, "That note was not found"),
        ({"question_id": q.id, "note_id": "1", "client_id": "dot-x-0002"}, "That note was not found"),
        ({"question_id": qs[0].id, "note_id": jobs, "client_id": "dot-x-0003"}, "no notes to put dots on"),
        ({"question_id": 2**40, "note_id": jobs, "client_id": "dot-x-0004"}, "question was not found"),
        ({"question_id": q.id, "note_id": jobs, "client_id": "bad id"}, "malformed"),
        ({"question_id": q.id, "note_id": jobs}, "malformed"),
        (["not", "a", "dict"], "malformed"),
    ]:
        with pytest.raises(rules.Invalid, match=message):
            place_dot(ann, payload)
    # A note of the question that is hidden, waiting for approval, or merged into another.
    note = lambda i: db.session.get(rules.Note, i)  # noqa: E731
    services.moderate(note(parks), "hide", by="facilitator")
    with pytest.raises(rules.Invalid, match="not on the list any more"):
        dot(ann, q, parks, "dot-ann-1")
    services.merge(note(jobs), [note(buses)], by="facilitator")
    with pytest.raises(rules.Invalid, match="joined with a similar one"):
        dot(ann, q, buses, "dot-ann-2")
    # A note of another session's question, and a phone of another session.
    other = make_cafe(app, facilitator, title="Other")
    stranger = rules.Voter(services.join(db.session.get(CafeSession, other["id"])).id, other["id"])
    with pytest.raises(rules.Invalid, match="question was not found"):
        dot(stranger, q, jobs, "dot-stranger")
    other_q = db.session.get(Question, other["questions"][1])
    their_note, _ = post_note(stranger, {"question_id": other_q.id, "client_id": "note-theirs", "text": "x"})
    with pytest.raises(rules.Invalid, match="That note was not found"):
        dot(ann, q, their_note, "dot-ann-3")
    with pytest.raises(rules.Invalid, match="That note was not found"):
        dots.take_back(stranger, {"note_id": jobs})
    # Someone else's client id is not a retry.
    dot(ann, q, jobs, "dot-shared-1")
    with pytest.raises(rules.Invalid, match="malformed"):
        dot(bob, q, jobs, "dot-shared-1")
    assert count() == 1


def test_take_back_only_while_open_and_only_own(ctx):
    session, _, q, (buses, jobs, parks), (ann, bob) = ctx
    services.set_dots(session, q.id, "open", 2)
    mine, _ = dot(ann, q, jobs, "dot-ann-1")
    assert dots.take_back(bob, {"dot_id": mine}) == (mine, False)  # not bob's: nothing happens
    with pytest.raises(rules.Invalid, match="no dot on that note"):
        dots.take_back(bob, {"note_id": jobs})
    with pytest.raises(rules.Invalid, match="malformed"):
        dots.take_back(ann, {"dot_id": "1"})
    services.set_dots(session, q.id, "close")
    with pytest.raises(rules.Invalid, match="Dot-voting is closed: your dots stay where they are."):
        dots.take_back(ann, {"dot_id": mine})
    assert count() == 1


def test_merged_and_hidden_notes(ctx):
    """A dot on a note merged into another counts for that one; a dot on a hidden note is given back."""
    session, _, q, (buses, jobs, parks), (ann, bob) = ctx
    services.set_dots(session, q.id, "open", 2)
    dot(ann, q, buses, "dot-ann-1")
    dot(ann, q, buses, "dot-ann-2")
    dot(bob, q, parks, "dot-bob-1")
    note = lambda i: db.session.get(rules.Note, i)  # noqa: E731
    services.merge(note(jobs), [note(buses)], by="host:Oak")
    assert ranking(q) == [("Jobs", 2, 1), ("Parks", 1, 2)]
    # Taking back by the note it joined finds the dot placed on the merged one.
    taken, _ = dots.take_back(ann, {"note_id": jobs})
    assert db.session.get(Dot, taken) is None and ranking(q)[0] == ("Jobs", 1, 1)
    dot(ann, q, jobs, "dot-ann-3")
    services.unmerge(note(buses), by="host:Oak")
    assert ranking(q) == [("Buses", 1, 1), ("Jobs", 1, 1), ("Parks", 1, 1)]  # ties share a rank

    # Hiding Parks gives bob's dot back: he may place it elsewhere, and it leaves the ranking.
    services.moderate(note(parks), "hide", by="facilitator")
    assert dots.used_by(q.id) == {ann.id: 2}
    assert ranking(q) == [("Buses", 1, 1), ("Jobs", 1, 1)]
    assert dot(bob, q, jobs, "dot-bob-2")[1]
    dot(bob, q, jobs, "dot-bob-3")
    # Restoring brings it back (bob then has 3 of 2: he can place no more, and can take back).
    services.moderate(note(parks), "restore", by="facilitator")
    with pytest.raises(rules.Invalid, match="used all 2"):
        dot(bob, q, buses, "dot-bob-4")
    r = results(q)["dots"]
    assert (r["placed"], r["voters"], r["per_person"], r["open"]) == (5, 2, 2, True)
    # Fewer dots each than someone has placed: refused, so the rule "never over N" holds.
    with pytest.raises(rules.Invalid, match="placed 3 dots already: give each person at least 3"):
        services.set_dots(session, q.id, "open", 2 - 1)


def test_results_and_hidden_results(ctx):
    session, _, q, (buses, jobs, parks), (ann, bob) = ctx
    plain = results(q)
    assert plain["dots"] is None and all(n["dots"] == 0 for n in plain["notes"])  # never opened
    services.set_dots(session, q.id, "open", 3)
    assert results(q)["dots"]["placed"] == 0 and ranking(q) == [("Buses", 0, 1), ("Jobs", 0, 1), ("Parks", 0, 1)]
    for i, who in enumerate((ann, bob)):
        dot(who, q, parks, f"dot-{i}-aaaa")
        dot(who, q, jobs, f"dot-{i}-bbbb")
    dot(ann, q, parks, "dot-0-cccc")
    r = results(q)
    assert {n["text"]: n["dots"] for n in r["notes"]} == {"Buses": 0, "Jobs": 2, "Parks": 3}
    assert ranking(q) == [("Parks", 3, 1), ("Jobs", 2, 2), ("Buses", 0, 3)]
    assert (r["dots"]["placed"], r["dots"]["voters"]) == (5, 2)
    assert hidden(r) == {"question_id": q.id, "kind": "notes", "total": 3, "hidden": True, "dots_placed": 5}
    # One round only: the notes of that round, and the dots on them.
    assert results(q, 1)["dots"] == {"open": True, "per_person": 3, "placed": 0, "voters": 0, "ranked": []}


def test_batch_of_dots(ctx):
    """Several phones' dots recorded at once: limits counted in order, repeats answered once."""
    session, _, q, (buses, jobs, parks), (ann, bob) = ctx
    services.set_dots(session, q.id, "open", 2)
    p = lambda n, c: {"question_id": q.id, "note_id": n, "client_id": c}  # noqa: E731
    out = dots.record_dots([(ann, p(jobs, "dot-a-0001")), (ann, p(jobs, "dot-a-0001")), (bob, p(parks, "dot-b-0001")),
                            (ann, p(parks, "dot-a-0002")), (ann, p(buses, "dot-a-0003")), (bob, "junk"),
                            (bob, p(buses, "dot-b-0002"))])
    db.session.commit()
    assert out[0][1] and out[1] == (out[0][0], False)
    assert out[2][1] and out[3][1] and out[6][1]
    assert isinstance(out[4], rules.Invalid) and "used all 2" in str(out[4])
    assert isinstance(out[5], rules.Invalid)
    assert count(participant_id=ann.id) == 2 and count(participant_id=bob.id) == 2
    again = dots.record_dots([(ann, p(jobs, "dot-a-0001"))])
    assert again == [(out[0][0], False)]


def test_phone_list(ctx):
    session, _, q, (buses, jobs, parks), (ann, _) = ctx
    assert dots.phone_list(q) == {"question_id": q.id, "open": False, "per_person": 0}
    services.set_dots(session, q.id, "open", 4)
    note = lambda i: db.session.get(rules.Note, i)  # noqa: E731
    services.merge(note(jobs), [note(buses)], by="facilitator")
    services.moderate(note(parks), "hide", by="facilitator")
    assert dots.phone_list(q) == {"question_id": q.id, "open": True, "per_person": 4,
                                  "notes": [{"id": jobs, "text": "Jobs", "also": [buses]}]}
