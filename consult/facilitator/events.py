"""Socket events of the control page and the projector (namespace /facilitator)."""
import functools

from flask import current_app, request
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, join_room
from sqlalchemy import select

from .. import cafe, live, rules, services
from ..extensions import db
from ..models import Facilitator
from ..sockets import Events

sockets = Events(live.FACILITATOR_NS)


WATCH_EVERY = 10  # seconds between checks that each screen's account is still signed in


@sockets.on("connect")
def connect(auth):
    if not current_user.is_authenticated:
        raise ConnectionRefusedError("Sign in first.")
    auth = auth if isinstance(auth, dict) else {}
    session = rules.session_of(current_user, auth.get("session_id"))
    view = auth.get("view")
    if session is None or view not in ("control", "projector"):
        raise ConnectionRefusedError("No such session among yours.")
    hub = live.hub()
    hub.screens[request.sid] = (session.id, view)
    hub.accounts[request.sid] = (current_user.id, current_user.session_token)
    hub.presence.account_socket(current_user.id, request.sid)
    join_room(live.account_room(current_user.id))
    join_room(live.screen_room(session.id, view))
    hub.emit("state", live.screen_state(session, view), request.sid, live.FACILITATOR_NS)
    # Only a real server watches: under the threading mode (tests, `flask run`) the thread would
    # outlive its app and check a database that is gone.
    if not hub.watching and hub.socketio.async_mode != "threading":
        hub.watching = True
        hub.socketio.start_background_task(_watch, current_app._get_current_object())


@sockets.on("disconnect")
def disconnect(*_):
    hub = live.hub()
    hub.screens.pop(request.sid, None)
    account = hub.accounts.pop(request.sid, None)
    if account is not None:
        hub.presence.account_socket_left(account[0], request.sid)


def _watch(app):
    """Disconnect this process's screens whose account was signed out where no message reached
    us: a password reset by `consult create-facilitator` in another process, with no message
    queue between them. (Their events are refused at once anyway: each loads the user anew.)"""
    hub = app.extensions["consult"]
    while True:
        hub.socketio.sleep(WATCH_EVERY)
        if not hub.accounts:  # no screen left: the next one to connect starts the checks again
            hub.watching = False
            if not hub.accounts:
                return
            hub.watching = True
        try:
            with app.app_context():
                _end_stale(hub)
        except Exception:  # one bad moment must not stop the checks for the rest of the event
            app.logger.exception("checking the screens' accounts failed")


def _end_stale(hub):
    accounts = dict(hub.accounts)
    if not accounts:
        return
    ids = {facilitator_id for facilitator_id, _ in accounts.values()}
    tokens = dict(db.session.execute(select(Facilitator.id, Facilitator.session_token).where(Facilitator.id.in_(ids))).all())
    db.session.remove()
    for sid, (facilitator_id, token) in accounts.items():
        if tokens.get(facilitator_id) != token:
            hub.emit("signed_out", {"message": live.SIGNED_OUT}, sid, live.FACILITATOR_NS)
            hub.socketio.server.disconnect(sid, namespace=live.FACILITATOR_NS)


def _control_session(data):
    """(session, None) for a request from a control page, or (None, the error ack)."""
    if not current_user.is_authenticated:  # loaded anew for each event: signed out since it connected
        return None, {"ok": False, "error": live.SIGNED_OUT, "signed_out": True}
    where = live.hub().screens.get(request.sid)
    if where is None or where[1] != "control":
        return None, {"ok": False, "error": "Only the control page can do that."}
    session = rules.session_of(current_user, where[0])
    if session is None:
        return None, {"ok": False, "error": "No such session among yours."}
    if not isinstance(data, dict):
        return None, {"ok": False, "error": "Malformed request."}
    return session, None


def control_event(name):
    """A control-page event: its session checked, and a broken rule answered as an error ack."""
    def register(handler):
        @sockets.on(name)
        @functools.wraps(handler)
        def answer(data):
            session, refused = _control_session(data)
            if refused:
                return refused
            try:
                return {"ok": True, **(handler(session, data) or {})}
            except rules.Invalid as error:
                return {"ok": False, "error": str(error)}
        return answer
    return register


@control_event("control")
def control(session, data):
    """{action: open|close|show|reveal|hide, question_id} from the control page."""
    services.control(session, data.get("action"), data.get("question_id"))


@control_event("round")
def round_(session, data):
    """{action: "start", number} starts round number (the next one without it);
    {action: "show", number} shows that round on the projector (0 or null: all rounds)."""
    services.round_action(session, data.get("action"), data.get("number"))


@control_event("moderate")
def moderate(session, data):
    """{note_id, action: approve|hide|restore|highlight|unhighlight} from the control page."""
    services.moderate(cafe.note_in(session, data.get("note_id")), data.get("action"), current_user.email)


@control_event("dots")
def dots(session, data):
    """{question_id, action: open|close, dots: N} from the control page: dot-voting on a notes question."""
    question = services.set_dots(session, data.get("question_id"), data.get("action"), data.get("dots"))
    return {"open": question.dots_open, "dots": question.dots}


@sockets.on("*")
def unknown(event, *_):
    return {"ok": False, "error": f"Unknown request {str(event)[:40]!r}."}
