"""The deployment in deploy/: nginx in front of two processes, websocket and polling through it."""
import re
import shutil
import subprocess
import time
import uuid

import pytest
import requests
from sqlalchemy import create_engine, text

from .live_server import ROOT, LiveServer, free_port
from .test_e2e import WAIT, Peer, cookie_header, new_client_id, ok, stop_cleanly
from .test_postgres import PG

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


@pytest.fixture
def behind_nginx(tmp_path):
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
        (tmp_path / "site.conf").write_text(site)
        (tmp_path / "nginx.conf").write_text(
            f"events {{}}\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
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
        yield url, code
    finally:
        if proc:
            proc.terminate()
            proc.wait(10)
        for server in servers:
            stop_cleanly(server)
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_phones_through_nginx(behind_nginx, transport):
    url, code = behind_nginx
    http = requests.Session()
    assert http.get(f"{url}/j/{code}", timeout=WAIT).status_code == 200
    phone = Peer("phone", url, "/phone", {"code": code}, cookie_header(http))
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
