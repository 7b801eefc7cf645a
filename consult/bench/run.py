"""Orchestrates `consult bench`: real servers on loopback, N phones, one burst of votes."""
import asyncio
import json
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import aiohttp

from .load import Phone, gather_limited

CONNECT_AT_ONCE = 100


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rss_mb(pid, field="VmRSS"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def wait_ready(url, proc, timeout=60):
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited during start")
        try:
            urllib.request.urlopen(url + "/", timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def setup(env):
    """A fresh café with one open yes/no question; returns what the phones need."""
    os.environ.update(env)
    os.environ["CONSULT_ASYNC_MODE"] = "threading"
    from consult import create_app, rules, services
    from consult import schema
    from consult.extensions import db
    from consult.models import CafeSession, Facilitator

    app = create_app()
    with app.app_context():
        schema.upgrade()
        email = "bench@example.org"
        user = db.session.query(Facilitator).filter_by(email=email).one_or_none()
        if user is None:
            user = Facilitator(email=email)
            db.session.add(user)
        password = secrets.token_urlsafe(12)
        user.set_password(password)
        cafe = CafeSession(owner=user, title=f"Benchmark {time.strftime('%Y-%m-%d %H:%M:%S')}",
                           join_code=rules.unique_join_code())
        db.session.add(cafe)
        db.session.commit()
        question = services.save_question(cafe, None, {"kind": "yesno", "text": "Benchmark: yes or no?"})
        services.control(cafe, "open", question.id)
        info = {"code": cafe.join_code, "session_id": cafe.id, "question_id": question.id,
                "options": [o.id for o in question.options], "email": email, "password": password}
    return app, info


def count_votes(app, question_id):
    from sqlalchemy import func, select

    from consult.extensions import db
    from consult.models import Vote

    with app.app_context():
        rows = db.session.execute(
            select(func.count(Vote.id), func.count(func.distinct(Vote.participant_id))).filter_by(question_id=question_id)
        ).one()
        db.session.remove()
        return rows[0], rows[1]


async def login(http, url, email, password):
    async with http.get(url + "/auth/login") as r:
        page = await r.text()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    cookie = _cookie(r)
    async with http.post(url + "/auth/login", data={"email": email, "password": password, "csrf_token": token},
                         headers={"Cookie": cookie}, allow_redirects=False) as r:
        assert r.status == 302, f"login failed: {r.status}"
        return _cookie(r) or cookie


def _cookie(response):
    return "; ".join(f"{k}={m.value}" for k, m in response.cookies.items())


async def join(http, url, code):
    async with http.get(f"{url}/j/{code}") as r:
        await r.read()
        assert r.status == 200, r.status
        return _cookie(r)


class HttpPhone:
    """A phone whose socket is down: it answers with the page's plain HTTP request."""

    def __init__(self, url, code):
        self.url, self.code = url, code

    async def join(self, http):
        async with http.get(f"{self.url}/j/{self.code}") as r:
            page = await r.text()
            assert r.status == 200, r.status
            self.cookie = _cookie(r)
        self.token = re.search(r'data-csrf="([^"]+)"', page).group(1)
        return self

    async def call(self, http, event, data):
        sent = time.perf_counter()
        async with http.post(f"{self.url}/j/{self.code}/{event}", json=data,
                             headers={"Cookie": self.cookie, "X-CSRFToken": self.token}) as r:
            result = await r.json()
        return sent, time.perf_counter(), result


async def probe(http, url, done, took):
    """A new phone opening the join page every 100 ms until done: how long each page took."""
    while not done.is_set():
        start = time.perf_counter()
        try:
            async with http.get(url) as r:
                await r.read()
                took.append((time.perf_counter() - start) * 1000 if r.status == 200 else float("inf"))
        except aiohttp.ClientError:
            took.append(float("inf"))
        await asyncio.sleep(0.1)


async def burst(phones, make_vote, http=None, http_phones=()):
    """Every phone votes at once (the HTTP ones too); returns (first send, [(ack time, latency ms)],
    errors, [HTTP latency ms])."""
    start = time.perf_counter()
    calls = [p.call("vote", make_vote(i)) for i, p in enumerate(phones)]
    calls += [p.call(http, "vote", make_vote(len(phones) + i)) for i, p in enumerate(http_phones)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    acks, errors, by_http = [], [], []
    for j, r in enumerate(results[len(phones):]):
        if not isinstance(r, Exception) and r[2].get("ok"):
            by_http.append((r[1] - r[0]) * 1000)
    for r in results:
        if isinstance(r, Exception):
            errors.append(repr(r))
        elif r[2].get("ok"):
            acks.append((r[1], (r[1] - r[0]) * 1000))
        else:
            errors.append(r[2].get("error"))
    return start, acks, errors, by_http


async def drive(urls, n, code=None, info=None, projector_url=None, timeout=120, bursts=3, by_http=0):
    """Connect n phones (and a projector when info is given), then bursts times every phone
    votes at once; measures each burst (votes_per_s: the median burst's).

    by_http more phones answer by plain HTTP in the same bursts, while a new phone opens the
    join page every 100 ms: the page must stay quick whatever the burst does.
    """
    out = {}
    # Open websockets hold a connector slot each: no cap here, gather_limited paces the connects.
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as http:
        projector = None
        shown = []
        if info:
            cookie = await login(http, projector_url, info["email"], info["password"])
            projector = Phone(projector_url, "/facilitator", {"session_id": info["session_id"], "view": "projector"}, cookie)

            def on_state(now, name, data):
                if name == "state" and data.get("results"):
                    shown.append((now, data["results"]["total"]))

            projector.on_event = on_state
            await projector.connect(http)

        async def connect_phone(i):
            url = urls[i % len(urls)]
            cookie = await join(http, url, code) if code else None
            phone = Phone(url, "/phone", {"code": code} if code else {}, cookie)
            await phone.connect(http)
            return phone

        t0 = time.perf_counter()
        made = await gather_limited([connect_phone(i) for i in range(n)], CONNECT_AT_ONCE)
        phones = [p for p in made if isinstance(p, Phone)]
        out["connect_s"] = round(time.perf_counter() - t0, 2)
        out["phones"] = len(phones)
        out["connect_errors"] = len(made) - len(phones)
        http_phones = [await HttpPhone(urls[i % len(urls)], code).join(http) for i in range(by_http)]
        await asyncio.sleep(1)  # let the connect storm's live updates settle

        rates, latencies, out["acked"], out["errors"] = [], [], 0, []
        http_latencies, pages = [], []
        out["http_acked"] = 0 if by_http else None
        for round_ in range(bursts):
            # The first burst records new votes; each later one changes every vote (a new client
            # id, the other option): the path a phone takes when its person changes their mind.
            if info:
                def make_vote(i):
                    return {"question_id": info["question_id"], "client_id": secrets.token_hex(8),
                            "choices": [info["options"][(i + round_) % 2]]}
            else:
                def make_vote(i):
                    return {"question_id": 1, "client_id": secrets.token_hex(8), "choices": [1]}

            done = asyncio.Event()
            watcher = asyncio.ensure_future(probe(http, f"{urls[0]}/j/{code}", done, pages)) if by_http else None
            try:
                start, acks, errors, answered = await asyncio.wait_for(
                    burst(phones, make_vote, http, http_phones), timeout)
            finally:
                done.set()
                if watcher:
                    await watcher
            if by_http:
                acks = acks[:len(acks) - len(answered)]  # the socket phones' own figures stay comparable
                http_latencies += answered
                out["http_acked"] = min(out["http_acked"], len(answered)) if round_ else len(answered)
            out["acked"] = min(out["acked"], len(acks)) if round_ else len(acks)
            out["errors"] += errors[:5]
            if not acks:
                break
            last = max(t for t, _ in acks)
            rates.append(len(acks) / (last - start))
            latencies += [ms for _, ms in acks]
            if projector and round_ == 0:
                deadline = time.perf_counter() + 10
                while time.perf_counter() < deadline and not any(total >= len(acks) for _, total in shown):
                    await asyncio.sleep(0.01)
                seen = [t for t, total in shown if total >= len(acks)]
                out["projector_lag_ms"] = round((seen[0] - last) * 1000, 1) if seen else None
            await asyncio.sleep(0.5)  # the projector's update of this burst goes out before the next
        if rates:
            out["votes_per_s"] = round(statistics.median(rates), 1)
            out["bursts_votes_per_s"] = [round(v) for v in rates]
            out["ack_p50_ms"] = round(statistics.median(latencies), 1)
            out["ack_p95_ms"] = round(percentile(latencies, 95), 1)
            out["ack_max_ms"] = round(max(latencies), 1)
        if http_latencies:
            out["http_p95_ms"] = round(percentile(http_latencies, 95), 1)
            out["http_max_ms"] = round(max(http_latencies), 1)
        if pages:
            out["page_p95_ms"] = round(percentile(pages, 95), 1)
            out["page_max_ms"] = round(max(pages), 1)
            out["pages_opened"] = len(pages)
        for p in phones:
            await p.close()
        if projector:
            await projector.close()
    return out


def bench(phones, async_mode="eventlet", processes=1, database_url=None, message_queue=None, bare=True, bursts=3,
          by_http=0):
    raise_fd_limit()
    workdir = tempfile.mkdtemp(prefix="consult-bench-")
    env = {"CONSULT_INSTANCE_PATH": os.path.join(workdir, "instance"), "CONSULT_MAX_CONNECTIONS": str(phones * 2 + 100),
           # Thousands of phones from one address, each answering as fast as it can: no limits.
           "CONSULT_LIMITS": "0"}
    if database_url:
        env["CONSULT_DATABASE_URL"] = database_url
    if message_queue:
        env["CONSULT_MESSAGE_QUEUE"] = message_queue
        env["CONSULT_CHANNEL"] = "bench-" + secrets.token_hex(4)  # apart from a live deployment on the same Redis
    if processes > 1 and not (database_url and message_queue):
        raise SystemExit("Several processes need a shared database and message queue: "
                         "give --database-url postgresql://... and --message-queue redis://...")
    result = {"phones_asked": phones, "async_mode": async_mode, "processes": processes}
    try:
        app, info = setup(env)
        child_env = {**os.environ, **env, "CONSULT_ASYNC_MODE": async_mode}
        servers, urls = [], []
        for _ in range(processes):
            port = free_port()
            proc = subprocess.Popen(
                [sys.executable, "-m", "consult.entry", "serve", "--host", "127.0.0.1", "--port", str(port),
                 "--async-mode", async_mode],
                env=child_env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, f"server-{port}.log"), "w"),
            )
            servers.append(proc)
            urls.append(f"http://127.0.0.1:{port}")
        try:
            for proc, url in zip(servers, urls):
                wait_ready(url, proc)
            base_rss = sum(rss_mb(p.pid) for p in servers)
            # Phones spread over every process; the projector watches from the last one.
            out = asyncio.run(drive(urls, phones, info["code"], info, urls[-1], bursts=bursts, by_http=by_http))
            result.update(out)
            result["rss_mb"] = round(sum(rss_mb(p.pid, "VmHWM") for p in servers), 1)
            if result.get("phones"):
                result["mb_per_phone"] = round((result["rss_mb"] - base_rss) / result["phones"], 3)
        finally:
            for proc in servers:
                stop(proc)
        in_db, distinct = count_votes(app, info["question_id"])
        result["in_db"] = in_db
        result["duplicates"] = in_db - distinct

        if bare:
            port = free_port()
            proc = subprocess.Popen([sys.executable, "-m", "consult.bench.bare", str(port), async_mode],
                                    env=child_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_ready(f"http://127.0.0.1:{port}", proc)
                out = asyncio.run(drive([f"http://127.0.0.1:{port}"], phones, bursts=bursts))
                result["bare_votes_per_s"] = out.get("votes_per_s")
                result["bare_bursts_votes_per_s"] = out.get("bursts_votes_per_s")
                result["bare_rss_mb"] = round(rss_mb(proc.pid, "VmHWM"), 1)
            finally:
                stop(proc)
            if result.get("votes_per_s") and result.get("bare_votes_per_s"):
                result["ratio"] = round(result["votes_per_s"] / result["bare_votes_per_s"], 2)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(prog="consult bench")
    parser.add_argument("--phones", type=int, default=500)
    parser.add_argument("--async-mode", default="eventlet", choices=["eventlet", "gevent"])
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--database-url")
    parser.add_argument("--message-queue")
    parser.add_argument("--no-bare", action="store_true")
    parser.add_argument("--bursts", type=int, default=3)
    parser.add_argument("--http", type=int, default=0)
    args = parser.parse_args(argv)
    result = bench(args.phones, args.async_mode, args.processes, args.database_url, args.message_queue,
                   not args.no_bare, args.bursts, args.http)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
