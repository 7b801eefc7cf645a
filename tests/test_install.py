"""consult installed the way people install it, then served from outside the checkout.

Each test makes a fresh virtual environment away from the checkout (dependencies come from
the site-packages of the Python running the tests, so no network), installs consult into it
with --no-deps and runs `consult serve --demo` from a temporary folder: the pages load only if
the wheel carries the templates, the static files and the migrations.
"""
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import requests

from .live_server import ROOT, free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def run(*args, cwd=None):
    out = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"{args}:\n{out.stdout}\n{out.stderr}"
    return out.stdout


def install(tmp_path, target, *options):
    """A fresh venv with consult installed from target (a wheel or a source folder); its bin/."""
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    # The dependencies (and pip) of the Python running the tests, be it a venv or the system's;
    # never the checkout. The venv's own site-packages comes first, so its consult wins.
    (site,) = venv.glob("lib/python*/site-packages")
    (site / "deps.pth").write_text("".join(p + "\n" for p in sys.path if p.endswith(("site-packages", "dist-packages"))))
    bin = venv / "bin"
    # --ignore-installed: a consult installed where the dependencies are (as CI does) must not
    # count as this one; it is left alone.
    run(bin / "python", "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed", *options, target, cwd=tmp_path)
    where = run(bin / "python", "-c", "import consult; print(consult.__file__)", cwd=tmp_path).strip()
    assert where.startswith(str(venv)), f"consult imported from {where}, not from the venv"
    return bin


def serve_demo(bin, tmp_path):
    """`consult serve --demo` from a folder outside the checkout; the pages a first run opens must load."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("CONSULT_")}
    env["CONSULT_INSTANCE_PATH"] = str(tmp_path / "instance")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([bin / "consult", "serve", "--demo", "--host", "127.0.0.1", "--port", str(port)],
                                cwd=elsewhere, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"consult serve exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"consult serve did not start:\n{log.read_text()}"
            try:
                if requests.get(url + "/", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        printed = log.read_text()
        join = re.search(r"Join URL:\s+(\S+)", printed).group(1)
        sign_in = re.search(r"Sign in at:\s+(\S+)", printed).group(1)
        assert join.startswith(url) and sign_in.startswith(url), printed

        start = requests.get(url + "/", timeout=10)
        assert "/static/style.css" in start.text
        style = requests.get(url + "/static/style.css", timeout=10)
        assert style.status_code == 200
        assert style.content == (ROOT / "static" / "style.css").read_bytes()
        phone = requests.get(join, timeout=10)
        assert phone.status_code == 200 and "/static/phone.js" in phone.text
        login = requests.get(sign_in, timeout=10)
        assert login.status_code == 200 and 'name="csrf_token"' in login.text
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert "Traceback" not in log.read_text(), log.read_text()
    assert proc.returncode == 0, log.read_text()


def test_wheel_from_the_checkout(tmp_path):
    wheels = tmp_path / "wheels"
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", wheels, ROOT)
    (wheel,) = wheels.glob("consult-*.whl")
    bin = install(tmp_path, wheel)
    serve_demo(bin, tmp_path)


def test_install_from_a_clean_clone(tmp_path):
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    run("git", "clone", "-q", ROOT, clone)
    bin = install(tmp_path, clone, "--no-build-isolation")
    serve_demo(bin, tmp_path)
