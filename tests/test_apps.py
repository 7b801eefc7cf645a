"""Two apps in one process (tests, a CLI command beside a server) share no live state."""
import json
import os
import subprocess
import sys

SCRIPT = r'''
import json, sys, tempfile
from consult import create_app, services
from consult.extensions import db
from consult.models import CafeSession, Facilitator, Vote

def make(name):
    folder = tempfile.mkdtemp()
    app = create_app({"TESTING": True, "CONSULT_ASYNC_MODE": "threading", "CONSULT_BROADCAST_INTERVAL": 0,
                      "CONSULT_DATABASE_URL": f"sqlite:///{folder}/{name}.db", "SQLALCHEMY_DATABASE_URI": None,
                      "SERVER_NAME": "consult.test"})
    with app.app_context():
        db.create_all()
        user = Facilitator(email=f"{name}@example.org", password_hash="-")
        db.session.add(user)
        db.session.commit()
        cafe = services.create_session(user.id, {"title": name})
        first = services.save_question(cafe, None, {"kind": "yesno", "text": "First?"})
        second = services.save_question(cafe, None, {"kind": "yesno", "text": "Second?"})
        services.control(cafe, "open", first.id)
        info = {"id": cafe.id, "code": cafe.join_code, "first": first.id, "second": second.id,
                "yes": first.options[0].id}
    http = app.test_client()
    assert http.get(f"/j/{info['code']}").status_code == 200
    phone = app.extensions["socketio"].test_client(app, namespace="/phone", flask_test_client=http,
                                                   auth={"code": info["code"]})
    phone.get_received("/phone")
    return app, info, phone

a, a_info, a_phone = make("a")
b, b_info, b_phone = make("b")
out = {
    "same_session_id": a_info["id"] == b_info["id"],
    "hubs_differ": a.extensions["consult"] is not b.extensions["consult"],
    "servers_differ": a.extensions["socketio"].server is not b.extensions["socketio"].server,
    "namespaces": [sorted(app.extensions["socketio"].server.handlers) for app in (a, b)],
    "phones": [len(app.extensions["consult"].phones) for app in (a, b)],
}
with a.app_context():
    services.control(db.session.get(CafeSession, a_info["id"]), "show", a_info["second"])
out["a_heard"] = [e["args"][0]["id"] for e in a_phone.get_received("/phone") if e["name"] == "question"]
out["b_heard"] = [e["name"] for e in b_phone.get_received("/phone")]
ack = b_phone.emit("vote", {"question_id": b_info["first"], "client_id": "vote-on-b-0001", "choices": [b_info["yes"]]},
                   namespace="/phone", callback=True)
out["b_ack"] = ack["ok"]
for name, app in (("a_votes", a), ("b_votes", b)):
    with app.app_context():
        out[name] = db.session.query(Vote).count()
print(json.dumps(out))
'''


def test_two_apps_in_one_process_share_no_live_state(tmp_path):
    """A fresh interpreter with two apps, each a café whose session id is 1 and a phone on it: the
    first app's announcement reaches its own phone only, and each app records its own votes."""
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "CONSULT_INSTANCE_PATH": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["same_session_id"]  # the same room names on both servers: only separate state keeps them apart
    assert out["hubs_differ"] and out["servers_differ"]
    assert out["namespaces"] == [["/facilitator", "/host", "/phone"]] * 2
    assert out["phones"] == [1, 1]
    assert out["a_heard"] and out["a_heard"][-1] > 0
    assert out["b_heard"] == []
    assert out["b_ack"] is True
    assert (out["a_votes"], out["b_votes"]) == (0, 1)
