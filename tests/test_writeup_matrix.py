"""The PDF action matrix, read back by position: every column wide enough to read, nothing over
its neighbour, each X/O under its priority."""
import io

import pytest

from consult.extensions import db
from consult.models import Action, ActionLink, CafeSession, Priority
from consult.writeup.routes import render

from .conftest import make_cafe

LONG = ("Establish a neighbourhood-level employment and skills partnership that brings together the council, "
        "colleges, voluntary groups and local employers to co-design pathways into work for young people")
THEMES = ["Economy and employment", "Health and wellbeing", "Housing and infrastructure", "Community cohesion"]
SUBS = ["Skills and training", "Mental health", "Affordable homes", "Volunteering and civic participation"]
LEADS = ["Leicester City Council Economic Development Team", "NHS Leicester, Leicestershire and Rutland ICB",
         "Voluntary Action Leicester", "Leicestershire Chamber of Commerce"]


def framework(app, facilitator, priorities):
    """A session with a 32-action framework as teams write them: long actions, leads and outcomes."""
    ids = make_cafe(app, facilitator, questions=[{"kind": "notes", "text": "What should change?"}])
    with app.app_context():
        session = db.session.get(CafeSession, ids["id"])
        vfs = [Priority(code=f"VF{i + 1}", name=f"Vital few priority {i + 1}", position=i) for i in range(priorities)]
        session.priorities.extend(vfs)
        db.session.flush()
        for i in range(32):
            action = Action(
                session_id=session.id, number=f"{i // 8 + 1}.{i % 8 + 1}", theme=THEMES[i // 8 % 4], sub_theme=SUBS[(i // 2) % 4],
                text=f"Action {i + 1}: " + LONG[: 60 + (i * 37) % (len(LONG) - 60)],
                lead=LEADS[i % 4], outcome=f"Outcome {i + 1}: measurable increase in participation reported annually "
                                           "through the partnership dashboard" + " and resident survey" * (i % 3),
                position=i)
            if i == 2:  # words too long for their column: a run-together name, a pasted link
                action.sub_theme = "Neighbourhoodregenerationpartnerships"
                action.lead = "https://www.leicester.gov.uk/your-council/policies-plans-and-strategies/economy"
            action.links = [ActionLink(priority_id=p.id, strength="XO"[(i + j) % 2])
                            for j, p in enumerate(vfs) if (i + j) % 3 != 0]
            db.session.add(action)
        db.session.commit()
        with app.test_request_context():
            return render(session, "pdf")


def _widths(font):
    """A Type0 font's glyph widths by the text each glyph stands for: {text: width in 1/1000 em}, and
    the default width. Typst's fonts map glyph codes to text in ToUnicode and give widths in /W."""
    import re

    cid = font["/DescendantFonts"][0].get_object()
    by_code, w, i = {}, list(cid.get("/W", [])), 0
    while i < len(w):
        if isinstance(w[i + 1], list):
            by_code.update({w[i] + k: v for k, v in enumerate(w[i + 1])})
            i += 2
        else:
            by_code.update(dict.fromkeys(range(w[i], w[i + 1] + 1), w[i + 2]))
            i += 3
    cmap = font["/ToUnicode"].get_object().get_data().decode("latin-1")
    by_text = {}
    for block in re.findall(r"beginbfchar(.*?)endbfchar", cmap, re.S):
        for code, text in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]*)>", block):
            if text:
                by_text.setdefault(bytes.fromhex(text).decode("utf-16-be"), by_code.get(int(code, 16)))
    for block in re.findall(r"beginbfrange(.*?)endbfrange", cmap, re.S):
        for low, high, start in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            for k in range(int(high, 16) - int(low, 16) + 1):
                by_text.setdefault(chr(int(start, 16) + k), by_code.get(int(low, 16) + k))
    return by_text, cid.get("/DW", 1000)


def _width(text, widths):
    """How wide a run's text is, in 1/1000 em: glyphs matched longest first (a ligature stands for two letters)."""
    by_text, default = widths
    total, i = 0, 0
    while i < len(text):
        for size in (3, 2, 1):
            piece = text[i:i + size]
            if len(piece) == size and (size == 1 or piece in by_text):
                total += by_text.get(piece) or (0 if piece == "\u200b" else default)
                i += size
                break
    return total


def runs(page):
    """Each run of text on a page as (left x, baseline y, right x, text), in points, read with pypdf."""
    out, fonts = [], {}

    def visit(text, cm, tm, font, size):
        text = text.strip()
        if not text or font is None:
            return
        # The text matrix times the current matrix: where the run starts on the page, and its scale.
        a, e, f = tm[0] * cm[0] + tm[1] * cm[2], tm[4] * cm[0] + tm[5] * cm[2] + cm[4], tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        widths = fonts.get(id(font)) or fonts.setdefault(id(font), _widths(font))
        out.append((e, f, e + _width(text, widths) / 1000 * size * a, text))

    page.extract_text(visitor_text=visit)
    return out


def matrix_pages(pdf_bytes):
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf_bytes))
    pages = [(page, runs(page)) for page in reader.pages]
    return [(page, found) for page, found in pages if any(r[3] == "Outcome measure" or r[3] == "Outcome" for r in found)
            and any(r[3] == "Suggested lead" or r[3] == "Suggested" for r in found)]


HEADERS = ["Theme", "Sub-theme", "Action", "No", "Suggested lead"]


def columns(found, codes):
    """The matrix's header cells on a page, left to right: [(label, left x, right x)]. A header that
    wraps is read from its first line."""
    labels = HEADERS + codes + ["Outcome measure"]
    top = next(r for r in found if r[3] == "Theme")[1]
    line = sorted((r for r in found if abs(r[1] - top) < 0.5), key=lambda r: r[0])
    assert len(line) == len(labels) and all(label.startswith(r[3]) for label, r in zip(labels, line)), [r[3] for r in line]
    return top, [(label, r[0], r[2]) for label, r in zip(labels, line)]


@pytest.mark.parametrize("count", [1, 5, 10, 12])
def test_action_matrix_columns_are_readable(app, facilitator, count):
    codes = [f"VF{i + 1}" for i in range(count)]
    pdf = framework(app, facilitator, count)
    pages = matrix_pages(pdf)
    assert pages, "no action matrix found"
    placed = {}
    for page, found in pages:
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        assert width > height  # landscape: a wide matrix gets the long side
        top, heads = columns(found, codes)
        # Header cells left to right, none running into the next.
        for (label, left, right), (_, after, _) in zip(heads, heads[1:]):
            assert left < right < after, (label, left, right, after)
        assert heads[-1][2] <= width
        at = {label: (left, right) for label, left, right in heads}
        text_width = width - 2 * heads[0][1]
        starts = [left for _, left, _ in heads]
        bounds = dict(zip([h[0] for h in heads], zip(starts, starts[1:] + [width - heads[0][1] + 1])))
        action = bounds["Action"]
        assert action[1] - action[0] >= 0.25 * text_width, (action, text_width)
        for label in ("Theme", "Sub-theme", "Suggested lead", "Outcome measure"):
            assert bounds[label][1] - bounds[label][0] >= 0.07 * text_width, (label, bounds[label])
        # The table's runs: below the header, above the key to the marks and the page footer.
        end = max([r[1] for r in found if r[3].startswith(("X: strong", "Page "))], default=0)
        body = [r for r in found if end + 0.5 < r[1] < top - 1]
        for left, y, right, text in body:
            # Every run of text starts in a column and ends before the next column's header.
            label = next((h for h, (start, end) in bounds.items() if start - 0.5 <= left < end), None)
            assert label, (left, text)
            assert right <= bounds[label][1] + 0.5, (label, text, right, bounds[label])
            if text in ("X", "O"):
                # A mark is centred under its priority's header.
                head_left, head_right = at[label]
                assert label in codes and abs((left + right) / 2 - (head_left + head_right) / 2) < 1.5, (label, text)
            if text.startswith("Action ") and text[7:].split(":")[0].isdigit():
                assert label == "Action", (text, left)
        # The marks on each action's first line, by priority: every X and O in place.
        for left, y, right, text in body:
            if text.startswith("Action ") and text[7:].split(":")[0].isdigit():
                n = int(text[7:].split(":")[0])
                placed[n] = {h: r[3] for r in body for h in codes
                             if abs(r[1] - y) < 0.5 and r[3] in ("X", "O") and bounds[h][0] - 0.5 <= r[0] < bounds[h][1]}
    assert sorted(placed) == list(range(1, 33))
    for n, marks in placed.items():
        i = n - 1
        assert marks == {code: "XO"[(i + j) % 2] for j, code in enumerate(codes) if (i + j) % 3 != 0}, n
