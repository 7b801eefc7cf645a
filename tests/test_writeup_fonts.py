"""The PDF write-up is typeset in the fonts shipped with consult (consult/writeup/fonts), never the computer's."""
import io
import os
import re

from consult import rules, services
from consult.extensions import db
from consult.models import CafeSession
from consult.writeup import typeset
from consult.writeup.routes import render

from .conftest import make_cafe, pdf_text, post_note

# What Leicester's participants write in, one note each. Words a PDF's text map can give back
# exactly: pypdf reads a vowel sign drawn before its consonant (चाहिए, மொழி) twice, and Typst maps
# a glyph's text once per font, so a letter met alone and later with a vowel sign (और, नौकरी)
# loses the sign (typst/typst#4225).
NOTES = {
    "gujarati": "ગુજરાતી ભાષા",
    "punjabi": "ਪੰਜਾਬੀ ਭਾਸ਼ਾ",
    "hindi": "हमें नौकरी",
    "bengali": "বাংলা ভাষা",
    "arabic": "نريد المزيد من الوظائف",
    "urdu": "ہمیں مزید مقامی نوکریاں چاہئیں",
    "tamil": "தமிழ் நாடு",
    "polish": "Zażółć gęślą jaźń",
    "somali": "Waxaan u baahanahay shaqooyin",
    "greek": "Ελληνικά и русский",
    "money": "£5 a week ★ ✓",
    "emoji": "🙂 👍 🎉",
}


def fonts_in(data):
    """The names of the fonts a PDF embeds, without the subset prefix Typst gives each (ABCDEF+)."""
    from pypdf import PdfReader

    names = set()
    for page in PdfReader(io.BytesIO(data)).pages:
        for font in page["/Resources"].get("/Font", {}).values():
            font = font.get_object()
            names.add(str(font.get("/BaseFont", font["/Subtype"])))
    return {re.sub(r"^/([A-Z]{6}\+)?", "", n).removesuffix("-Identity-H") for n in names}


def test_pdf_is_typeset_in_the_shipped_fonts(app, facilitator):
    # The title is bold: Gujarati in bold too.
    ids = make_cafe(app, facilitator, title="Café ગુજરાતી £",
                    questions=[{"kind": "notes", "text": "What would help?", "max_length": 280}])
    with app.app_context():
        session = db.session.get(CafeSession, ids["id"])
        voter = rules.Voter(services.join(session).id, session.id)
        for i, text in enumerate(NOTES.values()):
            post_note(voter, {"question_id": ids["questions"][0], "client_id": f"n-font-{i:04d}", "text": text})
        with app.test_request_context():
            pdf = render(session, "pdf")

    shipped = {name.removesuffix(".ttf") for name in os.listdir(typeset.FONTS) if name.endswith(".ttf")}
    used = fonts_in(pdf)
    # Every font in the PDF is one of consult's, by its PostScript name (as its file is named):
    # no fallback to a font of this computer (DejaVu, Noto Color Emoji...).
    assert used <= shipped, used - shipped
    assert {"NotoSans-Regular", "NotoSans-Bold", "NotoSansGujarati-Regular", "NotoSansGurmukhi-Regular",
            "NotoSansDevanagari-Regular", "NotoSansBengali-Regular", "NotoSansArabic-Regular", "NotoSansTamil-Regular",
            "NotoSansSymbols2-Regular", "NotoEmoji-Regular"} <= used

    flat = pdf_text(pdf)
    assert flat.startswith("Café ગુજરાતી £ Full write-up")  # no stray glyph codes after the last glyph
    for key in ("gujarati", "punjabi", "hindi", "bengali", "tamil", "polish", "somali", "greek", "money", "emoji"):
        assert NOTES[key] in flat, key
    # Right-to-left lines come back from pypdf in the order they are drawn: word by word.
    for word in NOTES["arabic"].split() + NOTES["urdu"].split():
        assert word in flat, word


def test_template_names_only_shipped_fonts():
    """A family the fonts folder does not have would fall back to another font without a word."""
    import typst

    families = set(typst.Fonts(include_system_fonts=False, include_embedded_fonts=False,
                               font_paths=[typeset.FONTS]).families())
    named = re.search(r"#set text\(font: \((.*?)\)", typeset.TEMPLATE, re.S).group(1)
    assert set(re.findall(r'"([^"]+)"', named)) == families
    assert os.path.exists(os.path.join(typeset.FONTS, "OFL.txt"))
