"""Write-ups in every format so far (HTML, Markdown, CSV, JSON), read back and checked."""
import base64
import csv
import io
import json
import re
from html.parser import HTMLParser
from xml.etree import ElementTree

import pytest
from lxml import etree

from consult import services
from consult import rules
from consult.extensions import db
from consult.models import Action, ActionLink, CafeSession, Priority, Question
from consult.writeup.build import writeup
from consult.writeup.formats import csv_text, markdown
from consult.transfer import safe_cell
from consult.writeup.routes import render
from consult.services import import_session
from consult.transfer import export

from .conftest import cast_vote, make_cafe, pdf_text, post_note

NASTY = "<script>alert(1)</script>"


@pytest.fixture
def full(app, facilitator):
    """A café with tables, rounds, hidden and merged notes, highlights, votes, summaries and actions."""
    ids = make_cafe(app, facilitator, title="Leicester café £ “2026”")
    with app.app_context():
        session = db.session.get(CafeSession, ids["id"])
        services.set_tables(session, ["Oak", "Ash", "Elm"])
        oak, ash, elm = session.tables
        qs = [db.session.get(Question, i) for i in ids["questions"]]
        choice, notes_q, yesno = qs[0], qs[1], qs[2]

        def person(table):
            p = services.join(session)
            services.choose_table(p, table.id)
            return rules.Voter(p.id, session.id)

        people = [person(t) for t in (oak, oak, ash, elm)]
        services.start_round(session)
        n = {}
        n["jobs"], _ = post_note(people[0], {"question_id": notes_q.id, "client_id": "n-0000001", "text": "More local jobs"})
        n["jobs2"], _ = post_note(people[1], {"question_id": notes_q.id, "client_id": "n-0000002", "text": "more jobs"})
        n["nasty"], _ = post_note(people[1], {"question_id": notes_q.id, "client_id": "n-0000003", "text": NASTY})
        n["formula"], _ = post_note(people[2], {"question_id": notes_q.id, "client_id": "n-0000004", "text": "=HYPERLINK(\"x\")"})
        n["hidden"], _ = post_note(people[2], {"question_id": notes_q.id, "client_id": "n-0000005", "text": "Rude remark"})
        services.start_round(session)
        n["gu"], _ = post_note(people[3], {"question_id": notes_q.id, "client_id": "n-0000006", "text": "ગુજરાતી ભાષા · żółć 🙂"})
        host, _ = services.host_note(elm, {"question_id": notes_q.id, "client_id": "h-0000001", "text": "Skills hub | pipes"})
        note = lambda i: db.session.get(rules.Note, i)  # noqa: E731
        services.merge(note(n["jobs"]), [note(n["jobs2"])], by="host:Oak")
        services.highlight(note(n["jobs"]), True)
        services.highlight(note(host), True)
        services.moderate(note(n["hidden"]), "hide", by="facilitator")
        services.save_summary(oak, notes_q, 1, "Jobs came up first")
        for i, p in enumerate(people):
            cast_vote(p, {"question_id": choice.id, "client_id": f"v-000000{i}", "choices": [choice.options[i % 2].id]})
        cast_vote(people[0], {"question_id": yesno.id, "client_id": "v-0000010", "choices": [yesno.options[0].id]})
        vf1, vf2 = Priority(code="VF1", name="Vision & Leadership", position=0), Priority(code="VF2", name="Skills", position=1)
        session.priorities.extend([vf1, vf2])
        db.session.flush()
        action = Action(session_id=session.id, number="1.1", theme="Employment", sub_theme="Local", text="Set up a skills hub",
                        lead="Council", outcome="Hub open by June", note_id=host, position=0)
        action.links = [ActionLink(priority_id=vf1.id, strength="O"), ActionLink(priority_id=vf2.id, strength="X")]
        db.session.add(action)
        db.session.commit()
        yield session, n


class Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.text, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_writeup_data_mirrors_the_paper_tables(full):
    session, _ = full
    w = writeup(session)
    assert (w["joined"], w["tables"], w["rounds"]) == (4, ["Oak", "Ash", "Elm"], 2)
    q = w["questions"][1]
    rows = {r["table"]: r for r in q["rows"]}
    assert list(rows) == ["Oak", "Ash", "Elm"]
    oak = rows["Oak"]
    assert oak["feedback"] == [{"round": 1, "notes": [{"text": "More local jobs", "merged": 1, "host": False},
                                                       {"text": NASTY, "merged": 0, "host": False}]}]
    assert [h["text"] for h in oak["highlights"]] == ["More local jobs"] and oak["summaries"][0]["text"] == "Jobs came up first"
    assert all("Rude remark" not in n["text"] for f in rows["Ash"]["feedback"] for n in f["notes"])
    assert [f["round"] for f in rows["Elm"]["feedback"]] == [2]
    assert [h["text"] for h in rows["Elm"]["highlights"]] == ["Skills hub | pipes"]
    bars = w["questions"][0]["results"]["bars"]
    assert [b["count"] for b in bars] == [2, 2, 0]
    assert w["actions"][0]["links"] == ["O", "X"]
    per_table = {t["table"]: t for t in w["participation"]["per_table"]}
    assert per_table["Oak"]["seated"] == 2 and per_table["Oak"]["votes"] == 3


def test_html_is_escaped_self_contained_and_complete(app, full):
    session, _ = full
    with app.test_request_context():
        html = render(session, "html")
    assert NASTY not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not re.search(r'(src|href)=["\']?(https?:)?//', html)  # nothing from elsewhere
    parser = Text()
    parser.feed(html)
    text = " ".join(parser.text)
    for expected in ("Leicester café £ “2026”", "Full write-up of group discussions", "Question", "Feedback (group)",
                     "Highlights (host)", "Round 1", "Round 2", "ગુજરાતી ભાષા · żółć 🙂", "(and 1 alike)",
                     "Jobs came up first", "Action framework", "Set up a skills hub", "VF2", "4 participants",
                     "3 tables", "2 rounds", "Participation"):
        assert expected in text, expected
    assert "Rude remark" not in text
    assert "svg" in parser.tags and "rect" in parser.tags and "script" not in parser.tags
    # The contents link to every question and section, all in this page.
    links = re.findall(r'<a href="#([\w-]+)">([^<]*)</a>', html)
    assert links[:2] == [("q1", "Pick one"), ("q2", "What does success look like?")]
    assert links[-2:] == [("actions", "Action framework"), ("participation", "Participation")]
    assert all(f'id="{target}"' in html for target, _ in links)


def test_markdown(full):
    session, _ = full
    md = markdown(writeup(session))
    assert "| Question | Feedback (group) | Highlights (host) |" in md
    assert "\\<script\\>" in md and NASTY not in md
    assert "Skills hub \\| pipes" in md  # a pipe cannot break the table
    assert "| Theme | Sub-theme | Action | No | Suggested lead | VF1 | VF2 | Outcome measure |" in md
    assert "| O | X |" in md and "Rude remark" not in md
    widths, tables = [], []
    for line in md.splitlines() + [""]:
        if line.startswith("|"):
            widths.append(line.count("|") - line.count("\\|"))
        elif widths:
            tables.append(widths)
            widths = []
    assert len(tables) == 8 and all(len(set(t)) == 1 for t in tables), tables  # no row breaks its table
    # Each vote question's bar chart, as an SVG image inside the file: valid XML, the answers escaped.
    charts = re.findall(r"!\[Bar chart of the answers to question (\d+)\]\(data:image/svg\+xml;base64,([^)]+)\)", md)
    assert [number for number, _ in charts] == ["1", "3", "4", "5"]
    svg = ElementTree.fromstring(base64.b64decode(charts[0][1]))
    labels = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert labels == ["Red", "2 · 50.0%", "Green", "2 · 50.0%", "Blue", "0 · 0.0%"]


def test_csv_has_every_answer_and_no_formulas(full):
    session, n = full
    rows = list(csv.DictReader(io.StringIO(csv_text(session))))
    notes = {r["id"]: r for r in rows if r["kind"] == "note"}
    votes = [r for r in rows if r["kind"] == "vote"]
    assert len(votes) == 5 and len(notes) == 7  # hidden and merged notes are in the raw data
    assert notes[str(n["formula"])]["answer"] == "'=HYPERLINK(\"x\")"
    assert notes[str(n["hidden"])]["status"] == "hidden"
    assert notes[str(n["jobs2"])]["merged_into"] == str(n["jobs"])
    assert notes[str(n["jobs"])]["highlight"] == "yes" and notes[str(n["jobs"])]["table"] == "Oak"
    assert notes[str(n["gu"])]["round"] == "2" and notes[str(n["gu"])]["answer"] == "ગુજરાતી ભાષા · żółć 🙂"
    assert {v["answer"] for v in votes} == {"Red", "Green", "Yes"}
    for cell in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1"):
        assert safe_cell(cell).startswith("'")
    assert safe_cell("fine") == "fine" and safe_cell(3) == 3


def test_json_round_trip_gives_the_same_write_up(app, full, facilitator):
    session, _ = full
    data = json.loads(json.dumps(export(session)))
    assert data["format"] == "consult-session" and len(data["notes"]) == 7 and "token" not in json.dumps(data)
    copy = import_session(data, facilitator)
    assert copy.id != session.id and copy.join_code != session.join_code
    assert [t.host_token for t in copy.tables] != [t.host_token for t in session.tables]
    assert markdown(writeup(copy)) == markdown(writeup(session))
    again = export(copy)
    assert again == data


@pytest.mark.parametrize("bad, message", [
    ({}, "not a consult session file"),
    ({"format": "consult-session", "version": 99}, "version 99"),
    ({"format": "consult-session", "version": 1, "session": {"title": "x"}}, "damaged"),
    ({"format": "consult-session", "version": 1, "session": {"title": "x"}, "questions": [],
      "votes": [{"question": 5, "participant": 0}]}, "damaged"),
])
def test_bad_imports_are_refused_and_leave_nothing(app, full, facilitator, bad, message):
    before = db.session.query(CafeSession).count()
    with pytest.raises(rules.Invalid, match=message):
        import_session(bad, facilitator)
    assert db.session.query(CafeSession).count() == before


def test_download_routes_and_permissions(app, client, facilitator):
    ids = make_cafe(app, facilitator)
    for fmt, kind in (("html", "text/html"), ("md", "text/markdown"), ("csv", "text/csv"), ("json", "application/json")):
        r = client.get(f"/sessions/{ids['id']}/write-up.{fmt}")
        assert r.status_code == 200 and r.mimetype == kind, fmt
        assert "strategy-caf" in r.headers["Content-Disposition"]
    assert client.get(f"/sessions/{ids['id']}/write-up.exe").status_code == 404
    other = app.test_client()
    assert other.get(f"/sessions/{ids['id']}/write-up.html").status_code == 302  # sign in first


def test_cli_export_and_import(app, full, tmp_path):
    session, _ = full
    from flask_migrate import stamp

    stamp()  # the test database was made by create_all: mark it as migrated
    runner = app.test_cli_runner()
    out = tmp_path / "s.json"
    result = runner.invoke(args=["export", session.join_code.lower(), "--format", "json", "--output", str(out)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["import", str(out)])
    assert result.exit_code == 0, result.output
    code = result.output.strip().splitlines()[-1]
    assert re.fullmatch(r"[A-Z0-9]{6}", code) and code != session.join_code
    md = runner.invoke(args=["export", code, "--format", "md"])
    assert "Full write-up of group discussions" in md.output
    assert runner.invoke(args=["export", "NOSUCH"]).exit_code != 0
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    assert "Not JSON" in runner.invoke(args=["import", str(bad)]).output


def test_pdf_word_and_excel_read_back(app, full):
    """Each document format, opened with a real reader: the content is there and right."""
    import docx
    import openpyxl
    from pypdf import PdfReader

    session, n = full
    with app.test_request_context():
        pdf_bytes, docx_bytes, xlsx_bytes = (render(session, f) for f in ("pdf", "docx", "xlsx"))

    pdf = PdfReader(io.BytesIO(pdf_bytes))
    assert pdf.pages[0].mediabox.width == pytest.approx(595, abs=1)  # A4
    flat = pdf_text(pdf_bytes)
    for expected in ("Full write-up of group discussions", "Feedback (group)", "Highlights (host)", "More local jobs",
                     "Jobs came up first", "Action framework", "Set up a skills hub", "Page 1 of", NASTY, "żółć",
                     "ગુજરાતી ભાષા", "🙂"):
        assert expected in flat, expected
    assert len(pdf.pages) > 1 and flat.count("Leicester café £ “2026”") >= len(pdf.pages)  # the running header
    # A title page, as the paper write-ups have, with the contents: the questions start on page 2.
    first, second = (" ".join(page.extract_text().split()) for page in pdf.pages[:2])
    assert first.startswith("Leicester café £ “2026” Full write-up of group discussions exploring one vital question 4 participants")
    assert re.search(r"Contents 1\. Pick one [. ]*2 2\. What does success look like\?", first), first
    assert "Answer Count Percent" not in first and "1. Pick one" in second and "Answer Count Percent" in second
    assert re.search(r"Action framework [. ]*\d+ Participation [. ]*\d+", first), first
    assert "Rude remark" not in flat

    document = docx.Document(io.BytesIO(docx_bytes))
    headings = [p.text for p in document.paragraphs if p.style.name.startswith(("Heading", "Title"))]
    assert headings[0] == "Leicester café £ “2026”" and "Action framework" in headings
    tables = document.tables
    notes_table = next(t for t in tables if t.rows[0].cells[1].text == "Feedback (group)")
    cells = {row.cells[0].text: row for row in notes_table.rows[1:]}
    assert "More local jobs (and 1 alike)" in cells["Oak"].cells[1].text and NASTY in cells["Oak"].cells[1].text
    assert "Jobs came up first" in cells["Oak"].cells[2].text
    assert "ગુજરાતી ભાષા · żółć 🙂" in cells["Elm"].cells[1].text
    actions = next(t for t in tables if t.rows[0].cells[0].text == "Theme")
    assert [c.text for c in actions.rows[1].cells] == ["Employment", "Local", "Set up a skills hub", "1.1", "Council",
                                                       "O", "X", "Hub open by June"]
    assert document.sections[0].header.paragraphs[0].text == "Leicester café £ “2026”"
    breaks = [i for i, p in enumerate(document.paragraphs) if 'w:type="page"' in p._p.xml]
    first_question = next(i for i, p in enumerate(document.paragraphs) if p.text == "1. Pick one")
    assert breaks and breaks[0] < first_question  # the title page
    # A native, editable bar chart per vote question, its numbers in an embedded workbook.
    from docx.enum.shape import WD_INLINE_SHAPE
    charts = [s for s in document.inline_shapes if s.type == WD_INLINE_SHAPE.CHART]
    assert len(charts) == 4  # choice, yes/no, scale, multiple choice
    assert charts[0]._inline.docPr.get("descr") == "Bar chart: Question 1. Red: 2 (50.0%); Green: 2 (50.0%); Blue: 0 (0.0%)"
    rid = charts[0]._inline.xpath(".//c:chart/@r:id")[0]
    part = document.part.related_parts[rid]
    assert part.content_type == "application/vnd.openxmlformats-officedocument.drawingml.chart+xml"
    xml = part.blob.decode()
    ns = {"c": "http://schemas.openxmlformats.org/drawingml/2006/chart"}
    space = etree.fromstring(part.blob)
    assert space.xpath("//c:barChart/c:barDir/@val", namespaces=ns) == ["bar"]
    assert space.xpath("//c:cat//c:pt/c:v/text()", namespaces=ns) == ["Red (50.0%)", "Green (50.0%)", "Blue (0.0%)"]
    assert space.xpath("//c:val//c:pt/c:v/text()", namespaces=ns) == ["2", "2", "0"]
    assert "<c:showVal val=\"1\"/>" in xml
    book = openpyxl.load_workbook(io.BytesIO(part.related_parts[space.xpath("//c:externalData/@r:id", namespaces={
        **ns, "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships"})[0]].blob))
    assert [c.value for c in book.active["B"]][1:] == [2, 2, 0]

    book = openpyxl.load_workbook(io.BytesIO(xlsx_bytes))
    assert book.sheetnames[:4] == ["Write-up", "Raw data", "Results", "Notes"] and "Actions" in book.sheetnames
    raw = list(book["Raw data"].iter_rows(values_only=True))
    assert raw[0][0] == "kind" and len(raw) == 1 + 5 + 7
    at = raw[0].index("id")
    formula = next(r for r in raw if r[at] == n["formula"] and r[0] == "note")
    assert formula[3] == '=HYPERLINK("x")'
    cell = next(c for row in book["Raw data"].iter_rows() for c in row if c.value == '=HYPERLINK("x")')
    assert cell.data_type == "s"  # text, never a formula
    assert book["Results"]._charts, "a native bar chart per vote question"
    notes = list(book["Notes"].iter_rows(values_only=True))
    assert any(r[1] == "Elm" and r[3] == "ગુજરાતી ભાષા · żółć 🙂" and r[2] == 2 for r in notes)


@pytest.mark.parametrize("fmt", ["pdf", "xlsx", "csv", "html"])
def test_write_ups_made_in_a_child_process_are_the_same(app, full, fmt):
    """Under eventlet and gevent the server makes write-ups in a child process (offload.child),
    so a long build never stalls live phones: what the child makes is what the server would."""
    from consult import offload

    session, _ = full
    with app.test_request_context():
        here = render(db.session.get(CafeSession, session.id), fmt)
        there = offload.child("consult.writeup.routes:render_id", session.id, fmt)
    assert type(there) is type(here)
    if fmt == "pdf":
        assert there.startswith(b"%PDF") and pdf_text(there) == pdf_text(here)
    elif fmt == "xlsx":
        import openpyxl

        def rows(data):
            return [list(sheet.iter_rows(values_only=True)) for sheet in openpyxl.load_workbook(io.BytesIO(data))]

        assert rows(there) == rows(here)
    else:
        assert there == here


def test_pdf_shows_any_text_as_written(app, facilitator):
    """Typst markup, code and odd runs from participants are typeset as plain text, never run."""
    ids = make_cafe(app, facilitator, title="#set page(width: 1cm) $x$ *bold*")
    texts = ['#panic("boom") and #read("/etc/passwd")', "*not bold* _nor emph_ `raw` $x^2$ @ref <label>",
             "// not a comment", "\\ back \\\\ slashes ] [ } {", "W" * 50]
    with app.app_context():
        session = db.session.get(CafeSession, ids["id"])
        notes_q = db.session.get(Question, ids["questions"][1])
        voter = rules.Voter(services.join(session).id, session.id)
        for i, text in enumerate(texts):
            post_note(voter, {"question_id": notes_q.id, "client_id": f"n-odd-{i:04d}", "text": text})
        with app.test_request_context():
            pdf_bytes = render(session, "pdf")
    flat = pdf_text(pdf_bytes).replace("\u200b", "")
    assert flat.startswith("#set page(width: 1cm) $x$ *bold*")
    for text in texts[:4]:
        assert text in flat, text
    # A run too long for its column breaks across lines instead of running off the page.
    assert "W" * 50 not in flat and flat.replace(" ", "").count("W" * 50) == 1


def test_text_map_gaps_are_found_in_single_codes_and_ranges():
    """The PDF's text maps are completed only where a glyph has no text: single codes and ranges count as mapped."""
    from consult.writeup.typeset import unmapped

    cmap = ("2 beginbfchar\n<0001> <0A970AC1>\n<0003> <0A9C>\nendbfchar\n"
            "1 beginbfrange\n<0005> <0007> <0041>\nendbfrange\n1 beginbfchar\n<000A> <0020>\nendbfchar\nendcmap")
    assert unmapped(cmap) == [2, 4, 8, 9]
    assert unmapped(cmap, 12) == [2, 4, 8, 9, 11, 12]  # past the last mapped glyph, when the font says how many
    assert unmapped("endcmap") == []


def test_text_a_document_cannot_hold_is_left_out_not_a_500(app, client, facilitator):
    """A note with control characters, shown or hidden: Word and Excel still download, with the
    rest of its text; a CSV cell is still no formula when a control character comes first."""
    import docx
    import openpyxl

    ids = make_cafe(app, facilitator, questions=[{"kind": "notes", "text": "Ideas?", "max_length": 280}])
    with app.app_context():
        session = db.session.get(CafeSession, ids["id"])
        who = rules.Voter(services.join(session).id, session.id)
        shown, _ = post_note(who, {"question_id": ids["questions"][0], "client_id": "n-ctrl-0001",
                                   "text": "Bus\x01es\x0b at \x1bnight\ufffe"})
        hidden, _ = post_note(who, {"question_id": ids["questions"][0], "client_id": "n-ctrl-0002",
                                    "text": "\x00=1+1 hid\x08den"})
        from consult.models import Note
        services.moderate(db.session.get(Note, hidden), "hide", "facilitator")
    word = client.get(f"/sessions/{ids['id']}/write-up.docx")
    assert word.status_code == 200
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(word.data)).paragraphs)
    text += "\n".join(c.text for t in docx.Document(io.BytesIO(word.data)).tables for r in t.rows for c in r.cells)
    assert "Buses at night" in text
    excel = client.get(f"/sessions/{ids['id']}/write-up.xlsx")
    assert excel.status_code == 200
    cells = [c for sheet in openpyxl.load_workbook(io.BytesIO(excel.data)) for row in sheet.iter_rows(values_only=True)
             for c in row if isinstance(c, str)]
    assert "Buses at night" in cells and "=1+1 hidden" in cells
    raw = list(csv.DictReader(io.StringIO(client.get(f"/sessions/{ids['id']}/write-up.csv").data.decode())))
    assert {r["answer"] for r in raw} == {"Bus\x01es\x0b at \x1bnight\ufffe", "'\x00=1+1 hid\x08den"}
