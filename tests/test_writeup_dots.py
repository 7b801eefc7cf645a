"""Dot-voting in the write-up: the ranked notes with their dots in every format, read back; JSON round trip."""
import csv
import io
import json
import re
from html.parser import HTMLParser

import pytest

from consult import rules, services
from consult.extensions import db
from consult.models import CafeSession, Dot, Question
from consult.writeup.build import writeup
from consult.writeup.formats import csv_text, markdown
from consult.writeup.routes import render
from consult.services import import_session
from consult.transfer import export

from .conftest import make_cafe, pdf_text, place_dot, post_note

pytestmark = pytest.mark.usefixtures("fast_passwords")

# Texts and the dots each gets: Jobs 4 (2 of them through the merged "more jobs"), Buses 2, Parks 1,
# "=SUM(A1)" 0 (a formula is text everywhere), and a hidden note's dot that does not count.
EXPECTED = [(1, "More local jobs", 4), (2, "Buses after 6pm", 2), (3, "Parks & <gardens>", 1)]


@pytest.fixture
def voted(app, facilitator):
    ids = make_cafe(app, facilitator, title="Prioritising café")
    with app.app_context():
        session = db.session.get(CafeSession, ids["id"])
        services.set_tables(session, ["Oak", "Ash"])
        oak, ash = session.tables
        q = db.session.get(Question, ids["questions"][1])
        q.max_length = 280

        def person(table):
            p = services.join(session)
            services.choose_table(p, table.id)
            return rules.Voter(p.id, session.id)

        people = [person(t) for t in (oak, oak, ash, ash)]
        n = {}
        for i, (key, text, who) in enumerate([("jobs", "More local jobs", 0), ("jobs2", "more jobs", 1),
                                              ("buses", "Buses after 6pm", 2), ("parks", "Parks & <gardens>", 3),
                                              ("formula", "=SUM(A1)", 0), ("rude", "Rude remark", 1)]):
            n[key], _ = post_note(people[who], {"question_id": q.id, "client_id": f"note-00{i:05d}", "text": text})
        services.set_dots(session, q.id, "open", 3)
        placed = [(0, "jobs"), (0, "jobs"), (1, "jobs2"), (1, "jobs2"), (2, "buses"), (3, "buses"), (3, "parks"),
                  (2, "rude")]
        for i, (who, key) in enumerate(placed):
            place_dot(people[who], {"question_id": q.id, "note_id": n[key], "client_id": f"dot-00{i:05d}"})
        note = lambda i: db.session.get(rules.Note, i)  # noqa: E731
        services.merge(note(n["jobs"]), [note(n["jobs2"])], by="host:Oak")
        services.moderate(note(n["rude"]), "hide", by="facilitator")
        services.set_dots(session, q.id, "close")
        yield session, q, n


class Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.text = []

    def handle_data(self, data):
        self.text.append(data)


def test_writeup_data(voted):
    session, q, n = voted
    p = writeup(session)["questions"][1]["prioritised"]
    assert (p["per_person"], p["placed"], p["voters"]) == (3, 7, 4)
    assert [(x["rank"], x["text"], x["dots"]) for x in p["notes"]] == EXPECTED
    assert p["notes"][0]["merged"] == 1 and p["notes"][0]["table"] == "Oak"
    assert all(q_["prioritised"] is None for q_ in writeup(session)["questions"] if q_["kind"] == "notes" and q_["id"] != q.id)


def test_html_and_markdown(app, voted):
    session, _, _ = voted
    with app.test_request_context():
        html = render(session, "html")
    assert "Parks &amp; &lt;gardens&gt;" in html and "<gardens>" not in html
    parser = Text()
    parser.feed(html)
    flat = " ".join(" ".join(parser.text).split())
    assert "Prioritised" in flat and "Dot-voting: 3 dots each · 7 dots placed by 4 people" in flat
    assert re.search(r"1 More local jobs \(and 1 alike\) · Oak 4 2 Buses after 6pm · Ash 2 3 Parks & <gardens> · Ash 1", flat), flat

    md = markdown(writeup(session))
    assert "### Prioritised" in md and "| Rank | Note | Dots |" in md
    section = md.split("### Prioritised")[1].split("\n## ")[0]
    rows = [line for line in section.splitlines() if re.match(r"\| \d+ \|", line)]
    assert rows == ["| 1 | More local jobs (and 1 alike) · Oak | 4 |", "| 2 | Buses after 6pm · Ash | 2 |",
                    "| 3 | Parks & \\<gardens\\> · Ash | 1 |"]


def test_csv_has_each_notes_own_dots(voted):
    session, _, n = voted
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(csv_text(session))) if r["kind"] == "note"}
    got = {key: rows[str(n[key])]["dots"] for key in n}
    # Raw data: the dots placed on each note itself (merged "more jobs" keeps its own 2; the hidden note its 1).
    assert got == {"jobs": "2", "jobs2": "2", "buses": "2", "parks": "1", "formula": "0", "rude": "1"}
    assert rows[str(n["jobs2"])]["merged_into"] == str(n["jobs"])
    assert rows[str(n["formula"])]["answer"] == "'=SUM(A1)"
    assert sum(int(r["dots"]) for r in rows.values()) == 8


def test_pdf_word_and_excel_read_back(app, voted):
    import docx
    import openpyxl

    session, _, n = voted
    with app.test_request_context():
        pdf_bytes, docx_bytes, xlsx_bytes = (render(session, f) for f in ("pdf", "docx", "xlsx"))

    flat = pdf_text(pdf_bytes)
    assert "Prioritised" in flat and "7 dots placed by 4 people" in flat
    assert flat.index("More local jobs (and 1 alike)") < flat.index("Buses after 6pm · Ash") < flat.index("Parks & <gardens> · Ash")

    document = docx.Document(io.BytesIO(docx_bytes))
    assert "Prioritised" in [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    ranked = next(t for t in document.tables if [c.text for c in t.rows[0].cells][:3] == ["Rank", "Note", "Dots"])
    assert [[c.text for c in r.cells][:3] for r in ranked.rows[1:]] == [
        ["1", "More local jobs (and 1 alike) · Oak", "4"], ["2", "Buses after 6pm · Ash", "2"],
        ["3", "Parks & <gardens> · Ash", "1"]]
    assert any("Dot-voting: 3 dots each" in p.text for p in document.paragraphs)

    book = openpyxl.load_workbook(io.BytesIO(xlsx_bytes))
    assert book.sheetnames[:4] == ["Write-up", "Raw data", "Results", "Notes"] and "Prioritised" in book.sheetnames
    sheet = book["Prioritised"]
    values = list(sheet.iter_rows(values_only=True))
    header = values.index(("Rank", "Note", "Dots"))
    assert [tuple(r[:3]) for r in values[header + 1:header + 4]] == [
        (1, "More local jobs (and 1 alike) · Oak", 4), (2, "Buses after 6pm · Ash", 2), (3, "Parks & <gardens> · Ash", 1)]
    assert sheet._charts, "a native bar chart of the dots"
    raw = list(book["Raw data"].iter_rows(values_only=True))
    col, ids = raw[0].index("dots"), raw[0].index("id")
    by_id = {r[ids]: r[col] for r in raw[1:] if r[0] == "note"}
    assert by_id[n["jobs"]] == 2 and by_id[n["parks"]] == 1 and by_id[n["formula"]] == 0


def test_json_round_trip_keeps_the_dots(app, voted, facilitator):
    session, q, _ = voted
    data = json.loads(json.dumps(export(session)))
    assert len(data["dots"]) == 8 and data["questions"][1]["dots"] == 3 and data["questions"][1]["dots_open"] is False
    copy = import_session(data, facilitator)
    assert writeup(copy)["questions"][1]["prioritised"] == writeup(session)["questions"][1]["prioritised"]
    assert markdown(writeup(copy)) == markdown(writeup(session))
    assert export(copy) == data
    copied = [d.client_id for d in db.session.query(Dot).join(Question).filter(Question.session_id == copy.id)]
    assert len(copied) == 8 and all(c.startswith(f"import-{copy.join_code}-d") for c in copied)
    # An older file, from before dot-voting, still imports.
    for key in ("dots",):
        data.pop(key)
    for question in data["questions"]:
        question.pop("dots"), question.pop("dots_open")
    older = import_session(data, facilitator)
    assert writeup(older)["questions"][1]["prioritised"] is None


@pytest.mark.parametrize("damage", [
    lambda d: d["dots"][0].update(note=999),
    lambda d: d["dots"][0].update(note=-1),
    lambda d: d["dots"][0].update(participant=True),
    lambda d: d["dots"][0].pop("note"),
    lambda d: d["questions"][1].update(dots=99),
    lambda d: d["questions"][1].update(dots="3"),
])
def test_damaged_dots_are_refused(app, voted, facilitator, damage):
    session, _, _ = voted
    data = json.loads(json.dumps(export(session)))
    damage(data)
    before = db.session.query(CafeSession).count()
    with pytest.raises(rules.Invalid, match="damaged"):
        import_session(data, facilitator)
    assert db.session.query(CafeSession).count() == before
