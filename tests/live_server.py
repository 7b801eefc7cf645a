"""A real `consult serve` process on a free loopback port, for end-to-end and browser tests."""
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent

# The demo café made plain (see LiveServer.demo): no tables, no round started.
PLAIN_DEMO = """
import sys
from consult import cafe, create_app
from consult.extensions import db
from consult.models import CafeSession
app = create_app()
with app.app_context():
    session = db.session.query(CafeSession).filter_by(join_code=sys.argv[1]).one()
    cafe.set_tables(session, [])
    session.current_round = 0
    db.session.commit()
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """Start, stop and restart `consult serve`; the instance folder (and database) survives restarts."""

    def __init__(self, instance, async_mode="eventlet", env=None):
        self.instance = Path(instance)
        self.async_mode = async_mode
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "CONSULT_INSTANCE_PATH": str(self.instance),
            "CONSULT_ASYNC_MODE": async_mode,
            "PYTHONPATH": str(ROOT),
            **(env or {}),
        }
        self.proc = None
        self.log = self.instance / "server.log"

    def cli(self, *args, input=None):
        """Run a `consult` command against the same instance and return its output."""
        env = {k: v for k, v in self.env.items() if k != "CONSULT_ASYNC_MODE"}
        out = subprocess.run(
            [sys.executable, "-m", "consult.entry", *args], env=env, cwd=ROOT, input=input,
            capture_output=True, text=True, timeout=60,
        )
        assert out.returncode == 0, out.stderr
        return out.stdout

    def start(self, timeout=30):
        self.instance.mkdir(parents=True, exist_ok=True)
        with open(self.log, "a") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "consult.entry", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"consult serve exited:\n{self.log.read_text()}")
            try:
                if requests.get(self.url + "/", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"consult serve did not start:\n{self.log.read_text()}")

    def stop(self, hard=False):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if hard else signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self, hard=True):
        self.stop(hard=hard)
        return self.start()

    def demo(self, plain=True):
        """Set up the demo café; returns its join code (and keeps what `consult demo` printed in .demo_output).

        plain: without its tables and with no round started, as the demo café was before it became
        a World Café: phones then go straight to the question, and tests start round 1 themselves.
        """
        out = self.cli("demo")
        self.demo_output = out
        code = re.search(r"Join code:\s+(\w+)", out).group(1)
        if plain:
            env = {k: v for k, v in self.env.items() if k != "CONSULT_ASYNC_MODE"}
            done = subprocess.run([sys.executable, "-c", PLAIN_DEMO, code], env=env, cwd=ROOT,
                                  capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
        return code

    def login(self, email="demo@example.org", password="consult-demo"):
        """A requests.Session signed in as a facilitator (the login form carries a CSRF token)."""
        http = requests.Session()
        page = http.get(self.url + "/auth/login").text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        r = http.post(self.url + "/auth/login", data={"email": email, "password": password, "csrf_token": token})
        assert r.url.endswith("/sessions/"), r.text
        return http
