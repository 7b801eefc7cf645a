"""The trajectory exercise as its own write-up, as the paper one is sent: "<title>: Systems Change
Trajectory", then one grid per trajectory question, its rows against the time horizons (a horizon
no one wrote under keeps its column), the milestones listed in their cells.

Only what the full write-up shows (visible milestones, a merged one once, build._grid), so the
same file serves the facilitator and a share link.
"""
import csv
import io
import json
import os

from flask import render_template

from ..transfer import xml_safe
from .build import writeup
from .formats import _md, milestone_text, safe_cell

SUBTITLE = "Full write-up of key milestone and activity exercise"
FIRST_COLUMN = "Question"
FORMATS = ("html", "pdf", "docx", "md", "csv", "xlsx", "json")


def has_grid(session):
    return any(q.kind == "trajectory" for q in session.questions)


def trajectory(session):
    """{title, subtitle, date, grids: [{number, text, horizons: [label], rows: [{text, cells: [[milestone]]}],
    unplaced, total}]}: the write-up's trajectory questions, numbered among the trajectory ones."""
    w = writeup(session)
    grids = []
    for q in w["questions"]:
        if q["kind"] != "trajectory":
            continue
        grids.append({"number": len(grids) + 1, "text": q["text"], "horizons": [h["label"] for h in q["horizons"]],
                      "rows": q["grid"], "unplaced": q["unplaced"], "total": q["total"], "highlighted": q["highlighted"]})
    return {"title": f"{w['title']}: Systems Change Trajectory", "subtitle": SUBTITLE,
            "date": w["date"].strftime("%-d %B %Y") if w["date"] else "", "grids": grids}


def render(session, fmt):
    t = trajectory(session)
    return {"html": _html, "pdf": _pdf, "docx": _docx, "md": _markdown, "csv": _csv, "xlsx": _xlsx,
            "json": _json}[fmt](t)


def _count(g):
    return f"{g['total']} milestone{'' if g['total'] == 1 else 's'}" + (
        " · ★ highlighted by a table host" if g["highlighted"] else "")


def _html(t):
    return render_template("writeup/trajectory.html", t=t)


def _markdown(t):
    out = [f"# {_md(t['title'])}", "", f"**{_md(t['subtitle'])}**" + (f", {_md(t['date'])}" if t["date"] else ""), ""]
    for g in t["grids"]:
        out += [f"## {g['number']}. {_md(g['text'])}", ""]
        out += ["| " + " | ".join(_md(h) for h in [FIRST_COLUMN, *g["horizons"]]) + " |",
                "|---|" + "---|" * len(g["horizons"])]
        for row in g["rows"]:
            cells = ["<br>".join("• " + _md(milestone_text(n)) for n in cell) for cell in row["cells"]]
            out.append(f"| {_md(row['text'])} | " + " | ".join(cells) + " |")
        out += ["", _count(g), ""]
        if g["unplaced"]:
            out += ["Not placed on the grid: " + "; ".join(_md(milestone_text(n)) for n in g["unplaced"]), ""]
    if not t["grids"]:
        out += ["This session has no trajectory question.", ""]
    return "\n".join(out)


def _csv(t):
    """The grids as a spreadsheet shows them: the title lines, then per question its header row and
    a row per theme, a cell's milestones one a line."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([safe_cell(t["title"])])
    writer.writerow([safe_cell(t["subtitle"] + (f", {t['date']}" if t["date"] else ""))])
    for g in t["grids"]:
        writer.writerow([])
        writer.writerow([safe_cell(f"{g['number']}. {g['text']}")])
        writer.writerow([FIRST_COLUMN, *g["horizons"]])
        for row in g["rows"]:
            writer.writerow([safe_cell(c) for c in
                             [row["text"], *("\n".join("• " + milestone_text(n) for n in cell) for cell in row["cells"])]])
        for n in g["unplaced"]:
            writer.writerow(["Not placed on the grid", safe_cell(milestone_text(n))])
    return out.getvalue()


def _json(t):
    return json.dumps(t, ensure_ascii=False, indent=1)


def _docx(t):
    from docx import Document
    from docx.enum.section import WD_ORIENT

    t = xml_safe(t)
    doc = Document()
    section = doc.sections[0]
    # Landscape: four or five columns of milestones are unreadable on an upright page.
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = section.page_height, section.page_width
    section.header.paragraphs[0].text = t["title"]
    doc.add_heading(t["title"], level=0)
    doc.add_paragraph().add_run(t["subtitle"] + (f", {t['date']}" if t["date"] else "")).bold = True
    for g in t["grids"]:
        doc.add_heading(f"{g['number']}. {g['text']}", level=1)
        table = doc.add_table(rows=1, cols=1 + len(g["horizons"]))
        table.style = "Table Grid"
        for cell, text in zip(table.rows[0].cells, [FIRST_COLUMN, *g["horizons"]]):
            cell.paragraphs[0].add_run(text).bold = True
        for row in g["rows"]:
            cells = table.add_row().cells
            cells[0].paragraphs[0].add_run(row["text"]).bold = True
            for cell, found in zip(cells[1:], row["cells"]):
                for i, n in enumerate(found):
                    (cell.paragraphs[0] if i == 0 else cell.add_paragraph()).add_run("• " + milestone_text(n))
        doc.add_paragraph(_count(g))
        if g["unplaced"]:
            doc.add_paragraph("Not placed on the grid: " + "; ".join(milestone_text(n) for n in g["unplaced"]))
    if not t["grids"]:
        doc.add_paragraph("This session has no trajectory question.")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _xlsx(t):
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    t = xml_safe(t)
    book = Workbook()
    sheet = book.active
    sheet.title = "Trajectory"
    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    sheet.column_dimensions["A"].width = 36
    for i in range(max((len(g["horizons"]) for g in t["grids"]), default=0)):
        sheet.column_dimensions[chr(ord("B") + i)].width = 34

    def put(values, font=None):
        sheet.append([None] * len(values))
        for cell, value in zip(sheet[sheet.max_row], values):
            cell.value = value
            cell.data_type = "s"  # participants' text is text, never a formula
            cell.alignment = wrap
            if font:
                cell.font = font

    put([t["title"]], Font(bold=True, size=14))
    put([t["subtitle"] + (f", {t['date']}" if t["date"] else "")], bold)
    for g in t["grids"]:
        sheet.append([])
        put([f"{g['number']}. {g['text']}"], bold)
        put([FIRST_COLUMN, *g["horizons"]], bold)
        for row in g["rows"]:
            put([row["text"], *("\n".join("• " + milestone_text(n) for n in cell) for cell in row["cells"])])
        for n in g["unplaced"]:
            put(["Not placed on the grid", milestone_text(n)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


TEMPLATE = open(os.path.join(os.path.dirname(__file__), "trajectory.typ"), encoding="utf-8").read()


def _pdf(t):
    import typst

    from .typeset import FONTS, _copyable

    return _copyable(typst.compile(TEMPLATE.encode(), format="pdf", font_paths=[FONTS], ignore_system_fonts=True,
                                   sys_inputs={"data": json.dumps(t, ensure_ascii=False)}))
