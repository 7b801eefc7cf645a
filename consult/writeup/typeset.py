"""The PDF write-up, typeset by Typst from the same data as the other formats (report.typ)."""
import io
import json
import os
import re

from ..pictures import stored, upload_dir
from .build import writeup


def pdf(session):
    """The write-up typeset on A4 by Typst (report.typ), with the title and date in the running
    header and page numbers. Typst lays out a café of 10,000 notes in seconds."""
    import typst  # imported here: only PDF needs it

    w = writeup(session)
    folder = upload_dir()
    data = {
        **w,
        # Only pictures that are there: a missing file must not fail the whole write-up.
        "pictures": sorted(_pictures(w)),
        "actions": [{**a, "number": str(a["number"] or "")} for a in w["actions"]],
    }
    os.makedirs(folder, exist_ok=True)
    # Only the fonts shipped beside the template (and Typst's own): the computer's fonts would make
    # the PDF differ from one machine to the next, and leave out scripts where they are missing.
    return _copyable(typst.compile(TEMPLATE.encode(), root=folder, format="pdf",
                                   font_paths=[FONTS], ignore_system_fonts=True,
                                   # default=str: the date, which the template does not read, as text
                                   sys_inputs={"data": json.dumps(data, ensure_ascii=False, default=str)}))


def _copyable(pdf):
    """The PDF with every glyph in its fonts' text maps, so Gujarati and other shaped scripts copy,
    search and read aloud right.

    Typst maps a cluster's text to its first glyph and leaves the cluster's other glyphs out of
    the ToUnicode map (typst/typst#4225); readers then show them as stray characters. The missing
    glyphs are mapped to no text, in an incremental update: the original bytes are kept as they
    are, and only the changed maps are added at the end.

    pypdf writes the maps and the trailer, but the update's cross-reference section is ours:
    pypdf's own incremental mode (PdfWriter(incremental=True)) parses and hashes every object,
    which takes seconds on a long write-up and fails past 100,000 items in one array (Typst's
    structure tree for accessibility has them), and its trailer leaves out /Info.
    """
    from pypdf import PdfReader
    from pypdf.generic import DictionaryObject, NameObject, NumberObject

    reader = PdfReader(io.BytesIO(pdf))
    fixed = []
    # Typst writes font dictionaries as plain objects: finding them in the bytes is far quicker
    # than walking a long document's pages. A Type0 font's CID font tells how many glyphs it has.
    fonts = dict.fromkeys(int(n) for n in re.findall(rb"/ToUnicode (\d+) 0 R", pdf))
    for font in re.findall(rb"<<[^<>]*/DescendantFonts[^<>]*>>", pdf):
        maps = re.search(rb"/ToUnicode (\d+) 0 R", font)
        cid = re.search(rb"/DescendantFonts\s*\[\s*(\d+) 0 R", font)
        if maps and cid:
            fonts[int(maps[1])] = int(cid[1])
    for number, cid in sorted(fonts.items()):
        stream = reader.get_object(number)
        cmap = stream.get_data().decode("latin-1")
        missing = unmapped(cmap, _last_glyph(reader, cid))
        if missing:
            blocks = "".join(f"{len(chunk)} beginbfchar\n" + "".join(f"<{c:04X}> <>\n" for c in chunk) + "endbfchar\n"
                             for chunk in (missing[i:i + 100] for i in range(0, len(missing), 100)))
            stream.set_data(cmap.replace("endcmap", blocks + "endcmap", 1).encode("latin-1"))
            fixed.append((number, stream))
    previous = re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", pdf)
    if not fixed or not previous:
        return pdf
    out = io.BytesIO()
    out.write(pdf if pdf.endswith(b"\n") else pdf + b"\n")
    offsets = []
    for number, stream in fixed:
        offsets.append((number, out.tell()))
        out.write(b"%d 0 obj\n" % number)
        stream.write_to_stream(out)
        out.write(b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 1\n0000000000 65535 f \n" + b"".join(b"%d 1\n%010d 00000 n \n" % item for item in offsets))
    # The previous trailer's entries, as the PDF standard asks of an update, and where it ends.
    trailer = DictionaryObject(reader.trailer)
    trailer[NameObject("/Prev")] = NumberObject(int(previous.group(1)))
    out.write(b"trailer\n")
    trailer.write_to_stream(out)
    out.write(b"\nstartxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def _last_glyph(reader, number):
    """The highest glyph code of a CID font, from its CIDSet (a bit for each glyph Typst kept):
    the last glyph of the subset may be one without text, which the map alone cannot tell."""
    try:
        bits = reader.get_object(number)["/FontDescriptor"]["/CIDSet"].get_data().rstrip(b"\0")
    except (KeyError, TypeError, AttributeError):
        return None
    return (len(bits) - 1) * 8 + 8 - (bits[-1] & -bits[-1]).bit_length() if bits else None


def unmapped(cmap, last=None):
    """The glyph codes up to `last` (or below the highest mapped one) that a ToUnicode CMap leaves
    without text."""
    mapped = set()
    for block in re.findall(r"beginbfchar(.*?)endbfchar", cmap, re.S):
        mapped.update(int(code, 16) for code in re.findall(r"<([0-9A-Fa-f]{4})>\s*<", block))
    for block in re.findall(r"beginbfrange(.*?)endbfrange", cmap, re.S):
        for low, high in re.findall(r"<([0-9A-Fa-f]{4})>\s*<([0-9A-Fa-f]{4})>", block):
            mapped.update(range(int(low, 16), int(high, 16) + 1))
    return [code for code in range(1, (last + 1) if last is not None else max(mapped, default=0)) if code not in mapped]


TEMPLATE = open(os.path.join(os.path.dirname(__file__), "report.typ"), encoding="utf-8").read()
FONTS = os.path.join(os.path.dirname(__file__), "fonts")


def _pictures(w):
    names = {q["image"] for q in w["questions"]} | {o["image"] for q in w["questions"] for o in q["option_pictures"]}
    return {n for n in names if stored(n)}

