"""The trajectory grid as its own write-up ("<title>: Systems Change Trajectory"), in every format, read
back as a reader gets it: the title and subtitle, the horizons headed as on paper (en dash), an empty
horizon column kept, every milestone once in its cell, hidden and merged-away ones left out; the
share link's version; the link on the session's page only when there is a grid."""
import csv
import io
import json

import pytest

from consult import services
from consult.extensions import db
from consult.models import CafeSession

from .conftest import make_cafe, pdf_text
from .test_share_link import text_of
from .test_trajectory import cheap_passwords, world, written  # noqa: F401 (fixtures)

TITLE = "Strategy café: Systems Change Trajectory"
SUBTITLE = "Full write-up of key milestone and activity exercise"
HEAD = ["Question", "Exploring ~ 12 months", "Emerging ~ 6 – 24 months", "Sustaining Ongoing", "Systems change Ongoing"]
# The written fixture's grid: Emerging is empty (its one milestone was hidden, the other moved on).
CELLS = {
    "More local jobs": ["Job fair in the library (and 1 alike)", "", "", ""],
    "Skills for young people": ["", "", "★ Skills hub | open ગુજરાતી", ""],
    "Affordable homes": ["", "", "Housing forum (host)", "=SUM(1,2)"],
}
MILESTONES = ["Job fair in the library", "Skills hub | open", "Housing forum", "=SUM(1,2)"]
LEFT_OUT = ["Rude remark", "jobs fair"]  # hidden; merged into "Job fair in the library"
FORMATS = ["html", "pdf", "docx", "md", "csv", "xlsx", "json"]


def bullets(text):
    return "\n".join(line.removeprefix("• ") for line in text.split("\n"))


def grid_of(fmt, data):
    """(title lines, header row, {row text: [cell text per horizon]}) of a trajectory download."""
    if fmt == "docx":
        import docx

        document = docx.Document(io.BytesIO(data))
        table = document.tables[0]
        rows = [[c.text for c in r.cells] for r in table.rows]
        return [p.text for p in document.paragraphs[:2]], rows[0], {r[0]: [bullets(c) for c in r[1:]] for r in rows[1:]}
    if fmt in ("xlsx", "csv"):
        if fmt == "xlsx":
            import openpyxl

            sheet = openpyxl.load_workbook(io.BytesIO(data))["Trajectory"]
            rows = [["" if v is None else str(v) for v in r] for r in sheet.iter_rows(values_only=True)]
        else:
            rows = list(csv.reader(io.StringIO(data.decode())))
        rows = [r for r in rows if any(r)]
        head = next(i for i, r in enumerate(rows) if r[0] == "Question")
        assert rows[head - 1][0] == "1. Where could we be, and when?"
        body = {r[0]: [bullets(c).removeprefix("'") for c in r[1:5]] for r in rows[head + 1:]}
        return [rows[0][0], rows[1][0]], rows[head][:5], body
    if fmt == "md":
        lines = data.decode().splitlines()
        table = [line for line in lines if line.startswith("| ")]

        def cells(line):
            parts = line.replace("\\|", "\0").strip("|").split("|")
            return [p.strip().replace("\0", "|").replace("\\", "").replace("<br>", "\n") for p in parts]
        return [lines[0].removeprefix("# "), lines[2].replace("**", "")], cells(table[0]), {c[0]: [bullets(x) for x in c[1:]] for c in map(cells, table[1:])}
    if fmt == "html":
        from html.parser import HTMLParser

        class Cells(HTMLParser):
            def __init__(self):
                super().__init__()
                self.rows, self.texts, self.cell = [], {}, None

            def handle_starttag(self, tag, attrs):
                if tag == "tr":
                    self.rows.append([])
                elif tag in ("td", "th") and self.rows:
                    self.cell = []
                elif tag in ("h1", "p") and not self.rows:
                    self.texts[tag] = self.texts.get(tag) or []
                elif tag == "p" and self.cell is not None and self.cell:
                    self.cell.append("\n")

            def handle_endtag(self, tag):
                if tag in ("td", "th") and self.cell is not None:
                    self.rows[-1].append("".join(self.cell).strip())
                    self.cell = None

            def handle_data(self, d):
                if self.cell is not None:
                    self.cell.append(d)
                elif not self.rows and d.strip():
                    self.texts.setdefault("all", []).append(d.strip())

        page = Cells()
        page.feed(data.decode())
        texts = page.texts["all"]
        lines = [texts[texts.index(TITLE, 1)], texts[texts.index(TITLE, 1) + 1]]  # after the <title>
        return lines, page.rows[0], {r[0]: r[1:] for r in page.rows[1:]}
    if fmt == "json":
        t = json.loads(data)
        g = t["grids"][0]

        def text(n):
            return ("★ " if n["highlight"] else "") + n["text"] + (f" (and {n['merged']} alike)" if n["merged"] else "") + (
                " (host)" if n["host"] else "")
        return ([t["title"], t["subtitle"]], ["Question", *g["horizons"]],
                {r["text"]: ["\n".join(text(n) for n in c) for c in r["cells"]] for r in g["rows"]})
    raise ValueError(fmt)


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "pdf"])
def test_each_format_has_the_title_the_paper_headings_and_every_milestone_in_its_cell(app, client, written, fmt):
    session, _ = written
    r = client.get(f"/sessions/{session.id}/trajectory.{fmt}")
    assert r.status_code == 200, r.data[:300]
    assert f'filename="strategy-café-trajectory.{fmt}"' in r.headers["Content-Disposition"]
    lines, head, cells = grid_of(fmt, r.data)
    assert lines[0] == TITLE and lines[1].startswith(SUBTITLE)
    assert head == HEAD  # the en dash, and the empty Emerging column, kept
    assert cells == CELLS
    everything = text_of(fmt, r.data).replace("\\|", "|")  # Markdown escapes a | in a cell
    for m in MILESTONES:
        assert everything.count(m) == 1, (m, fmt)
    for gone in LEFT_OUT:
        assert gone not in everything


def test_the_pdf_reads_back_with_its_headings_and_milestones(app, client, written):
    session, _ = written
    r = client.get(f"/sessions/{session.id}/trajectory.pdf")
    assert r.status_code == 200 and r.data.startswith(b"%PDF")
    flat = pdf_text(r.data)
    assert flat.startswith(f"{TITLE} {SUBTITLE}")
    assert " ".join(HEAD) in flat
    for m in MILESTONES:
        assert flat.count(m) == 1, m
    for gone in LEFT_OUT:
        assert gone not in flat


def test_the_full_write_up_keeps_its_trajectory_section(app, client, written):
    session, _ = written
    md = client.get(f"/sessions/{session.id}/write-up.md").get_data(as_text=True)
    assert "Where could we be, and when?" in md and "Emerging \\~ 6 – 24 months" in md and TITLE not in md


def test_the_share_link_gives_the_same_trajectory_write_up(app, written):
    session, _ = written
    services.share(session)
    token = session.share_token
    anonymous = app.test_client()
    assert anonymous.get(f"/shared/{token}/trajectory.csv").status_code == 200
    for fmt in FORMATS:
        by_link = anonymous.get(f"/shared/{token}/trajectory.{fmt}")
        assert by_link.status_code == 200, fmt
        assert by_link.headers["Cache-Control"].startswith("no-store") or "private" in by_link.headers["Cache-Control"]
        if fmt != "pdf":
            lines, head, cells = grid_of(fmt, by_link.data)
            assert lines[0] == TITLE and head == HEAD and cells == CELLS
        text = text_of(fmt, by_link.data)
        assert "Rude remark" not in text and "Housing forum" in text
    page = anonymous.get(f"/shared/{token}", follow_redirects=True).get_data(as_text=True)
    assert f'/shared/session/{session.id}/trajectory.pdf"' in page
    by_cookie = anonymous.get(f"/shared/session/{session.id}/trajectory.html")
    assert by_cookie.status_code == 200 and f'/shared/session/{session.id}/trajectory.docx"' in by_cookie.get_data(as_text=True)
    assert grid_of("html", by_cookie.data)[2] == CELLS
    assert app.test_client().get(f"/shared/session/{session.id}/trajectory.md").status_code in (403, 404)
    services.unshare(session)
    assert anonymous.get(f"/shared/{token}/trajectory.md").status_code == 404


def test_the_session_page_links_it_only_when_there_is_a_grid(app, client, world, facilitator):
    page = client.get(f"/sessions/{world['id']}").get_data(as_text=True)
    assert 'id="trajectory-downloads"' in page and f'/sessions/{world["id"]}/trajectory.docx"' in page
    plain = make_cafe(app, facilitator, questions=[{"kind": "notes", "text": "Ideas?"}], title="Plain")
    assert 'id="trajectory-downloads"' not in client.get(f"/sessions/{plain['id']}").get_data(as_text=True)
    r = client.get(f"/sessions/{plain['id']}/trajectory.md")
    assert r.status_code == 404 and "no trajectory question" in r.get_data(as_text=True)
    assert client.get(f"/sessions/{world['id']}/trajectory.exe").status_code == 404
    session = db.session.get(CafeSession, plain["id"])
    services.share(session)
    assert app.test_client().get(f"/shared/{session.share_token}/trajectory.md").status_code == 404


@pytest.mark.parametrize("name, hint, label", [
    ("Emerging", "~ 6 - 24 months", "Emerging ~ 6 – 24 months"),
    ("Emerging", "6-24 months", "Emerging 6 – 24 months"),
    ("Emerging", "~ 6 – 24 months", "Emerging ~ 6 – 24 months"),
    ("Sustaining", "Ongoing", "Sustaining Ongoing"),
    ("Later", "", "Later"),
    ("Long-term", "well-being - 2030", "Long-term well-being - 2030"),  # only a range of numbers changes
])
def test_a_horizon_is_headed_as_on_paper(name, hint, label):
    from consult.writeup.build import horizon_label

    assert horizon_label(name, hint) == label
