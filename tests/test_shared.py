"""Cross-process state in the Redis on 127.0.0.1: presence and the results-push claim."""
import random
import time

import pytest

from consult import shared

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def session_id():
    """A session id no other test run uses, and its keys cleaned up afterwards."""
    sid = random.randrange(10**8, 10**9)
    yield sid
    r = shared.Redis(REDIS).redis
    r.delete(f"consult:presence:{sid}", f"consult:flush:{sid}")


def test_make_picks_the_backend():
    assert type(shared.make(None)) is shared.Local
    assert type(shared.make(REDIS)) is shared.Redis


def test_presence_is_shared_between_processes(session_id):
    a, b = shared.Redis(REDIS), shared.Redis(REDIS)
    a.joined(session_id, "s1")
    a.joined(session_id, "s2")
    b.joined(session_id, "s1")  # socket ids are per process: the same sid elsewhere is another phone
    assert a.connected(session_id) == b.connected(session_id) == 3
    a.left("s1")
    a.left("unknown")
    assert b.connected(session_id) == 2


def test_a_dead_process_phones_fade_out(session_id, monkeypatch):
    a, b = shared.Redis(REDIS), shared.Redis(REDIS)
    a.joined(session_id, "s1")
    b.joined(session_id, "s1")
    now = time.time()
    monkeypatch.setattr(shared.time, "time", lambda: now + shared.PRESENCE_TTL / 2)
    b.refresh()  # b is alive and renews; a died and does not
    monkeypatch.setattr(shared.time, "time", lambda: now + shared.PRESENCE_TTL + 1)
    assert b.connected(session_id) == 1


def test_one_process_pushes_per_interval(session_id):
    a, b = shared.Redis(REDIS), shared.Redis(REDIS)
    changed = time.monotonic()
    assert a.may_flush(session_id, 0.2, changed) is True
    assert b.may_flush(session_id, 0.2, changed) is False  # a pushes this interval; b keeps its change
    assert b.may_flush(session_id, 0.2, changed) is None  # lost twice: a pushed after b's change
    newer = time.monotonic()
    assert b.may_flush(session_id, 0.2, newer) is False  # a change since the last loss is not covered
    time.sleep(0.25)
    assert b.may_flush(session_id, 0.2, newer) is True


def test_local_backend():
    local = shared.Local()
    local.joined(1, "a")
    local.joined(1, "b")
    local.left("a")
    local.left("a")
    assert local.connected(1) == 1 and local.may_flush(1, 0.25) is True
