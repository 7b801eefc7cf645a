"""`consult bench` runs end to end (tiny N here: speed is measured by running it, not by tests)."""
import json
import subprocess
import sys

from .live_server import ROOT

KEYS = {"phones", "connect_s", "acked", "in_db", "votes_per_s", "ack_p50_ms", "ack_p95_ms", "ack_max_ms",
        "projector_lag_ms", "rss_mb", "bare_votes_per_s", "ratio", "async_mode", "processes"}


def test_bench_prints_one_json_line_last():
    out = subprocess.run(
        [sys.executable, "-m", "consult.entry", "bench", "--phones", "30"],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert KEYS <= set(result)
    assert result["phones"] == result["acked"] == result["in_db"] == 30
    assert result["duplicates"] == 0 and result["errors"] == []
    assert result["async_mode"] == "eventlet" and result["processes"] == 1
    assert result["votes_per_s"] > 0 and result["bare_votes_per_s"] > 0 and result["ratio"] > 0
    assert result["projector_lag_ms"] is not None and result["projector_lag_ms"] < 1000
