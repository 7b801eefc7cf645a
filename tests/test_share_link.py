"""A share link gives what the published write-up shows and nothing more, in every format:
no hidden, held, pending or merged-away notes, no edit history or emails, no blocked words."""
import csv
import io
import json

import pytest

from consult import rules, services
from consult.extensions import db
from consult.models import CafeSession, Question

from .conftest import make_cafe, pdf_text, post_note

SHOWN = "Visible idea about parks"
SECRETS = {"hidden": "Secret rude remark", "held": "I say zorblax loudly", "pending": "Waiting for approval",
           "merged": "Merged away wording"}
EMAIL = "fac@example.org"
BLOCKED = "zorblax"


@pytest.fixture
def shared(app, client, facilitator):
    ids = make_cafe(app, facilitator, questions=[{"kind": "notes", "text": "Ideas?"}])
    with app.app_context():
        session = db.session.get(CafeSession, ids["id"])
        question = db.session.get(Question, ids["questions"][0])
        who = rules.Voter(services.join(session).id, session.id)
        services.set_moderation(session, "post", BLOCKED)

        def note(text, n):
            return db.session.get(rules.Note, post_note(who, {"question_id": question.id, "client_id": f"n-{n:07d}",
                                                              "text": text})[0])

        shown = note(SHOWN, 1)
        services.moderate(note(SECRETS["hidden"], 2), "hide", by=EMAIL)
        note(SECRETS["held"], 3)  # held for the blocked word
        services.merge(shown, [note(SECRETS["merged"], 4)], by=EMAIL)
        services.set_moderation(session, "pre", BLOCKED)
        note(SECRETS["pending"], 6)
        services.share(session)
        token = db.session.get(CafeSession, ids["id"]).share_token
        statuses = {n.text: n.status for n in db.session.scalars(db.select(rules.Note))}
    assert statuses[SECRETS["held"]] == "held" and statuses[SECRETS["pending"]] == "pending"
    assert statuses[SECRETS["hidden"]] == "hidden"
    return ids["id"], token


def text_of(fmt, data):
    """What a reader of the file gets: every string in it."""
    if fmt == "pdf":
        return pdf_text(data)
    if fmt == "docx":
        import docx

        document = docx.Document(io.BytesIO(data))
        return "\n".join([p.text for p in document.paragraphs]
                         + [c.text for t in document.tables for r in t.rows for c in r.cells])
    if fmt == "xlsx":
        import openpyxl

        book = openpyxl.load_workbook(io.BytesIO(data))
        return "\n".join(str(v) for sheet in book for row in sheet.iter_rows(values_only=True) for v in row if v is not None)
    if fmt == "csv":
        return "\n".join(" | ".join(row) for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    if fmt == "json":
        return json.dumps(json.loads(data), ensure_ascii=False)
    return data.decode()


FORMATS = ["pdf", "docx", "xlsx", "csv", "json", "md", "html"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_share_link_gives_only_what_the_write_up_shows(app, client, shared, fmt):
    session_id, token = shared
    anonymous = app.test_client()
    by_link = anonymous.get(f"/shared/{token}/write-up.{fmt}")
    anonymous.get(f"/shared/{token}")  # opening the link leaves the cookie the clean address needs
    by_cookie = anonymous.get(f"/shared/session/{session_id}/write-up.{fmt}")
    for r in (by_link, by_cookie):
        assert r.status_code == 200
        text = text_of(fmt, r.data)
        assert SHOWN in text
        for what, secret in SECRETS.items():
            assert secret not in text, (fmt, what)
        assert EMAIL not in text and BLOCKED not in text
    # The facilitator's own download keeps everything (in the data formats).
    own = text_of(fmt, client.get(f"/sessions/{session_id}/write-up.{fmt}").data)
    if fmt in ("csv", "json", "xlsx"):
        assert all(secret in own for secret in SECRETS.values())
    if fmt == "json":
        assert EMAIL in own and BLOCKED in own  # the edit history and the settings: the facilitator's only


def test_shared_json_keeps_its_shape_and_counts(app, shared):
    session_id, token = shared
    data = json.loads(app.test_client().get(f"/shared/{token}/write-up.json").data)
    assert [n["text"] for n in data["notes"]] == [SHOWN]
    assert all(n["status"] == "visible" and n["merged_into"] is None for n in data["notes"])
    assert all("participant" not in v for v in data["votes"]) and all("edits" not in n for n in data["notes"])
    assert "blocked_words" not in data["session"] and "moderation" not in data["session"]
