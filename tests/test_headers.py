"""Security headers on every kind of page, the HTTPS setting, framing, private instance files,
and the Socket.IO Origin check (no forged X-Forwarded-Host)."""
import os
import re
import stat
from pathlib import Path

import pytest

from consult import create_app
from consult.extensions import db

from .conftest import make_cafe

ROOT = Path(__file__).resolve().parent.parent


def csp(response):
    return dict((part.strip().split(" ", 1) + [""])[:2] for part in response.headers["Content-Security-Policy"].split(";"))


def assert_strict(response, frame=True):
    policy = csp(response)
    assert policy["object-src"] == "'none'" and policy["base-uri"] == "'none'"
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert "unsafe-eval" not in response.headers["Content-Security-Policy"]
    if frame:
        assert policy["frame-ancestors"] == "'none'" and response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in ("same-origin", "no-referrer")
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP by default
    return policy


def test_every_kind_of_page_has_the_headers(app, client, facilitator):
    made = make_cafe(app, facilitator, questions=[{"kind": "notes", "text": "Ideas?"}])
    sid = made["id"]
    from consult import services
    from consult.models import CafeSession

    with app.app_context():
        session = db.session.get(CafeSession, sid)
        services.set_tables(session, ["Oak"])
        host_token = session.tables[0].host_token
        share_token = services.share(session) or db.session.get(CafeSession, sid).share_token
    phone, anonymous = app.test_client(), app.test_client()
    pages = {
        "sign-in": app.test_client().get("/auth/login"),
        "phone": phone.get(f"/j/{made['code']}", follow_redirects=True),
        "control": client.get(f"/sessions/{sid}/control"),
        "projector": client.get(f"/sessions/{sid}/projector"),
        "detail": client.get(f"/sessions/{sid}"),
        "state": client.get(f"/sessions/{sid}/state.json"),
        "join qr": phone.get(f"/j/{made['code']}/qr.svg"),
        "host": anonymous.get(f"/host/{host_token}", follow_redirects=True),
        "static": client.get("/static/screen.js"),
        "404": client.get("/nowhere"),
    }
    for name, r in pages.items():
        assert r.status_code == 200 or name == "404", name
        policy = assert_strict(r)
        assert policy["default-src"] == "'self'", name
        assert "blob:" in policy["img-src"] and "data:" not in policy["img-src"]
        assert policy["connect-src"].split()[0] == "'self'" and "ws://consult.test" in policy["connect-src"]
    assert pages["host"].headers["Referrer-Policy"] == "no-referrer"  # behind a secret link: no Referer at all

    # The write-up as a page: its own <style> by nonce, pictures inline, and no script of any kind.
    reports = {"own": client.get(f"/sessions/{sid}/write-up.html"),
               "shared": anonymous.get(f"/shared/{share_token}", follow_redirects=True)}
    for name, r in reports.items():
        policy = assert_strict(r)
        assert policy["default-src"] == "'none'" and policy["img-src"] == "'self' data:", name
        nonce = re.search(r"'nonce-([^']+)'", policy["style-src"]).group(1)
        assert f'<style nonce="{nonce}">' in r.text and "script" not in policy.get("script-src", "")
        assert not re.search(r"\sstyle=", r.text), name  # a style attribute would be blocked
    assert reports["shared"].headers["Referrer-Policy"] == "no-referrer"
    for r in (client.get(f"/sessions/{sid}/write-up.csv"), anonymous.get(f"/shared/session/{sid}/write-up.docx"),
              anonymous.get(f"/shared/{share_token}/write-up.json")):  # downloads: nothing may run or load
        assert r.status_code == 200 and assert_strict(r)["default-src"] == "'none'"
    # Its error page is a site page, with the site's stylesheet.
    r = app.test_client().get(f"/shared/session/{sid}")
    assert r.status_code == 404 and assert_strict(r)["default-src"] == "'self'"
    assert client.get(f"/sessions/{sid}/write-up.html").headers["Content-Security-Policy"] != \
        reports["own"].headers["Content-Security-Policy"]  # a new nonce each time


def test_no_template_or_script_needs_an_inline_exception():
    """The CSP allows no inline script, event handler or style attribute: none may be written."""
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag or 'type="application/json"' in tag, (path, tag)  # data blocks never run
        assert not re.search(r"\son[a-z]+\s*=", text), path
        assert "javascript:" not in text, path
        if path.parent.name == "writeup" and path.name in ("report.html", "trajectory.html"):
            # A write-up is a document of its own: its one <style> carries the response's nonce.
            assert all("nonce" in tag for tag in re.findall(r"<style\b[^>]*>", text)), path
            assert not re.search(r"\sstyle\s*=", text), path
        else:
            assert "<style" not in text and not re.search(r"\sstyle\s*=", text), path
    for path in (ROOT / "static").glob("*.js"):
        text = path.read_text()
        assert "eval(" not in text and "new Function" not in text and ".innerHTML" not in text, path
        assert 'setAttribute("style"' not in text and ".cssText" not in text, path


def make(tmp_path, monkeypatch, **overrides):
    monkeypatch.setenv("CONSULT_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({"TESTING": True, "CONSULT_ASYNC_MODE": "threading", "WTF_CSRF_ENABLED": False,
                      "CONSULT_DATABASE_URL": f"sqlite:///{tmp_path / 'test.db'}", "SQLALCHEMY_DATABASE_URI": None,
                      "SERVER_NAME": "consult.test", **overrides})
    with app.app_context():
        db.create_all()
    return app


def test_https_turns_on_hsts_secure_cookies_and_redirects(tmp_path, monkeypatch):
    from .conftest import PASSWORD, make_facilitator

    plain = make(tmp_path / "plain", monkeypatch)
    r = plain.test_client().get("/auth/login")
    assert r.status_code == 200 and "Strict-Transport-Security" not in r.headers
    assert "Secure" not in r.headers["Set-Cookie"]
    # A proxy's word alone does not turn HSTS on while the setting is off.
    assert "Strict-Transport-Security" not in plain.test_client().get(
        "/auth/login", headers={"X-Forwarded-Proto": "https"}).headers

    app = make(tmp_path / "https", monkeypatch, CONSULT_HTTPS=True)
    make_facilitator(app)
    http = app.test_client()
    r = http.get("/auth/login")
    assert r.status_code == 302 and r.location.startswith("https://consult.test/auth/login")
    https = app.test_client()
    r = https.get("/auth/login", base_url="https://consult.test")
    assert r.status_code == 200 and r.headers["Strict-Transport-Security"].startswith("max-age=")
    r = https.post("/auth/login", base_url="https://consult.test",
                   data={"email": "fac@example.org", "password": PASSWORD, "remember": "y"})
    cookies = r.headers.getlist("Set-Cookie")
    assert {c.split("=", 1)[0] for c in cookies} >= {"session", "remember_token"}
    for cookie in cookies:
        assert "; Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie, cookie


def test_only_the_projector_may_be_framed_and_only_when_set(tmp_path, monkeypatch):
    from .conftest import login, make_facilitator

    app = make(tmp_path, monkeypatch, CONSULT_FRAME_ANCESTORS="'self' https://signage.example.org")
    client = app.test_client()
    owner = make_facilitator(app)
    login(client)
    sid = make_cafe(app, owner)["id"]
    r = client.get(f"/sessions/{sid}/projector")
    assert csp(r)["frame-ancestors"] == "'self' https://signage.example.org" and "X-Frame-Options" not in r.headers
    r = client.get(f"/sessions/{sid}/control")
    assert csp(r)["frame-ancestors"] == "'none'" and r.headers["X-Frame-Options"] == "DENY"


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_instance_folder_database_and_key_are_private(tmp_path, monkeypatch):
    monkeypatch.delenv("CONSULT_DATABASE_URL", raising=False)
    monkeypatch.delenv("CONSULT_SECRET_KEY", raising=False)
    instance = tmp_path / "instance"
    monkeypatch.setenv("CONSULT_INSTANCE_PATH", str(instance))
    old = os.umask(0o022)
    try:
        app = create_app({"TESTING": True, "CONSULT_ASYNC_MODE": "threading"})
        with app.app_context():
            db.create_all()
            db.engine.dispose()
        assert mode(instance) == 0o700
        assert mode(instance / "consult.db") == 0o600 and mode(instance / "secret_key") == 0o600
        # Made before this version (0755 and 0644): tightened at the next start.
        os.chmod(instance, 0o755)
        os.chmod(instance / "consult.db", 0o644)
        create_app({"TESTING": True, "CONSULT_ASYNC_MODE": "threading"})
        assert mode(instance) == 0o700 and mode(instance / "consult.db") == 0o600
    finally:
        os.umask(old)


POLL = "/socket.io/?EIO=4&transport=polling"


@pytest.mark.parametrize("proxies, forged_ok", [(0, False), (1, True)])
def test_socket_origin_believes_forwarded_host_only_from_a_proxy(tmp_path, monkeypatch, proxies, forged_ok):
    app = make(tmp_path, monkeypatch, CONSULT_PROXIES=proxies)
    client = app.test_client()
    assert client.get(POLL, headers={"Origin": "http://consult.test"}).status_code == 200
    assert client.get(POLL, headers={"Origin": "http://evil.example"}).status_code == 400
    forged = {"Origin": "https://evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}
    assert (client.get(POLL, headers=forged).status_code == 200) is forged_ok


@pytest.mark.slow
def test_real_websocket_handshake_with_a_forged_forwarded_host_is_refused(tmp_path):
    import websocket

    from .live_server import LiveServer

    server = LiveServer(tmp_path / "instance").start()
    try:
        url = server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(url, origin="https://evil.example", timeout=5,
                                        header=["X-Forwarded-Host: evil.example", "X-Forwarded-Proto: https"])
        assert refused.value.status_code == 400
        ok = websocket.create_connection(url, origin=server.url, timeout=5)
        assert ok.recv().startswith("0{")  # engine.io's open packet: the same origin is let in
        ok.close()
    finally:
        server.stop()


@pytest.mark.slow
def test_the_report_made_in_a_child_process_carries_the_responses_nonce(tmp_path):
    # Under eventlet the write-up is made in a child process; its <style> must still be the one
    # the response's policy allows, or the report shows unstyled.
    from .live_server import LiveServer

    server = LiveServer(tmp_path / "instance")
    server.demo()
    server.start()
    try:
        http = server.login()
        page = http.get(server.url + "/sessions/").text
        session_id = re.search(r'href="/sessions/(\d+)/control"', page).group(1)
        r = http.get(f"{server.url}/sessions/{session_id}/write-up.html")
        assert r.status_code == 200
        policy = r.headers["Content-Security-Policy"]
        nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
        assert f'<style nonce="{nonce}">' in r.text
    finally:
        server.stop()
