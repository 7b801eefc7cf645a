"""Write-up documents for editing: Word (python-docx) and Excel (openpyxl)."""
import io

from ..pictures import stored
from ..transfer import xml_safe
from .build import writeup
from .formats import RAW_COLUMNS, horizon_heading, milestone_text, prioritised_note, raw_rows


def _word_chart(doc, title, bars):
    """A native Word bar chart: a DrawingML chart part, as Word itself writes one, with its
    numbers in an embedded workbook so "Edit Data" works. python-docx has no chart API; the
    chart XML comes from python-pptx, whose charts are the same DrawingML."""
    from docx.opc.constants import CONTENT_TYPE as CT, RELATIONSHIP_TYPE as RT
    from docx.opc.part import Part, XmlPart
    from docx.oxml import parse_xml
    from pptx.chart.chart import Chart
    from pptx.chart.data import CategoryChartData
    from pptx.enum.chart import XL_CHART_TYPE, XL_LABEL_POSITION
    from pptx.dml.color import RGBColor
    from pptx.oxml import parse_xml as parse_chart
    from pptx.util import Pt

    data = CategoryChartData(number_format="0")
    data.categories = [f"{b['text']} ({b['percent']}%)" for b in bars]
    data.add_series("Count", [b["count"] for b in bars])
    space = parse_chart(data.xml_bytes(XL_CHART_TYPE.BAR_CLUSTERED))
    chart = Chart(space, None)
    chart.has_legend = False
    chart.has_title = True
    chart.chart_title.text_frame.text = title
    chart.font.size = Pt(10)
    chart.category_axis.reverse_order = True  # first answer on top, as in the table below it
    chart.value_axis.has_major_gridlines = False
    chart.value_axis.visible = False  # each bar is labelled with its count
    plot = chart.plots[0]
    plot.gap_width = 60
    fill = plot.series[0].format.fill
    fill.solid()
    fill.fore_color.rgb = RGBColor(0x0B, 0x5C, 0xAD)
    plot.has_data_labels = True
    plot.data_labels.show_value = True
    plot.data_labels.position = XL_LABEL_POSITION.OUTSIDE_END

    package = doc.part.package
    part = XmlPart(package.next_partname("/word/charts/chart%d.xml"), CT.DML_CHART, space, package)
    book = Part(package.next_partname("/word/embeddings/Microsoft_Excel_Sheet%d.xlsx"), CT.SML_SHEET,
                data.xlsx_blob, package)
    space.get_or_add_externalData().rId = part.relate_to(book, RT.PACKAGE)
    rid = doc.part.relate_to(part, RT.CHART)
    shape = doc.part.next_id
    width, height = 5_760_000, 540_000 + 380_000 * len(bars)  # EMU: 16 cm wide, a bar 1 cm tall
    run = doc.add_paragraph().add_run()
    run._r.append(parse_xml(
        '<w:drawing xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
        ' xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"'
        ' xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'
        ' xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart"'
        ' xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f'<wp:inline distT="0" distB="0" distL="0" distR="0"><wp:extent cx="{width}" cy="{height}"/>'
        '<wp:effectExtent l="0" t="0" r="0" b="0"/>'
        f'<wp:docPr id="{shape}" name="Chart {shape}"/><wp:cNvGraphicFramePr/>'
        '<a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/chart">'
        f'<c:chart r:id="{rid}"/></a:graphicData></a:graphic></wp:inline></w:drawing>'
    ))
    # Alt text for screen readers, set as an attribute so no participant's text is parsed as XML.
    run._r.xpath(".//wp:docPr")[0].set("descr", f"Bar chart: {title}. "
                                       + "; ".join(f"{b['text']}: {b['count']} ({b['percent']}%)" for b in bars))


def _word_picture(doc, name, alt, width):
    """A question's or option's picture with its alt text; WebP, which Word cannot show, as PNG."""
    from docx.shared import Cm
    from PIL import Image

    path = stored(name)
    if path is None:
        return
    if name.endswith(".webp"):
        out = io.BytesIO()
        with Image.open(path) as image:
            image.save(out, "PNG")
        path = out
    doc.add_picture(path, width=Cm(width))
    doc.inline_shapes[-1]._inline.docPr.set("descr", alt or "")


def docx(session):
    """A Word document with real headings and tables, for teams to edit."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt

    w = xml_safe(writeup(session))
    doc = Document()
    section = doc.sections[0]
    section.header.paragraphs[0].text = w["heading"]
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    footer.add_run("Page ")
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    footer._p.append(field)

    doc.add_heading(w["heading"], level=0)
    doc.add_paragraph().add_run(w["subtitle"]).bold = True
    doc.add_paragraph(w["facts"])
    if w["description"]:
        doc.add_paragraph(w["description"])
    doc.add_page_break()  # a title page, as the paper write-ups have

    def table(headers, rows):
        t = doc.add_table(rows=1, cols=len(headers))
        t.style = "Table Grid"
        for cell, text in zip(t.rows[0].cells, headers):
            cell.text = ""
            cell.paragraphs[0].add_run(text).bold = True
        for row in rows:
            cells = t.add_row().cells
            for cell, value in zip(cells, row):
                if callable(value):
                    value(cell)
                else:
                    cell.text = str(value)
        return t

    for q in w["questions"]:
        doc.add_heading(f"{q['number']}. {q['text']}", level=1)
        _word_picture(doc, q["image"], q["image_alt"], 8)
        for o in q["option_pictures"]:
            _word_picture(doc, o["image"], o["alt"], 3.5)
            doc.add_paragraph(o["text"])
        if q["kind"] == "notes":
            def feedback(row):
                def fill(cell):
                    cell.text = ""
                    first = True
                    for f in row["feedback"]:
                        if f["round"]:
                            p = cell.paragraphs[0] if first else cell.add_paragraph()
                            p.add_run(f"Round {f['round']}").bold = True
                            first = False
                        for n in f["notes"]:
                            p = cell.paragraphs[0] if first else cell.add_paragraph()
                            first = False
                            p.add_run("• " + n["text"] + (f" (and {n['merged']} alike)" if n["merged"] else ""))
                return fill

            def highlights(row):
                def fill(cell):
                    lines = ["• " + n["text"] for n in row["highlights"]]
                    lines += [(f"Round {s['round']}: " if s["round"] else "") + s["text"] for s in row["summaries"]]
                    cell.text = "\n".join(lines)
                return fill

            table(["Question", "Feedback (group)", "Highlights (host)"],
                  [[row["table"], feedback(row), highlights(row)] for row in q["rows"]] or [["", "No notes.", ""]])
            p = q.get("prioritised")
            if p:  # dot-voting: the notes ranked by their dots
                doc.add_heading("Prioritised", level=2)
                doc.add_paragraph(p["summary"])
                if p["notes"]:
                    most = p["notes"][0]["dots"]
                    table(["Rank", "Note", "Dots", ""],
                          [[n["rank"], prioritised_note(n), n["dots"], "█" * max(1, round(10 * n["dots"] / most))]
                           for n in p["notes"]])
                else:
                    doc.add_paragraph("No dots were placed.")
        elif q["kind"] == "trajectory":
            def milestones(cell_notes):
                def fill(cell):
                    cell.text = ""
                    for i, n in enumerate(cell_notes):
                        p = cell.paragraphs[0] if i == 0 else cell.add_paragraph()
                        p.add_run("• " + milestone_text(n))
                return fill

            table(["Question or theme", *(horizon_heading(h) for h in q["horizons"])],
                  [[row["text"], *(milestones(c) for c in row["cells"])] for row in q["grid"]])
            doc.add_paragraph(f"{q['total']} milestone{'' if q['total'] == 1 else 's'}"
                              + (" · ★ highlighted by a table host" if q["highlighted"] else ""))
            if q["unplaced"]:
                doc.add_paragraph("Not placed on the grid: " + "; ".join(milestone_text(n) for n in q["unplaced"]))
            for s in q["summaries"]:
                p = doc.add_paragraph()
                p.add_run(f"Host summary, {s['table']}" + (f", round {s['round']}" if s["round"] else "") + ": ").bold = True
                p.add_run(s["text"])
        else:
            r = q["results"]
            if r["bars"]:
                _word_chart(doc, f"Question {q['number']}", r["bars"])
            table(["Answer", "Count", "Percent"], [[b["text"], b["count"], f"{b['percent']}%"] for b in r["bars"]])
            doc.add_paragraph(f"{r['total']} answered" + (f" · average {r['mean']}" if r.get("mean") is not None else ""))
    if w["actions"]:
        doc.add_heading("Action framework", level=1)
        codes = [p["code"] for p in w["priorities"]]
        table(["Theme", "Sub-theme", "Action", "No", "Suggested lead", *codes, "Outcome measure"],
              [[a["theme"], a["sub_theme"], a["text"], a["number"], a["lead"], *a["links"], a["outcome"]]
               for a in w["actions"]])
        doc.add_paragraph("X: strong relationship · O: supporting. "
                          + " ".join(f"{p['code']}: {p['name']}." for p in w["priorities"]))
    doc.add_heading("Participation", level=1)
    table(["Question", "Answered"], [[f"{p['number']}. {p['text']}", p["answers"]] for p in w["participation"]["per_question"]])
    if w["participation"]["per_table"]:
        doc.add_paragraph()
        table(["Table", "Seated", "Notes", "Votes"],
              [[t["table"], t["seated"], t["notes"], t["votes"]] for t in w["participation"]["per_table"]])
    for style in ("Normal",):
        doc.styles[style].font.size = Pt(10.5)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _sheet_header(text):
    """A printed sheet header: "&" doubled, as a lone "&" starts a header code, and at most the 255
    characters Excel takes (a 200-character title full of "&" could pass it)."""
    escaped = text.replace("&", "&&")
    while len(escaped) > 255:
        text = text[:-1]
        escaped = text.rstrip().replace("&", "&&") + "…"
    return escaped


def xlsx(session, public=False):
    """A workbook: every vote and note, the results with native bar charts, the notes table, actions.

    public (a share link's download): the raw data holds only the notes the write-up shows."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Font

    w = xml_safe(writeup(session))
    book = Workbook(write_only=True)  # streams rows: a large café has tens of thousands
    bold = Font(bold=True)

    def row(sheet, values, font=None, formats=None):
        cells = []
        for i, value in enumerate(values):
            cell = WriteOnlyCell(sheet, value=xml_safe(value))
            if isinstance(value, str):
                cell.data_type = "s"  # participants' text stays text: "=..." never becomes a formula
            if font:
                cell.font = font
            if formats and i in formats:
                cell.number_format = formats[i]
            cells.append(cell)
        sheet.append(cells)

    # A cover sheet with the title page's lines, as the other formats open; every sheet's tables
    # still start on row 1, and every sheet prints with the title line in its page header.
    cover = book.create_sheet("Write-up")
    cover.column_dimensions["A"].width = 90
    row(cover, [w["heading"]], Font(bold=True, size=16))
    row(cover, [w["subtitle"]], Font(bold=True, size=13, color="0B5CAD"))
    row(cover, [w["facts"]])
    if w["description"]:
        row(cover, [w["description"]])

    raw = book.create_sheet("Raw data")
    row(raw, RAW_COLUMNS, bold)
    for values in raw_rows(session, public):
        row(raw, values)

    results = book.create_sheet("Results")
    line = 0
    for q in w["questions"]:
        if q["kind"] in ("notes", "trajectory"):
            continue
        bars = q["results"]["bars"]
        row(results, [f"{q['number']}. {q['text']}"], bold)
        row(results, ["Answer", "Count", "Percent"], bold)
        first = line + 3
        for b in bars:
            row(results, [b["text"], b["count"], b["percent"] / 100], formats={2: "0.0%"})
        last = first + len(bars) - 1
        chart = BarChart()
        chart.type = "bar"
        chart.title = f"Question {q['number']}"
        chart.legend = None
        chart.add_data(Reference(results, min_col=2, min_row=first - 1, max_row=last), titles_from_data=True)
        chart.set_categories(Reference(results, min_col=1, min_row=first, max_row=last))
        chart.height, chart.width = 2 + 0.8 * len(bars), 14
        results.add_chart(chart, f"E{line + 1}")
        # Leave room for the chart before the next question's table.
        spare = max(1, int(chart.height * 2) - len(bars) - 1)
        for _ in range(spare):
            results.append([])
        line += 2 + len(bars) + spare

    notes = book.create_sheet("Notes")
    row(notes, ["Question", "Table", "Round", "Feedback (group)", "Highlight", "Merged"], bold)
    for q in w["questions"]:
        for r in q.get("rows", []):
            highlighted = {id(n) for n in r["highlights"]}
            for f in r["feedback"]:
                for n in f["notes"]:
                    row(notes, [f"{q['number']}. {q['text']}", r["table"], f["round"] or "", n["text"],
                                "yes" if id(n) in highlighted else "", n["merged"] or ""])
            for s in r["summaries"]:
                row(notes, [f"{q['number']}. {q['text']}", r["table"], s["round"] or "", s["text"], "host summary", ""])

    ranked = [q for q in w["questions"] if q.get("prioritised")]
    if ranked:  # dot-voting: each question's notes ranked by their dots, with a native bar chart
        sheet = book.create_sheet("Prioritised")
        sheet.column_dimensions["B"].width = 60
        line = 0
        for q in ranked:
            p = q["prioritised"]
            row(sheet, [f"{q['number']}. {q['text']}"], bold)
            row(sheet, [p["summary"]])
            row(sheet, ["Rank", "Note", "Dots"], bold)
            for n in p["notes"]:
                row(sheet, [n["rank"], prioritised_note(n), n["dots"]])
            used, spare = 3 + len(p["notes"]), 1
            if p["notes"]:
                first, last = line + 4, line + 3 + len(p["notes"])
                chart = BarChart()
                chart.type = "bar"
                chart.title = f"Question {q['number']}: dots"
                chart.legend = None
                chart.x_axis.scaling.orientation = "maxMin"  # the most dots at the top, as in the table
                chart.add_data(Reference(sheet, min_col=3, min_row=first - 1, max_row=last), titles_from_data=True)
                chart.set_categories(Reference(sheet, min_col=2, min_row=first, max_row=last))
                chart.height, chart.width = 2 + 0.8 * len(p["notes"]), 14
                sheet.add_chart(chart, f"E{line + 1}")
                spare = max(1, int(chart.height * 2) - used)
            for _ in range(spare):
                sheet.append([])
            line += used + spare

    grids = [q for q in w["questions"] if q["kind"] == "trajectory"]
    if grids:
        from openpyxl.styles import Alignment

        sheet = book.create_sheet("Trajectory")
        sheet.column_dimensions["A"].width = 36
        for i in range(max(len(q["horizons"]) for q in grids)):
            sheet.column_dimensions[chr(ord("B") + i)].width = 34
        wrap = Alignment(wrap_text=True, vertical="top")
        for q in grids:
            row(sheet, [f"{q['number']}. {q['text']}"], bold)
            row(sheet, ["Question or theme", *(horizon_heading(h) for h in q["horizons"])], bold)
            for r in q["grid"]:
                cells = []
                for value in [r["text"], *("\n".join("• " + milestone_text(n) for n in c) for c in r["cells"])]:
                    cell = WriteOnlyCell(sheet, value=value)
                    cell.data_type = "s"  # a milestone is text, never a formula
                    cell.alignment = wrap
                    cells.append(cell)
                sheet.append(cells)
            for m in q["unplaced"]:
                row(sheet, ["Not placed on the grid", milestone_text(m)])
            for summary in q["summaries"]:
                row(sheet, [f"Host summary, {summary['table']}" + (f", round {summary['round']}" if summary["round"] else ""),
                            summary["text"]])
            sheet.append([])

    if w["actions"]:
        actions = book.create_sheet("Actions")
        codes = [p["code"] for p in w["priorities"]]
        row(actions, ["Theme", "Sub-theme", "Action", "No", "Suggested lead", *codes, "Outcome measure"], bold)
        for a in w["actions"]:
            row(actions, [a["theme"], a["sub_theme"], a["text"], a["number"], a["lead"], *a["links"], a["outcome"]])
    for sheet in book.worksheets:
        sheet.oddHeader.center.text = _sheet_header(w["heading"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
