"""The deployment in deploy/: nginx in front of two processes, websocket and polling through it."""
import io
import os
import re
import shutil
import subprocess
import time
import uuid

import pytest
import requests
from PIL import Image
from sqlalchemy import create_engine, text

from consult.cli import DEMO_EMAIL, DEMO_PASSWORD
from consult.device import COOKIE

from .live_server import ROOT, LiveServer, free_port
from .test_e2e import WAIT, Peer, cookie_header, new_client_id, ok, stop_cleanly
from .test_postgres import PG

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


@pytest.fixture
def behind_nginx(request, tmp_path):
    """nginx with deploy/nginx.conf in front of two servers; parametrize with "no websocket" for a
    network that blocks websocket (its proxy refuses the upgrade)."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    schema = "n_" + uuid.uuid4().hex[:10]
    admin = create_engine(PG)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    env = {
        "CONSULT_DATABASE_URL": f"{PG}?options=-csearch_path%3D{schema}",
        "CONSULT_MESSAGE_QUEUE": "redis://127.0.0.1:6379/0",
        "CONSULT_CHANNEL": f"test-{schema}",
        "CONSULT_SECRET_KEY": uuid.uuid4().hex,
        "CONSULT_PROXIES": "1",
        # Each process logs the requests it serves: which one answered.
        "CONSULT_ACCESS_LOG": "1",
    }
    servers = [LiveServer(tmp_path / name, env=env) for name in ("a", "b")]
    code = servers[0].demo()
    proc = None
    try:
        for server in servers:
            server.start()
        # The shipped config, with its upstreams pointed at the two test servers.
        port = free_port()
        site = (ROOT / "deploy" / "nginx.conf").read_text()
        upstreams = "".join(f"    server 127.0.0.1:{s.port};\n" for s in servers)
        site = re.sub(r"(    server 127\.0\.0\.1:\d+;\n)+", upstreams, site)
        site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
        if getattr(request, "param", None) == "no websocket":
            site = site.replace("    location /socket.io/ {\n",
                                "    location /socket.io/ {\n        if ($http_upgrade) { return 403; }\n")
        (tmp_path / "site.conf").write_text(site)
        # Started as root, nginx's workers run as nobody, who cannot write a large request body
        # to the temporary files in this test's private folder.
        user = "user root;\n" if os.geteuid() == 0 else ""
        (tmp_path / "nginx.conf").write_text(
            f"{user}events {{}}\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
            f"http {{ access_log off; client_body_temp_path {tmp_path}; proxy_temp_path {tmp_path};\n"
            f"include {tmp_path}/site.conf; }}\n"
        )
        proc = subprocess.Popen([nginx, "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"])
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:
            try:
                requests.get(url + "/", timeout=1)
                break
            except requests.RequestException:
                assert time.monotonic() < deadline, (tmp_path / "error.log").read_text()
                time.sleep(0.1)
        yield url, code, servers
    finally:
        if proc:
            proc.terminate()
            proc.wait(10)
        for server in servers:
            stop_cleanly(server)
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def browser_like(phone, http):
    """The Python client sends its headers with the handshake only, where a browser sends the page's
    cookies with every request, and nginx picks the process by one of them: share the page's jar."""
    phone.sio.eio.http = http
    phone.sio.eio.external_http = True
    return phone


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_phones_through_nginx(behind_nginx, transport):
    url, code, _ = behind_nginx
    http = requests.Session()
    assert http.get(f"{url}/j/{code}", timeout=WAIT).status_code == 200
    phone = browser_like(Peer("phone", url, "/phone", {"code": code}, cookie_header(http)), http)
    phone.sio.connect(url, namespaces=["/phone"], auth={"code": code}, headers={"Cookie": phone.cookie},
                      transports=[transport], wait_timeout=WAIT)
    try:
        assert phone.sio.transport() == transport
        question = phone.wait_for("state")["question"]
        ack = ok(phone.call("note", {"question_id": question["id"], "client_id": new_client_id(), "text": "via nginx"}))
        assert ack["id"] > 0
        # Reloaded through nginx (perhaps from the other process), the page shows the note.
        page = http.get(f"{url}/j/{code}", timeout=WAIT).text
        assert "via nginx" in page
    finally:
        phone.close()


def answered_by(servers, marker):
    """Indexes of the processes whose access log has a request containing marker."""
    deadline = time.monotonic() + WAIT
    while True:
        found = {i for i, server in enumerate(servers) if marker in server.log.read_text()}
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def polling_phone(url, code, http):
    """A phone on long-polling only (as where websocket is blocked) that has sent a note; returns its Engine.IO sid."""
    phone = browser_like(Peer("phone", url, "/phone", {"code": code}, cookie_header(http)), http)
    phone.sio.connect(url, namespaces=["/phone"], auth={"code": code}, headers={"Cookie": phone.cookie},
                      transports=["polling"], wait_timeout=WAIT)
    try:
        question = phone.wait_for("state")["question"]
        ok(phone.call("note", {"question_id": question["id"], "client_id": new_client_id(), "text": "polling"}))
        return phone.sio.eio.sid
    finally:
        phone.close()


def test_phones_behind_one_address_spread_by_device(behind_nginx):
    """A venue behind one NAT: every phone comes from one address (127.0.0.1 here).

    Each phone's long-polling requests all reach one process (a request on the other would be
    refused: its session is unknown there), and phones still spread over both processes.
    """
    url, code, servers = behind_nginx
    owners = set()
    for n in range(20):  # a fair split puts 20 phones all on one process once in half a million runs
        http = requests.Session()
        assert http.get(f"{url}/j/{code}", timeout=WAIT).status_code == 200
        device = http.cookies[COOKIE]
        sid = polling_phone(url, code, http)
        owner = answered_by(servers, f"sid={sid}")
        assert len(owner) == 1, f"one phone's polling requests went to {len(owner)} processes"
        owners |= owner
        if n == 0:
            # The same device connects again (a reload, a dropped wifi): the same process.
            again = polling_phone(url, code, http)
            assert answered_by(servers, f"sid={again}") == owner
            assert http.cookies[COOKIE] == device  # not issued again
        if len(owners) == 2:
            break
    assert len(owners) == 2, "every phone landed on one process"


def test_no_device_cookie_yet_stays_with_the_address(behind_nginx):
    """A phone's very first request has no cookie: nginx keys on the address then, so even a
    phone that refuses cookies keeps to one process."""
    url, _, servers = behind_nginx
    owners = set()
    for _ in range(6):
        probe = uuid.uuid4().hex
        r = requests.get(f"{url}/?probe={probe}", timeout=WAIT)
        assert COOKIE in r.cookies  # the page hands out a device id
        owners |= answered_by(servers, f"probe={probe}")
    assert len(owners) == 1


def noise_png(max_bytes):
    """A real PNG just under max_bytes: random pixels do not compress."""
    side = int((max_bytes * 0.95 / 3) ** 0.5)
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG", compress_level=1)
    data = out.getvalue()
    assert max_bytes * 0.8 < len(data) < max_bytes
    return data


def csrf_token(page):
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def test_question_pictures_upload_through_nginx(behind_nginx):
    """A question form with pictures is several MB; nginx lets through what consult accepts
    (MAX_CONTENT_LENGTH, 30 MB) and leaves consult's own limit to answer above it."""
    from consult.pictures import MAX_BYTES

    url, _, servers = behind_nginx
    http = requests.Session()
    token = csrf_token(http.get(f"{url}/auth/login", timeout=WAIT).text)
    r = http.post(f"{url}/auth/login", data={"email": DEMO_EMAIL, "password": DEMO_PASSWORD, "csrf_token": token},
                  timeout=WAIT)
    assert r.url.endswith("/sessions/"), r.text
    session_id = re.search(r'href="/sessions/(\d+)/control"', r.text).group(1)
    form = http.get(f"{url}/sessions/{session_id}/questions/new?kind=choice", timeout=WAIT).text
    pictures = [noise_png(MAX_BYTES), noise_png(MAX_BYTES)]
    fields = {"csrf_token": csrf_token(form), "kind": "choice", "text": "How do you travel here?",
              "options": "Bus\nBike", "max_length": "280", "image_alt": "A map of the city",
              "opt_text-0": "Bus", "opt_had-0": "", "opt_alt-0": "A red bus",
              "opt_text-1": "Bike", "opt_had-1": "", "opt_alt-1": ""}
    files = {"image_file": ("map.png", pictures[0], "image/png"), "opt_image-0": ("bus.png", pictures[1], "image/png")}
    r = http.post(f"{url}/sessions/{session_id}/questions/new", data=fields, files=files, allow_redirects=False,
                  timeout=30)
    assert len(r.request.body) > 3 * 1024 * 1024
    assert r.status_code == 302, r.text
    stored = [p for server in servers for p in (server.instance / "uploads").glob("*.png")]
    assert sorted(p.stat().st_size for p in stored) == sorted(len(p) for p in pictures)

    # Above consult's limit: consult's own answer (its page), not nginx's.
    r = http.post(f"{url}/auth/login", data=b"x" * (30 * 1024 * 1024 + 100 * 1024),
                  headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30)
    assert r.status_code == 413
    assert "Too large · consult" in r.text and "nginx" not in r.text


# The page's sockets, kept in window.sockets for the test to close.
KEEP_SOCKETS = """
(function () {
  var real;
  Object.defineProperty(window, "io", {
    configurable: true,
    set: function (v) { real = v; },
    get: function () {
      return function () {
        var socket = real.apply(this, arguments);
        (window.sockets = window.sockets || []).push(socket);
        return socket;
      };
    }
  });
})();
"""


@pytest.mark.parametrize("behind_nginx", ["no websocket"], indirect=True)
def test_phone_page_falls_back_to_polling_where_websocket_is_blocked(behind_nginx):
    """The phone page tries websocket first; on a network that blocks it, it must still connect
    (by long-polling) and keep all its requests on one process."""
    pytest.importorskip("playwright.sync_api")
    from playwright.sync_api import expect, sync_playwright

    from .test_browser import CHROMIUM_ARGS, PHONE, chromium_path

    url, code, servers = behind_nginx
    sids = set()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(**PHONE).new_page()
            page.add_init_script(KEEP_SOCKETS)
            page.on("request", lambda r: sids.update(re.findall(r"[?&]sid=([^&]+)", r.url)))
            page.goto(f"{url}/j/{code}")
            expect(page.locator("#conn")).to_have_text("Connected", timeout=15_000)
            page.locator("#note").fill("no websocket here")
            page.get_by_role("button", name="Post note").click()
            expect(page.locator("#feedback")).to_contain_text("Your note was")
            # Hang up as the client does: the server's stop would otherwise wait out the open long-poll.
            page.evaluate("window.sockets.forEach(function (s) { s.disconnect(); })")
            expect(page.locator("#conn")).to_have_text(re.compile("Offline"))
            page.wait_for_timeout(500)
        finally:
            browser.close()
    assert sids
    for sid in sids:
        assert len(answered_by(servers, f"sid={sid}")) == 1
