"""Mixed load in CI: 2,000 phones on sockets and 200 over plain HTTP answer in the same burst,
while a new phone opens the join page every 100 ms. Every answer is acknowledged and stored
once, and the page keeps being answered within a second throughout.

Speed itself is measured by `consult bench` (benchmarks/README.md); this checks nothing wedges.
"""
import json
import subprocess
import sys

import pytest

from .live_server import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.mark.parametrize("async_mode", ["eventlet", "gevent"])
def test_socket_and_http_phones_at_once(async_mode):
    out = subprocess.run(
        [sys.executable, "-m", "consult.entry", "bench", "--phones", "2000", "--http", "200", "--bursts", "1",
         "--no-bare", "--async-mode", async_mode],
        cwd=ROOT, capture_output=True, text=True, timeout=540,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(result)
    assert result["phones"] == result["acked"] == 2000, result
    assert result["http_acked"] == 200 and result["errors"] == [], result
    assert result["in_db"] == 2200 and result["duplicates"] == 0, result
    assert result["pages_opened"] >= 3 and result["page_max_ms"] < 1000, result
