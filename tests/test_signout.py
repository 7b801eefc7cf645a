"""Signing out and a new password end every session of the account: each browser's cookie, its
remember-me token, and every open control-page and projector socket."""
import pytest

from consult import live, services
from consult.extensions import db
from consult.facilitator import events as facilitator_events
from consult.models import Facilitator

from .conftest import PASSWORD, hub, make_cafe, make_facilitator, socket_client

DOMAIN = "consult.test"


def signed_in(app, remember=False):
    """A browser signed in as the facilitator (remember: "keep me signed in")."""
    client = app.test_client()
    data = {"email": "fac@example.org", "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    assert client.post("/auth/login", data=data).status_code == 302
    return client


def copy_of(app, client, name):
    """Another browser holding only one cookie of client's (a copied session or remember-me token)."""
    other = app.test_client()
    other.set_cookie(name, client.get_cookie(name, domain=DOMAIN).value, domain=DOMAIN)
    return other


def works(client):
    return client.get("/sessions/").status_code == 200


@pytest.fixture
def account(app):
    user_id = make_facilitator(app)
    return user_id, make_cafe(app, user_id)["id"]


def screen(app, client, session_id, view="control"):
    sock = socket_client(app, live.FACILITATOR_NS, client, session_id=session_id, view=view)
    assert sock.is_connected(live.FACILITATOR_NS)
    return sock


def test_sign_out_ends_every_cookie_remember_token_and_socket(app, account):
    _, session_id = account
    laptop = signed_in(app, remember=True)
    cookie_copy, token_copy = copy_of(app, laptop, "session"), copy_of(app, laptop, "remember_token")
    tablet = signed_in(app)
    assert works(cookie_copy) and works(token_copy) and works(tablet)
    control, projector = screen(app, laptop, session_id), screen(app, tablet, session_id, "projector")

    assert laptop.post("/auth/logout").status_code == 302
    assert not works(laptop) and not works(cookie_copy) and not works(token_copy) and not works(tablet)
    for sock in (control, projector):
        told = [e["args"] for e in sock.queue if e["name"] == "signed_out" and e["namespace"] == live.FACILITATOR_NS]
        assert told == [[{"message": live.SIGNED_OUT}]]
        assert not sock.is_connected(live.FACILITATOR_NS)
    assert hub(app).accounts == {} and hub(app).screens == {}
    # Nor can an old cookie open a new socket.
    refused = socket_client(app, live.FACILITATOR_NS, cookie_copy, session_id=session_id, view="control")
    assert not refused.is_connected(live.FACILITATOR_NS)
    # Signing in again works, with a new token.
    assert works(signed_in(app))


def test_a_socket_signed_out_elsewhere_is_refused_at_its_next_event_and_then_dropped(app, account):
    user_id, session_id = account
    laptop = signed_in(app)
    control = screen(app, laptop, session_id)
    assert control.emit("control", {"action": "close", "question_id": None}, namespace=live.FACILITATOR_NS,
                        callback=True)["ok"] is False  # a rule's answer, not a sign-in one
    # As by another process that no message queue links to this one: only the database knows.
    with app.app_context():
        db.session.get(Facilitator, user_id).end_sessions()
        db.session.commit()
    ack = control.emit("control", {"action": "close", "question_id": None}, namespace=live.FACILITATOR_NS, callback=True)
    assert ack == {"ok": False, "error": live.SIGNED_OUT, "signed_out": True}
    assert control.is_connected(live.FACILITATOR_NS)
    with app.app_context():
        facilitator_events._end_stale(hub(app))  # what each process checks every WATCH_EVERY seconds
    assert not control.is_connected(live.FACILITATOR_NS)


def test_a_new_password_ends_the_other_sessions_and_keeps_this_one(app, account):
    _, session_id = account
    here, elsewhere = signed_in(app), signed_in(app, remember=True)
    token_copy = copy_of(app, elsewhere, "remember_token")
    sock = screen(app, elsewhere, session_id)

    r = here.post("/auth/password", data={"current": "wrong password", "password": "a new secret", "confirm": "a new secret"})
    assert r.status_code == 200 and "not your current password" in r.text and works(elsewhere)
    r = here.post("/auth/password", data={"current": PASSWORD, "password": "a new secret", "confirm": "a new secret"})
    assert r.status_code == 302 and works(here)
    assert not works(elsewhere) and not works(token_copy) and not sock.is_connected(live.FACILITATOR_NS)
    with app.app_context():
        assert db.session.scalar(db.select(Facilitator)).check_password("a new secret")


def test_a_password_reset_by_the_cli_ends_every_session(tmp_path, monkeypatch):
    from consult import create_app

    monkeypatch.setenv("CONSULT_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({"TESTING": True, "CONSULT_ASYNC_MODE": "threading", "WTF_CSRF_ENABLED": False,
                      "SERVER_NAME": DOMAIN, "CONSULT_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
                      "SQLALCHEMY_DATABASE_URI": None})
    cli = app.test_cli_runner()
    assert cli.invoke(args=["init-db"]).exit_code == 0  # the schema by the migrations, session_token too
    assert cli.invoke(args=["create-facilitator", "fac@example.org", "--password", PASSWORD]).exit_code == 0
    with app.app_context():
        session_id = make_cafe(app, db.session.scalar(db.select(Facilitator.id)))["id"]
    laptop = signed_in(app, remember=True)
    token_copy = copy_of(app, laptop, "remember_token")
    sock = screen(app, laptop, session_id)
    done = cli.invoke(args=["create-facilitator", "fac@example.org", "--password", "reset by the admin"])
    assert done.exit_code == 0 and "Updated" in done.output
    assert not works(laptop) and not works(token_copy) and not sock.is_connected(live.FACILITATOR_NS)


def test_making_an_account_ends_nothing(app, account):
    laptop = signed_in(app)
    with app.app_context():
        services.set_password("new@example.org", "another password")
    assert works(laptop)


def test_the_redis_list_of_an_account_sockets_is_shared():
    import random

    from consult import shared

    a, b = shared.Redis("redis://127.0.0.1:6379/0"), shared.Redis("redis://127.0.0.1:6379/0")
    account = random.randrange(10**8, 10**9)
    try:
        a.account_socket(account, "sid-a")
        b.account_socket(account, "sid-b")
        assert a.account_sockets(account) == b.account_sockets(account) == {"sid-a", "sid-b"}
        b.account_socket_left(account, "sid-b")
        assert a.account_sockets(account) == {"sid-a"}
        a.forget_account(account)
        assert b.account_sockets(account) == set()
    finally:
        a.forget_account(account)
