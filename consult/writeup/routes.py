"""Downloads of a session's write-up, for its facilitator."""
import json

from flask import Response, abort, render_template
from flask_login import login_required

from ..facilitator.routes import own_session
from . import bp, documents
from .build import writeup
from .formats import csv_text, markdown
from .transfer import export

FORMATS = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "md": "text/markdown; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
BINARY = {"pdf": documents.pdf, "docx": documents.docx, "xlsx": documents.xlsx}


def render(session, fmt):
    """The write-up of session in fmt: text, or bytes for pdf, docx and xlsx."""
    if fmt in BINARY:
        return BINARY[fmt](session)
    if fmt == "html":
        return render_template("writeup/report.html", w=writeup(session))
    if fmt == "md":
        return markdown(writeup(session))
    if fmt == "csv":
        return csv_text(session)
    if fmt == "json":
        return json.dumps(export(session), ensure_ascii=False, indent=1)
    raise ValueError(fmt)


def filename(session, fmt):
    stem = "".join(c if c.isalnum() else "-" for c in session.title.lower()).strip("-")[:60] or "session"
    return f"{stem}-data.{fmt}" if fmt in ("csv", "json") else f"{stem}-write-up.{fmt}"


@bp.route("/sessions/<int:session_id>/write-up.<fmt>")
@login_required
def download(session_id, fmt):
    session = own_session(session_id)
    if fmt not in FORMATS:
        abort(404, "consult writes HTML, PDF, Word, Markdown, CSV, Excel and JSON.")
    body = render(session, fmt)
    disposition = "inline" if fmt == "html" else "attachment"
    return Response(body, mimetype=FORMATS[fmt],
                    headers={"Content-Disposition": f'{disposition}; filename="{filename(session, fmt)}"'})
