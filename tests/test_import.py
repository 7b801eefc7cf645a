"""Session files and actions CSVs: checked whole, refused with the place named, nothing stored from a bad one."""
import base64
import copy
import io
import json
import re

import pytest

from consult import rules, services
from consult.extensions import db
from consult.models import Action, CafeSession, Note
from consult.transfer import export

from .conftest import make_cafe, post_note


def png():
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 3), "red").save(out, "PNG")
    return out.getvalue()


@pytest.fixture(autouse=True)
def cheap_passwords(fast_passwords):
    """Cheap password hashes."""


@pytest.fixture
def doc(app, facilitator):
    """An exported session with notes on its notes question (one merged into another) and a picture."""
    cafe = make_cafe(app, facilitator)
    with app.app_context():
        session = db.session.get(CafeSession, cafe["id"])
        who = rules.Voter(services.join(session).id, session.id)
        ids = [post_note(who, {"question_id": cafe["questions"][1], "client_id": f"note-{i:05d}", "text": f"Idea {i}"})[0]
               for i in range(3)]
        services.merge(db.session.get(Note, ids[0]), [db.session.get(Note, ids[1])], by="test")
        data = json.loads(json.dumps(export(session)))
    data["questions"][0]["picture"] = {"data": "data:image/png;base64," + base64.b64encode(png()).decode(), "alt": "Red"}
    return data


def sessions(app):
    with app.app_context():
        return db.session.query(CafeSession).count()


def refused(app, facilitator, data, message):
    before = sessions(app)
    with app.app_context():
        with pytest.raises(rules.Invalid) as error:
            services.import_session(data, facilitator)
    assert message in str(error.value), str(error.value)
    assert sessions(app) == before
    return str(error.value)


def test_a_good_file_imports(app, facilitator, doc):
    with app.app_context():
        session = services.import_session(copy.deepcopy(doc), facilitator)
        assert session.questions[0].image.endswith(".png")
        again = export(session)
    doc["questions"][0]["picture"]["alt"] = "Red"
    assert again["notes"] == doc["notes"] and again["questions"][0]["picture"] == doc["questions"][0]["picture"]


BAD = [
    ("unknown kind", lambda d: d["questions"][3].update(kind="xyz"), "questions[3].kind: unknown kind 'xyz'"),
    ("unknown status", lambda d: d["notes"][0].update(status="deleted"), "notes[0].status: unknown status 'deleted'"),
    ("unknown edit", lambda d: d["notes"][1]["edits"][0].update(action="zap"), "notes[1].edits[0].action"),
    ("merge cycle", lambda d: d["notes"][0].update(merged_into=1), "merges are one level deep"),
    ("merged into itself", lambda d: d["notes"][2].update(merged_into=2), "notes[2].merged_into: a note merged into itself"),
    ("junk PNG", lambda d: d["questions"][0]["picture"].update(
        data="data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"junk" * 50).decode()),
     "questions[0].picture: a picture consult cannot show"),
    ("not a picture", lambda d: d["questions"][0]["picture"].update(data="data:text/html;base64,PGI+"),
     "questions[0].picture"),
    ("a long title", lambda d: d["session"].update(title="t" * 201), "session.title"),
    ("too many options", lambda d: d["questions"][0].update(options=[f"o{i}" for i in range(13)]), "questions[0].options"),
    ("a string for a number", lambda d: d["votes"].append({"question": "0", "participant": 0}), "votes[0].question"),
    ("a vote on no question", lambda d: d["votes"].append({"question": 99, "participant": 0}),
     "votes[0].question: no question 99 in the file"),
    ("a vote on a notes question", lambda d: d["votes"].append({"question": 1, "participant": 0}),
     "takes notes, not votes"),
    ("two votes of one person", lambda d: d["votes"].extend([{"question": 0, "participant": 0, "options": [0]}] * 2),
     "votes[1]: a second vote"),
    ("an option of no number", lambda d: d["votes"].append({"question": 0, "participant": 0, "options": [7]}),
     "votes[0].options[0]"),
    ("a scale vote off the scale", lambda d: d["votes"].append({"question": 3, "participant": 0, "value": 2**40}),
     "votes[0].value: not on the scale"),
    ("a huge round", lambda d: d["notes"][0].update(round=2**63), "notes[0].round"),
    ("NaN-like text date", lambda d: d["notes"][0].update(at="yesterday"), "notes[0].at"),
    ("a missing text", lambda d: d["notes"][0].pop("text"), "notes[0].text: missing"),
    ("a list for a session", lambda d: d.update(session=[1]), "session"),
    ("two priorities, one code", lambda d: d.update(priorities=[{"code": "VF1"}, {"code": "vf1"}]), "same code"),
    ("a link to no priority", lambda d: d.update(actions=[{"text": "Do", "links": {"3": "X"}}]), "actions[0].links"),
    ("a mark not X or O", lambda d: d.update(priorities=[{"code": "A"}], actions=[{"text": "Do", "links": {"0": "Z"}}]),
     "actions[0].links.0"),
]


@pytest.mark.parametrize("name, damage, message", BAD, ids=[b[0] for b in BAD])
def test_a_damaged_file_is_refused_by_place_and_stores_nothing(app, facilitator, doc, name, damage, message, tmp_path):
    uploads = tmp_path / "instance" / "uploads"
    before = len(list(uploads.iterdir())) if uploads.exists() else 0
    data = copy.deepcopy(doc)
    damage(data)
    refused(app, facilitator, data, message)
    assert (len(list(uploads.iterdir())) if uploads.exists() else 0) == before  # no picture stored for nothing


def test_text_is_cleaned_on_import(app, facilitator, doc):
    doc["notes"][2]["text"] = "nul\x00 and \ud800 and \x01 gone"
    doc["session"]["title"] = "Café\x00"
    with app.app_context():
        session = services.import_session(doc, facilitator)
        assert session.title == "Café"
        assert [n["text"] for n in export(session)["notes"]][2] == "nul and  and  gone"


def test_the_cli_refuses_by_place_and_reads_bad_bytes(app, facilitator, doc, tmp_path):
    from flask_migrate import stamp

    with app.app_context():
        stamp()
    runner = app.test_cli_runner()
    doc["questions"][2]["kind"] = "xyz"
    cases = {"kind.json": json.dumps(doc).encode(), "latin1.json": "{\"a\": \"é\"}".encode("latin-1"),
             "deep.json": b"[" * 100_000 + b"]" * 100_000, "digits.json": b"9" * 5000, "empty.json": b""}
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        result = runner.invoke(args=["import", str(path)])
        assert result.exit_code == 1 and "Error:" in result.output, (name, result.output, result.exception)
    assert "questions[2].kind: unknown kind 'xyz'" in runner.invoke(args=["import", str(tmp_path / "kind.json")]).output
    assert sessions(app) == 1


def test_facilitators_upload_a_session_file(app, client, facilitator, doc):
    r = client.post("/sessions/import", data={"file": (io.BytesIO(json.dumps(doc).encode()), "s.json")})
    assert r.status_code == 302 and "/sessions/" in r.headers["Location"]
    assert sessions(app) == 2
    doc["notes"][0]["status"] = "gone"
    r = client.post("/sessions/import", data={"file": (io.BytesIO(json.dumps(doc).encode()), "s.json")},
                    follow_redirects=True)
    assert "Nothing was imported" in r.get_data(as_text=True)
    assert "notes[0].status: unknown status" in r.get_data(as_text=True)
    assert sessions(app) == 2
    r = client.post("/sessions/import", data={"file": (io.BytesIO(b"[" * 50_000), "s.json")}, follow_redirects=True)
    assert "nested too deeply" in r.get_data(as_text=True)


# -- the actions CSV ---------------------------------------------------------------------

HEAD = "Theme,Sub-theme,Action,No,Suggested lead,Outcome measure\n"


def import_csv(client, session_id, text):
    """Upload, and confirm if the preview offers it: both pages' text."""
    data = {"what": "import", "file": (io.BytesIO(text if isinstance(text, bytes) else text.encode()), "a.csv")}
    page = client.post(f"/sessions/{session_id}/actions", data=data, follow_redirects=True).get_data(as_text=True)
    if "import-confirm" in page:
        token = re.search(r'name="upload" value="([^"]+)"', page).group(1)
        page += client.post(f"/sessions/{session_id}/actions", data={"what": "import-confirm", "upload": token},
                            follow_redirects=True).get_data(as_text=True)
    return page


def actions(app):
    with app.app_context():
        return db.session.query(Action).count()


def test_a_huge_actions_csv_is_refused_whole(app, client, facilitator):
    cafe = make_cafe(app, facilitator)
    page = import_csv(client, cafe["id"], HEAD + "T,S,Do it,1,Me,Done\n" * 80_000)
    assert "more than 1000 actions" in page and actions(app) == 0
    page = import_csv(client, cafe["id"], HEAD + "T,S,Do it,1,Me,Done\n" * 1000)
    assert "Imported 1000 actions" in page and actions(app) == 1000
    page = import_csv(client, cafe["id"], HEAD + "T,S,One more,1,Me,Done\n")
    assert "limit of 1000" in page and actions(app) == 1000


@pytest.mark.parametrize("text, message", [
    (HEAD + "T,S," + "x" * 6000 + ",1,Me,Done\n", "longer than 5000"),
    (HEAD + "T,S,\"" + "x" * 200_000 + "\",1,Me,Done\n", "not a CSV consult can read (line 2: field larger"),
    (HEAD.replace("Outcome", ",".join(f"P{i}" for i in range(20)) + ",Outcome") + "T,S,Do,1,Me,Done\n",
     "at most 12 priorities"),
    (HEAD + "T,S,Do\x00it,1,Me,Done\n", "Imported 1 action."),
    (HEAD + "T,S,Do,1,Me,Done\n" + "T,S,Do,1,Me,Done,more\n", "Row 3 has 7 cells"),
    ("Theme;Action\n" + "T;Do\n" * 3 + ";".join(["x"] * 41) + "\n", "at most 40 columns"),
])
def test_bad_actions_csv_is_a_message(app, client, facilitator, text, message):
    cafe = make_cafe(app, facilitator)
    assert message in import_csv(client, cafe["id"], text)
