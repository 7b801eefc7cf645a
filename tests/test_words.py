"""Titles and words: every write-up format opens with the paper's title line and subtitle, and
counts read "1 participant", "2 participants" in the write-up, the pages and the messages."""
import csv
import datetime
import io
import re

import pytest

from consult import rules, services, words
from consult.extensions import db
from consult.models import CafeSession, Question
from consult.writeup.build import subtitle
from consult.writeup.routes import render

from .conftest import make_cafe, pdf_text, post_note

TITLE = "Leicester <b>Strategy</b> & Café"
HEADING = TITLE + ", 23 September 2019"


def test_counts_numbers_and_dates_in_words():
    assert words.count(1, "participant") == "1 participant"
    assert words.count(2, "participant") == "2 participants"
    assert words.count(0, "round") == "0 rounds"
    assert words.count(1, "person", "people") == "1 person"
    assert words.count(3, "person", "people") == "3 people"
    assert [words.in_words(n) for n in (1, 5, 12, 13, 40)] == ["one", "five", "twelve", "13", "40"]
    assert words.long_date(datetime.date(2019, 9, 3)) == "3 September 2019"  # no leading zero
    assert words.long_date(datetime.date(2026, 1, 23)) == "23 January 2026"
    assert words.long_date(None) == ""
    assert subtitle(5) == "Full write-up of group discussions exploring five vital questions"
    assert subtitle(1) == "Full write-up of group discussions exploring one vital question"
    assert subtitle(14) == "Full write-up of group discussions exploring 14 vital questions"
    assert subtitle(0) == "Full write-up of group discussions"


def cafe_of(app, facilitator, n):
    """A café with n of everything: open-notes questions, tables, participants, rounds, notes."""
    questions = [{"kind": "notes", "text": f"Vital question {i + 1}?", "max_length": 200} for i in range(n)]
    questions.append({"kind": "yesno", "text": "Agree?", "allow_unsure": False})
    ids = make_cafe(app, facilitator, questions, title=TITLE)
    with app.app_context():
        session = db.session.get(CafeSession, ids["id"])
        session.date = datetime.date(2019, 9, 23)
        db.session.commit()
        services.set_tables(session, [f"Table {i + 1}" for i in range(n)])
        people = []
        for table in session.tables:
            p = services.join(session)
            services.choose_table(p, table.id)
            people.append(rules.Voter(p.id, session.id))
        for _ in range(n):
            services.start_round(session)
        first = db.session.get(Question, ids["questions"][0])
        for i, person in enumerate(people):
            post_note(person, {"question_id": first.id, "client_id": f"n-{n}{i:06d}", "text": f"Note {i} <i>x</i>"})
    return ids


@pytest.fixture
def one(app, facilitator):
    return cafe_of(app, facilitator, 1)


@pytest.fixture
def two(app, facilitator):
    return cafe_of(app, facilitator, 2)


def rendered(app, ids, fmt):
    with app.test_request_context():
        return render(db.session.get(CafeSession, ids["id"]), fmt)


def test_every_format_opens_with_the_title_line_and_subtitle(app, two):
    import docx
    import openpyxl

    sub = "Full write-up of group discussions exploring two vital questions"
    facts = "2 participants · 2 tables · 2 rounds"

    html = rendered(app, two, "html")
    escaped = "Leicester &lt;b&gt;Strategy&lt;/b&gt; &amp; Café, 23 September 2019"
    assert f"<h1>{escaped}</h1>" in html and "<b>Strategy" not in html  # the title is text, never markup
    assert f'<p class="subtitle">{sub}</p>' in html and facts in html

    first = " ".join(pdf_text(rendered(app, two, "pdf")).split())
    assert first.startswith(f"{HEADING} {sub} {facts}")

    document = docx.Document(io.BytesIO(rendered(app, two, "docx")))
    lines = [p.text for p in document.paragraphs if p.text]
    assert lines[:3] == [HEADING, sub, facts]
    assert document.sections[0].header.paragraphs[0].text == HEADING

    md = rendered(app, two, "md").splitlines()
    assert md[:5] == [r"# Leicester \<b\>Strategy\</b\> & Café, 23 September 2019", "", f"**{sub}**", "", facts]

    book = openpyxl.load_workbook(io.BytesIO(rendered(app, two, "xlsx")))
    assert book.sheetnames[0] == "Write-up"
    cover = [r[0] for r in book["Write-up"].iter_rows(values_only=True)]
    assert cover[:3] == [HEADING, sub, facts]
    for sheet in book:  # printed, every sheet says which café it is; its table still starts on row 1
        assert sheet.oddHeader.center.text == HEADING.replace("&", "&&")
    assert next(book["Raw data"].iter_rows(values_only=True))[0] == "kind"

    text = rendered(app, two, "csv")
    assert text.splitlines()[0].startswith("kind,question_number,")  # the header stays the first line
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 2 and {(r["session"], r["date"]) for r in rows} == {(HEADING, "2019-09-23")}


def test_a_session_without_a_date_has_the_title_alone(app, facilitator):
    ids = make_cafe(app, facilitator, [{"kind": "notes", "text": "Why?", "max_length": 50}], title="Plain café")
    html = rendered(app, ids, "html")
    assert "<h1>Plain café</h1>" in html
    assert "exploring one vital question" in html and "0 participants" in html and "0 rounds" not in html
    assert rendered(app, ids, "md").startswith("# Plain café\n\n**Full write-up of group discussions exploring one vital question**")


def test_one_of_everything_reads_in_the_singular(app, one, two, client):
    sub1, facts1 = "exploring one vital question", "1 participant · 1 table · 1 round"
    sub2, facts2 = "exploring two vital questions", "2 participants · 2 tables · 2 rounds"
    for fmt in ("html", "md"):
        singular, plural = rendered(app, one, fmt), rendered(app, two, fmt)
        assert sub1 in singular and facts1 in singular and "participants" not in singular, fmt
        assert sub2 in plural and facts2 in plural, fmt
    assert facts1 in " ".join(pdf_text(rendered(app, one, "pdf")).split())

    # The facilitator's list of sessions and the session page count in words too.
    index = client.get("/sessions/").get_data(as_text=True)
    assert "23 September 2019" in index
    assert "· 2 questions ·" in index and "· 3 questions ·" in index  # two cafés: 1 + 1 and 2 + 1 questions
    page = client.get(f"/sessions/{one['id']}").get_data(as_text=True)
    assert "23 September 2019" in page and "· 1 answer" in page and "1 answers" not in page


def test_the_control_page_counts_dots_in_the_singular(app, one, client):
    with app.app_context():
        session = db.session.get(CafeSession, one["id"])
        services.set_dots(session, one["questions"][0], "open", 1)
    control = client.get(f"/sessions/{one['id']}/control").get_data(as_text=True)
    assert "dot-voting open (1 dot each)" in control and "1 dots" not in control
    with app.app_context():
        session = db.session.get(CafeSession, one["id"])
        services.set_dots(session, one["questions"][0], "close")
        services.set_dots(session, one["questions"][0], "open", 3)
    assert "dot-voting open (3 dots each)" in client.get(f"/sessions/{one['id']}/control").get_data(as_text=True)


def test_a_long_title_fits_the_printed_sheet_header():
    from consult.writeup.documents import _sheet_header

    assert _sheet_header("Oak & Ash, 23 September 2019") == "Oak && Ash, 23 September 2019"
    assert _sheet_header("x" * 219) == "x" * 219  # a long title without "&" fits as it is
    for title in ("&" * 219, "x" + "&" * 218, "x" * 100 + "&" * 119):
        header = _sheet_header(title)
        assert len(header) <= 255 and header.endswith("…")
        assert all(len(run) % 2 == 0 for run in re.findall("&+", header))  # every "&" still doubled
