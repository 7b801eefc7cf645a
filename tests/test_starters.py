"""Where a new session starts from (blank, the built-in templates, an earlier session), and the session page's downloads."""
import re

import pytest

from consult import services
from consult import cafe, rules, starters
from consult.extensions import db
from consult.models import HORIZONS, CafeSession, Note, Participant, Priority, Vote

from .conftest import cast_vote, login, make_cafe, make_facilitator, post_note

OTHER = "other@example.org"


@pytest.fixture(autouse=True)
def _fast(fast_passwords):
    """Password hashing is not under test here."""


def text(response):
    return response.get_data(as_text=True)


def create(client, **fields):
    data = {"title": "Spring café", "start": "blank"}
    data.update(fields)
    return client.post("/sessions/new", data=data)


def newest(app, owner_id):
    with app.app_context():
        s = db.session.query(CafeSession).filter_by(owner_id=owner_id).order_by(CafeSession.id.desc()).first()
        return {
            "id": s.id, "title": s.title, "description": s.description, "venue": s.venue,
            "tables": [t.name for t in s.tables], "host_tokens": [t.host_token for t in s.tables],
            "moderation": s.moderation, "blocked_words": s.blocked_words, "round": s.current_round,
            "priorities": [(p.code, p.name) for p in s.priorities],
            "questions": [{
                "kind": q.kind, "text": q.text, "max_length": q.max_length, "multiple": q.multiple,
                "scale": (q.scale_min, q.scale_max, q.min_label, q.max_label), "is_open": q.is_open,
                "image": (q.image, q.image_alt),
                "options": [(o.text, o.image, o.image_alt) for o in q.options],
                "rows": [r.text for r in q.rows], "horizons": [(h.name, h.hint) for h in q.horizons],
                "answers": len(q.votes) + len(q.notes),
            } for q in s.questions],
            "participants": len(s.participants),
        }


def test_new_session_page_offers_the_starting_points(app, client, facilitator):
    page = text(client.get("/sessions/new"))
    assert "Start from" in page
    for label in ("A blank session", "Strategy café: five vital questions", "Systems change trajectory"):
        assert label in page
    assert re.search(r'value="blank"[^>]*checked|checked[^>]*value="blank"', page)
    assert "A copy of an earlier session" not in page  # none yet
    make_cafe(app, facilitator, title="Last year's café")
    page = text(client.get("/sessions/new"))
    assert "A copy of an earlier session" in page and "Last year&#39;s café" in page
    # The edit page is not a place to choose: the session exists.
    assert "Start from" not in text(client.get(f"/sessions/{newest(app, facilitator)['id']}/edit"))


def test_blank_start(app, client, facilitator):
    r = create(client)
    assert r.status_code == 302
    s = newest(app, facilitator)
    assert (s["title"], s["questions"], s["tables"], s["priorities"]) == ("Spring café", [], [], [])


def test_strategy_cafe_template(app, client, facilitator):
    r = create(client, start="strategy")
    assert r.status_code == 302
    assert "square brackets" in text(client.get(r.location))
    s = newest(app, facilitator)
    assert s["title"] == "Spring café"  # the title is the facilitator's
    assert s["tables"] == ["Table 1", "Table 2", "Table 3", "Table 4"]
    assert [q["kind"] for q in s["questions"]] == ["notes"] * 5
    assert [q["text"] for q in s["questions"]] == starters.STRATEGY_QUESTIONS
    assert s["questions"][0]["text"].startswith("Our vision is [")
    assert "What does success look like for this project?" in s["questions"][0]["text"]
    assert all("[" in q["text"] and "]" in q["text"] for q in s["questions"])  # placeholders to edit
    assert "three rounds" in s["description"] and s["round"] == 0


def test_trajectory_template(app, client, facilitator):
    r = create(client, start="trajectory", description="Our own words")
    assert r.status_code == 302
    s = newest(app, facilitator)
    (q,) = s["questions"]
    assert q["kind"] == "trajectory" and q["horizons"] == HORIZONS
    assert len(q["rows"]) >= 1 and all(r.startswith("[") for r in q["rows"])
    assert s["description"] == "Our own words"  # a description given is kept


def test_start_from_an_earlier_session_copies_its_set_up_not_its_answers(app, client, facilitator):
    source = make_cafe(app, facilitator, title="Last year's café")
    with app.app_context():
        session = db.session.get(CafeSession, source["id"])
        services.set_tables(session, ["Riverside", "Garden"])
        services.set_moderation(session, "pre", "badword\nworse phrase")
        session.priorities.extend([Priority(code="VF1", name="Vision", position=0),
                                   Priority(code="VF2", name="Skills", position=1)])
        q = session.questions[0]
        q.image, q.image_alt = "a" * 32 + ".png", "A map"
        q.options[1].image, q.options[1].image_alt = "b" * 32 + ".gif", "Green"
        starters.add_trajectory(session, "Where next?", ["Housing", "Jobs"])
        db.session.commit()
        services.start_round(session)
        participant = services.join(session)
        cast_vote(participant, {"client_id": "vote-0001", "question_id": q.id, "choices": [q.options[0].id]})
        post_note(participant, {"client_id": "note-0001", "question_id": source["questions"][1], "text": "Buses"})
    before = newest(app, facilitator)

    r = create(client, start="copy", source=str(source["id"]), title="This year's café")
    assert r.status_code == 302, text(r)
    assert "none of its answers" in text(client.get(r.location))
    copy = newest(app, facilitator)
    assert copy["id"] != before["id"] and copy["title"] == "This year's café"
    assert copy["tables"] == ["Riverside", "Garden"] and set(copy["host_tokens"]).isdisjoint(before["host_tokens"])
    assert (copy["moderation"], copy["blocked_words"]) == ("pre", "badword\nworse phrase")
    assert copy["priorities"] == [("VF1", "Vision"), ("VF2", "Skills")]
    strip = lambda qs: [{k: v for k, v in q.items() if k not in ("answers", "is_open")} for q in qs]  # noqa: E731
    assert strip(copy["questions"]) == strip(before["questions"])
    assert copy["questions"][0]["image"] == ("a" * 32 + ".png", "A map")  # the picture, by reference
    assert copy["questions"][-1]["rows"] == ["Housing", "Jobs"] and copy["questions"][-1]["horizons"] == HORIZONS
    assert all(q["answers"] == 0 and not q["is_open"] for q in copy["questions"])
    assert copy["participants"] == 0 and copy["round"] == 0
    with app.app_context():
        assert db.session.query(Vote).count() == 1 and db.session.query(Note).count() == 1
        assert db.session.query(Participant).count() == 1


def test_another_facilitators_session_cannot_be_a_starting_point(app, client, facilitator):
    theirs = make_cafe(app, make_facilitator(app, OTHER), title="Their secret café")
    make_cafe(app, facilitator, title="My own café")
    page = text(client.get("/sessions/new"))
    assert "Their secret café" not in page and "My own café" in page
    with app.app_context():
        before = db.session.query(CafeSession).count()
    r = create(client, start="copy", source=str(theirs["id"]))
    assert r.status_code == 200 and "Choose one of your earlier sessions" in text(r)
    with app.app_context():
        assert db.session.query(CafeSession).count() == before
    # Nor through the service itself.
    with app.app_context():
        with pytest.raises(rules.Invalid):
            services.create_session(facilitator, {"title": "Mine"}, starters.COPY,
                                    db.session.get(CafeSession, theirs["id"]))
        assert db.session.query(CafeSession).count() == before


def test_copy_needs_a_session_chosen_and_a_known_choice(app, client, facilitator):
    make_cafe(app, facilitator)
    with app.app_context():
        before = db.session.query(CafeSession).count()
    assert "Choose one of your earlier sessions" in text(create(client, start="copy"))
    assert "Not a valid choice" in text(create(client, start="nonsense"))
    with app.app_context():
        assert db.session.query(CafeSession).count() == before


def test_duplicate_copies_tables_pictures_and_grids(app, client, facilitator):
    source = make_cafe(app, facilitator)
    with app.app_context():
        session = db.session.get(CafeSession, source["id"])
        services.set_tables(session, cafe.table_names("3"))
        session.questions[0].options[0].image = "c" * 32 + ".webp"
        session.questions[0].options[0].image_alt = "Red"
        starters.add_trajectory(session, "Where next?", ["Housing"])
        copy = services.duplicate_session(session)
        assert [t.name for t in copy.tables] == ["Table 1", "Table 2", "Table 3"]
        assert (copy.questions[0].options[0].image, copy.questions[0].options[0].image_alt) == ("c" * 32 + ".webp", "Red")
        assert [r.text for r in copy.questions[-1].rows] == ["Housing"] and len(copy.questions[-1].horizons) == 4


def test_session_page_links_every_write_up_format(app, client, facilitator):
    source = make_cafe(app, facilitator)
    page = text(client.get(f"/sessions/{source['id']}"))
    assert 'id="writeup-h">Write-up<' in page
    for fmt, label in [("html", "HTML"), ("pdf", "PDF"), ("docx", "Word"), ("md", "Markdown"),
                       ("csv", "CSV"), ("xlsx", "Excel"), ("json", "JSON")]:
        assert f'href="/sessions/{source["id"]}/write-up.{fmt}">{label}</a>' in page
    for fmt in ("html", "md", "csv", "json"):
        assert client.get(f"/sessions/{source['id']}/write-up.{fmt}").status_code == 200
    # Only for its facilitator.
    make_facilitator(app, OTHER)
    other = app.test_client()
    login(other, OTHER)
    assert other.get(f"/sessions/{source['id']}/write-up.html").status_code == 404
