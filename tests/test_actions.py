"""The action framework and read-only links to the write-up."""
import csv
import io
import re

import pytest

from consult import services
from consult import framework, rules
from consult.extensions import db
from consult.models import Action, CafeSession, Question

from .conftest import login, make_cafe, make_facilitator, post_note


@pytest.fixture
def ready(app, client, facilitator):
    ids = make_cafe(app, facilitator)
    with app.app_context():
        session = db.session.get(CafeSession, ids["id"])
        services.set_tables(session, ["Oak"])
        notes_q = db.session.get(Question, ids["questions"][1])
        p = services.join(session)
        services.choose_table(p, session.tables[0].id)
        note_id, _ = post_note(rules.Voter(p.id, session.id),
                                     {"question_id": notes_q.id, "client_id": "n-0000001", "text": "Skills hub <b>"})
        services.highlight(db.session.get(rules.Note, note_id), True)
    return ids, note_id


def post(client, ids, **data):
    return client.post(f"/sessions/{ids['id']}/actions", data=data, follow_redirects=True)


def test_priorities_actions_and_the_matrix(app, client, ready):
    ids, note_id = ready
    r = post(client, ids, what="priorities", priorities="VF1 | Vision & Leadership\nVF2 | Skills\n")
    assert "Priorities saved." in r.text
    assert "Two priorities" in post(client, ids, what="priorities", priorities="VF1 a\nvf1 b").text
    r = post(client, ids, what="from-note", note_id=note_id)
    assert "made from the highlight" in r.text and "Skills hub &lt;b&gt;" in r.text and "Skills hub <b>" not in r.text
    with app.app_context():
        session = db.session.get(CafeSession, ids["id"])
        action = session.actions[0]
        assert action.note_id == note_id and action.sub_theme == "Oak" and action.number == "1"
        vf1, vf2 = session.priorities
    r = post(client, ids, what="edit", action_id=action.id, number="1.1", theme="Jobs", sub_theme="Local",
             text="Set up a skills hub", lead="Council", outcome="Open by June", **{f"p{vf1.id}": "O", f"p{vf2.id}": "X"})
    assert "Action saved." in r.text
    post(client, ids, what="add", text="Second action", **{f"p{vf1.id}": "X"})
    assert "Mark a priority" in post(client, ids, what="add", text="Bad", **{f"p{vf1.id}": "Z"}).text
    assert "Write the action" in post(client, ids, what="add", text="  ").text
    post(client, ids, what="down", action_id=action.id)
    # Renaming a priority keeps the marks.
    post(client, ids, what="priorities", priorities="VF1 | Vision\nVF2 | Skills and learning")
    md = client.get(f"/sessions/{ids['id']}/write-up.md").text
    assert "| Theme | Sub-theme | Action | No | Suggested lead | VF1 | VF2 | Outcome measure |" in md
    lines = [line for line in md.splitlines() if "Set up a skills hub" in line or "Second action" in line]
    assert "Second action" in lines[0] and "| O | X |" in lines[1]
    post(client, ids, what="delete", action_id=action.id)
    with app.app_context():
        assert [a.text for a in db.session.get(CafeSession, ids["id"]).actions] == ["Second action"]


def test_actions_csv_round_trip_and_bad_files(app, client, ready):
    ids, _ = ready
    post(client, ids, what="priorities", priorities="VF1 | Vision\nVF2 | Skills")
    with app.app_context():
        vf1, vf2 = db.session.get(CafeSession, ids["id"]).priorities
    post(client, ids, what="add", text="=cmd|' /C calc'!A0", lead="Council", **{f"p{vf2.id}": "X"})
    text = client.get(f"/sessions/{ids['id']}/actions.csv").text
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Theme", "Sub-theme", "Action", "No", "Suggested lead", "VF1", "VF2", "Outcome measure"]
    assert rows[1][2].startswith("'=") and rows[1][6] == "X"
    upload = {"what": "import", "file": (io.BytesIO(text.encode()), "actions.csv")}
    r = client.post(f"/sessions/{ids['id']}/actions", data=upload, content_type="multipart/form-data", follow_redirects=True)
    assert "Import this action" in r.text
    token = re.search(r'name="upload" value="([^"]+)"', r.text).group(1)
    r = post(client, ids, what="import-confirm", upload=token)
    assert "Imported 1 action." in r.text
    with app.app_context():
        actions = db.session.get(CafeSession, ids["id"]).actions
        assert [a.text for a in actions] == ["=cmd|' /C calc'!A0"] * 2
        assert [link.strength for link in actions[1].links] == ["X"]
    for bad, message in ((b"a,b\n1,2\n", "The file has no “Action” column"),
                         (b"Theme,Sub-theme,Action,No,Suggested lead,VF1,Outcome measure\nx,y\n", "Row 2: Write the action"),
                         (b"Theme,Sub-theme,Action,No,Suggested lead,VF1,Outcome measure\nx,y,z,1,l,Q,m\n",
                          "Row 2, column “VF1”: “Q” is not a mark"),
                         (b"\xff\xfe\x00", "not UTF-8")):
        r = client.post(f"/sessions/{ids['id']}/actions", data={"what": "import", "file": (io.BytesIO(bad), "x.csv")},
                        content_type="multipart/form-data", follow_redirects=True)
        assert message in r.text, message
    with app.app_context():
        assert db.session.query(Action).count() == 2  # nothing half-imported


def test_other_facilitators_cannot_touch_actions(app, client, ready):
    ids, note_id = ready
    make_facilitator(app, "other@example.org")
    other = app.test_client()
    login(other, "other@example.org")
    assert other.get(f"/sessions/{ids['id']}/actions").status_code == 404
    assert other.post(f"/sessions/{ids['id']}/actions", data={"what": "from-note", "note_id": note_id}).status_code == 404
    assert other.get(f"/sessions/{ids['id']}/actions.csv").status_code == 404
    assert other.post(f"/sessions/{ids['id']}/share").status_code == 404


def test_read_only_share_link(app, client, ready):
    ids, _ = ready
    anonymous = app.test_client()
    client.post(f"/sessions/{ids['id']}/share")
    with app.app_context():
        token = db.session.get(CafeSession, ids["id"]).share_token
    assert token and len(token) >= 24
    page = client.get(f"/sessions/{ids['id']}").text
    assert f"/shared/{token}" in page and "Withdraw the link" in page and "Action framework" in page
    r = anonymous.get(f"/shared/{token}", follow_redirects=True)
    assert r.status_code == 200 and "Full write-up of group discussions" in r.text
    assert r.request.path == f"/shared/session/{ids['id']}"  # the address holds no token
    assert "Skills hub &lt;b&gt;" in r.text and r.headers["Cache-Control"] == "no-store"
    assert r.headers["Referrer-Policy"] == "no-referrer" and "noindex" in r.headers["X-Robots-Tag"]
    assert anonymous.get(f"/shared/{token}/write-up.csv").status_code == 200
    assert anonymous.get(f"/shared/session/{ids['id']}/write-up.csv").status_code == 200
    assert anonymous.get(f"/shared/{token}/write-up.exe").status_code == 404
    client.post(f"/sessions/{ids['id']}/share")  # a new link replaces the old one
    assert anonymous.get(f"/shared/{token}").status_code == 404
    assert anonymous.get(f"/shared/session/{ids['id']}").status_code == 404  # the cookie the old one left too
    with app.app_context():
        token = db.session.get(CafeSession, ids["id"]).share_token
    client.post(f"/sessions/{ids['id']}/share", data={"what": "revoke"})
    assert anonymous.get(f"/shared/{token}").status_code == 404
    assert anonymous.get("/shared/short").status_code == 404
    # The shared page cannot be used to change anything.
    assert anonymous.post(f"/shared/{token}").status_code in (404, 405)


def test_action_rules_directly(app, ready):
    ids, _ = ready
    with app.app_context():
        session = db.session.get(CafeSession, ids["id"])
        assert framework.parse_priorities("VF1 Vision\n\nVF2|Skills") == [("VF1", "Vision"), ("VF2", "Skills")]
        with pytest.raises(rules.Invalid):
            framework.parse_priorities("\n".join(f"P{i}" for i in range(13)))
        with pytest.raises(rules.Invalid):
            framework.action_in(session, 10**12)
        with pytest.raises(rules.Invalid):
            services.action_from_note(session, "x")
        with pytest.raises(rules.Invalid, match="at most 200"):
            services.save_action(session, None, {"text": "ok", "lead": "l" * 201})
