"""Importing the action framework as teams keep it: columns by heading, a preview, then confirm."""
import io
import os
import re

import pytest

from consult import services
from consult.extensions import db
from consult.models import Action, CafeSession

from .conftest import login, make_cafe, make_facilitator
from .test_postgres import pg_app  # noqa: F401 (a fixture)

# As a team keeps it: number first, columns in their own order, a year on the measure, a notes
# column consult has no place for, Excel's BOM and semicolons.
TEAM = ("\ufeffAction No;Theme;Actions;Suggested Lead;VF1;vf2;Outcome Measure 2008;Notes\r\n"
        "1.1;Jobs;Set up a skills hub;Council;X;o;Open by June;ask Sam\r\n"
        "1.2;Jobs;\"Mentors; for young people\";College;;✓;20 mentors;\r\n"
        "\r\n"
        "2.1;Homes;Empty homes register;Housing team;O;;Register live;\r\n")


@pytest.fixture
def cafe(app, client, facilitator):
    ids = make_cafe(app, facilitator)
    with app.app_context():
        session = db.session.get(CafeSession, ids["id"])
        services.set_priorities(session, [("VF1", "Vision & Leadership"), ("VF2", "Skills")])
    return ids


def upload(client, ids, text, name="actions.csv"):
    body = text if isinstance(text, bytes) else text.encode("utf-8")
    return client.post(f"/sessions/{ids['id']}/actions", data={"what": "import", "file": (io.BytesIO(body), name)},
                       content_type="multipart/form-data", follow_redirects=True)


def token(page):
    return re.search(r'name="upload" value="([^"]+)"', page.text).group(1)


def post(client, ids, **data):
    return client.post(f"/sessions/{ids['id']}/actions", data=data, follow_redirects=True)


def saved(app, ids):
    with app.app_context():
        session = db.session.get(CafeSession, ids["id"])
        codes = {p.id: p.code for p in session.priorities}
        return [(a.number, a.theme, a.text, a.lead, a.outcome, {codes[k.priority_id]: k.strength for k in a.links})
                for a in session.actions]


def test_a_team_file_is_previewed_then_imported_exactly(app, client, cafe):
    page = upload(client, cafe, TEAM)
    assert "The file holds <strong>3 actions</strong>" in page.text
    # The mapping, column by column, and the notes column named as ignored.
    for header, target in (("Action No", "No"), ("Actions", "Action"), ("Suggested Lead", "Suggested lead"),
                           ("Outcome Measure 2008", "Outcome measure"), ("vf2", "priority VF2")):
        assert re.search(rf"<td>{re.escape(header)}</td>\s*<td>\s*{re.escape(target)}\s*</td>", page.text), header
    assert "Not imported (consult has no place for them): Notes." in page.text
    assert "Mentors; for young people" in page.text and "Import these 3 actions" in page.text
    assert saved(app, cafe) == []  # the preview saves nothing
    r = post(client, cafe, what="import-confirm", upload=token(page))
    assert "Imported 3 actions." in r.text
    assert saved(app, cafe) == [
        ("1.1", "Jobs", "Set up a skills hub", "Council", "Open by June", {"VF1": "X", "VF2": "O"}),
        ("1.2", "Jobs", "Mentors; for young people", "College", "20 mentors", {"VF2": "X"}),
        ("2.1", "Homes", "Empty homes register", "Housing team", "Register live", {"VF1": "O"}),
    ]
    # A second click on confirm (or a back button) does not import them twice.
    assert "no longer waiting" in post(client, cafe, what="import-confirm", upload=token(page)).text
    assert len(saved(app, cafe)) == 3


def test_cancel_saves_nothing_and_forgets_the_upload(app, client, cafe):
    page = upload(client, cafe, TEAM)
    assert "Import cancelled" in post(client, cafe, what="import-cancel", upload=token(page)).text
    assert "no longer waiting" in post(client, cafe, what="import-confirm", upload=token(page)).text
    assert saved(app, cafe) == [] and os.listdir(os.path.join(app.instance_path, "imports")) == []


@pytest.mark.parametrize("text", [
    "sep=;\nRef;Action;Lead;Outcome;Sub theme\n7;Do it;Me;Done;Local\n",  # Excel's separator line
    "#,Action,Suggested lead organisation,Outcome measure(s),Subtheme\n7,Do it,Me,Done,Local\n",
    "Action #,Action,Suggested leads,Outcome,Sub-themes,2008\n7,Do it,Me,Done,Local,\n",
    "ACTION NUMBER\tACTION\tLEAD\tMEASURE\tSUB-THEME\n7\tDo it\tMe\tDone\tLocal\n",
])
def test_heading_variants(app, client, cafe, text):
    page = upload(client, cafe, text)
    assert "Import this action" in page.text, page.text
    post(client, cafe, what="import-confirm", upload=token(page))
    with app.app_context():
        a = db.session.query(Action).one()
        assert (a.number, a.text, a.lead, a.outcome, a.sub_theme) == ("7", "Do it", "Me", "Done", "Local")


def test_priorities_by_name(app, client, cafe):
    page = upload(client, cafe, "Action,Vision & Leadership,skills,VF 1\nDo it,x,O,\n")
    assert "priority VF1" in page.text and "Two columns fill the same thing: “Vision &amp; Leadership” and “VF 1”" in page.text
    page = upload(client, cafe, "Action,Vision & Leadership,skills\nDo it,x,O\n")
    post(client, cafe, what="import-confirm", upload=token(page))
    assert saved(app, cafe)[0][5] == {"VF1": "X", "VF2": "O"}


def test_missing_action_column_is_named_and_nothing_is_offered(app, client, cafe):
    page = upload(client, cafe, "No,Theme,What we will do,Lead\n1,Jobs,Skills hub,Council\n")
    assert "The file has no “Action” column" in page.text and "Missing: Action." in page.text
    assert "What we will do" in page.text and "import-confirm" not in page.text
    assert saved(app, cafe) == []


def test_a_bad_mark_names_its_row_and_column(app, client, cafe):
    page = upload(client, cafe, "Action,VF1,VF2\nFine,X,\nAlso fine,,O\nBad,maybe,\n")
    assert "Row 4, column “VF1”: “maybe” is not a mark" in page.text
    assert "import-confirm" not in page.text
    assert saved(app, cafe) == []


def test_many_rows_show_the_first_and_the_problems_further_down(app, client, cafe):
    rows = "".join(f"Action {i},X\n" for i in range(40)) + "Late,Z\n"
    page = upload(client, cafe, "Action,VF1\n" + rows)
    assert "The first 20 of 41 actions" in page.text and "Action 19" in page.text and "Action 20<" not in page.text
    assert "Problems further down" in page.text and "Row 42, column “VF1”" in page.text


def test_two_columns_for_the_same_field(app, client, cafe):
    page = upload(client, cafe, "Action,Actions\nA,B\n")
    assert "Two columns fill the same thing: “Action” and “Actions”" in page.text
    assert "import-confirm" not in page.text


def test_export_import_round_trip_into_a_new_session(app, client, cafe, facilitator):
    page = upload(client, cafe, TEAM)
    post(client, cafe, what="import-confirm", upload=token(page))
    text = client.get(f"/sessions/{cafe['id']}/actions.csv").text
    other = make_cafe(app, facilitator, title="Another")
    page = upload(client, other, text)
    assert "priority VF1 (new: added to the session)" in page.text
    post(client, other, what="import-confirm", upload=token(page))
    assert saved(app, other) == saved(app, cafe)


def test_uploads_are_private_to_their_account_and_session(app, client, cafe, facilitator):
    page = upload(client, cafe, TEAM)
    other_cafe = make_cafe(app, facilitator, title="Another")
    # The same token for another session of the same account opens nothing.
    assert "no longer waiting" in post(client, other_cafe, what="import-confirm", upload=token(page)).text
    make_facilitator(app, "other@example.org")
    other = app.test_client()
    login(other, "other@example.org")
    assert other.post(f"/sessions/{cafe['id']}/actions",
                      data={"what": "import-confirm", "upload": token(page)}).status_code == 404
    for bad in ("../../consult.db", "x" * 300, ""):
        assert "no longer waiting" in post(client, cafe, what="import-confirm", upload=bad).text
    r = client.get(f"/sessions/{cafe['id']}/actions?preview=nope", follow_redirects=True)
    assert "no longer waiting" in r.text
    assert saved(app, cafe) == []


def test_a_team_file_on_postgres(pg_app, fast_passwords):
    pg_app.config["WTF_CSRF_ENABLED"] = False
    owner = make_facilitator(pg_app)
    client = pg_app.test_client()
    login(client)
    ids = make_cafe(pg_app, owner)
    with pg_app.app_context():
        services.set_priorities(db.session.get(CafeSession, ids["id"]), [("VF1", ""), ("VF2", "")])
    page = upload(client, ids, TEAM.replace("Set up", "Set\x00 up"))  # NUL: PostgreSQL refuses it in text
    assert "Import these 3 actions" in page.text
    assert "Imported 3 actions." in post(client, ids, what="import-confirm", upload=token(page)).text
    assert [a[2] for a in saved(pg_app, ids)] == ["Set up a skills hub", "Mentors; for young people", "Empty homes register"]
