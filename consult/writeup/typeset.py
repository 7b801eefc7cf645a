"""The PDF write-up, typeset by Typst from the same data as the other formats (report.typ)."""
import io
import json
import os
import re
import zlib

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
    return _copyable(typst.compile(TEMPLATE.encode(), root=folder, format="pdf",
                                   # default=str: the date, which the template does not read, as text
                                   sys_inputs={"data": json.dumps(data, ensure_ascii=False, default=str)}))


def _copyable(pdf):
    """The PDF with every glyph in its fonts' text maps, so Gujarati and other shaped scripts copy,
    search and read aloud right.

    Typst maps a cluster's text to its first glyph and leaves the cluster's other glyphs out of
    the ToUnicode map (typst/typst#4225); readers then show them as stray characters. The missing
    glyphs are mapped to no text, in an incremental update: the original bytes are kept as they
    are, and only the changed maps are added at the end.
    """
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    maps = {}
    # Typst writes font dictionaries as plain objects: finding their maps in the bytes is far
    # quicker than walking a long document's pages.
    for number in {int(n) for n in re.findall(rb"/ToUnicode (\d+) 0 R", pdf)}:
        maps[number] = reader.get_object(number).get_data().decode("latin-1")
    fixed = {}
    for number, cmap in maps.items():
        missing = unmapped(cmap)
        if missing:
            blocks = "".join(f"{len(chunk)} beginbfchar\n" + "".join(f"<{c:04X}> <>\n" for c in chunk) + "endbfchar\n"
                             for chunk in (missing[i:i + 100] for i in range(0, len(missing), 100)))
            fixed[number] = cmap.replace("endcmap", blocks + "endcmap", 1).encode("latin-1")
    previous = re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", pdf)
    if not fixed or not previous:
        return pdf
    out = bytearray(pdf if pdf.endswith(b"\n") else pdf + b"\n")
    offsets = {}
    for number, data in sorted(fixed.items()):
        body = zlib.compress(data)
        offsets[number] = len(out)
        out += b"%d 0 obj\n<</Length %d/Filter/FlateDecode>>\nstream\n%s\nendstream\nendobj\n" % (number, len(body), body)
    xref = len(out)
    out += b"xref\n0 1\n0000000000 65535 f \n" + b"".join(b"%d 1\n%010d 00000 n \n" % item for item in offsets.items())
    trailer = reader.trailer
    entries = [f"/Size {trailer['/Size']}", f"/Root {trailer.raw_get('/Root').idnum} 0 R"]
    if "/Info" in trailer:
        entries.append(f"/Info {trailer.raw_get('/Info').idnum} 0 R")
    if "/ID" in trailer:
        entries.append("/ID[" + "".join(f"<{bytes(getattr(part, 'original_bytes', part)).hex()}>" for part in trailer["/ID"]) + "]")
    out += f"trailer\n<<{''.join(entries)}/Prev {int(previous.group(1))}>>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def unmapped(cmap):
    """The glyph codes below the highest one that a ToUnicode CMap leaves without text."""
    mapped = set()
    for block in re.findall(r"beginbfchar(.*?)endbfchar", cmap, re.S):
        mapped.update(int(code, 16) for code in re.findall(r"<([0-9A-Fa-f]{4})>\s*<", block))
    for block in re.findall(r"beginbfrange(.*?)endbfrange", cmap, re.S):
        for low, high in re.findall(r"<([0-9A-Fa-f]{4})>\s*<([0-9A-Fa-f]{4})>", block):
            mapped.update(range(int(low, 16), int(high, 16) + 1))
    return [code for code in range(1, max(mapped, default=0)) if code not in mapped]


TEMPLATE = open(os.path.join(os.path.dirname(__file__), "report.typ"), encoding="utf-8").read()


def _pictures(w):
    names = {q["image"] for q in w["questions"]} | {o["image"] for q in w["questions"] for o in q["option_pictures"]}
    return {n for n in names if stored(n)}

