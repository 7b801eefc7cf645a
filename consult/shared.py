"""State that every server process must agree on: who is connected, and who pushes results.

With one process it lives in memory. With several (CONSULT_MESSAGE_QUEUE=redis://...) it
lives in Redis, so a projector on one process counts the phones connected to another,
and one process, not each, pushes a session's results per interval.
"""
import secrets
import time
from collections import Counter

PRESENCE_TTL = 120  # seconds a connection counts without a refresh: a dead process's phones fade out
ACCOUNT_TTL = 7 * 24 * 3600  # seconds an account's list of screen sockets is kept after its latest


class Local:
    def __init__(self):
        self.members = {}  # sid -> session id
        self.counts = Counter()
        self.accounts = {}  # facilitator id -> sids of its screens

    def joined(self, session_id, sid):
        self.members[sid] = session_id
        self.counts[session_id] += 1

    def left(self, sid):
        session_id = self.members.pop(sid, None)
        if session_id is not None:
            self.counts[session_id] -= 1
        return session_id

    def connected(self, session_id):
        return self.counts[session_id]

    # A facilitator account's screen sockets, so signing out disconnects each wherever it is.
    def account_socket(self, facilitator_id, sid):
        self.accounts.setdefault(facilitator_id, set()).add(sid)

    def account_socket_left(self, facilitator_id, sid):
        self.accounts.get(facilitator_id, set()).discard(sid)

    def account_sockets(self, facilitator_id):
        return set(self.accounts.get(facilitator_id, ()))

    def forget_account(self, facilitator_id):
        self.accounts.pop(facilitator_id, None)

    def refresh(self):
        pass

    def may_flush(self, session_id, interval, changed=0.0):
        return True


class Redis(Local):
    """Presence in Redis, which may restart (empty) or be out of reach for a while.

    Every process keeps its own connections in memory too (Local), and refresh() writes them to
    Redis as they are: renewed, put back after Redis lost them, and any it holds that are gone
    (a leave that could not be written) taken out. So the count heals itself rather than drift.
    """

    def __init__(self, url, prefix="consult"):
        super().__init__()
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.errors = redis.RedisError
        # One quick retry (a connection Redis closed when it restarted), then fail: a phone's
        # connect must not wait for Redis backing off.
        self.redis = redis.Redis.from_url(url, retry=Retry(NoBackoff(), 1), socket_connect_timeout=2, socket_timeout=5)
        self.prefix = prefix  # deployments sharing one Redis keep apart by their channel name
        self.me = secrets.token_hex(6)  # this process, in member names and flush claims
        self.lost = {}  # session id -> when another process last won its push claim
        self.sessions = set()  # sessions this process has had connections in, for refresh() to put right
        self.known = {}  # session id -> (count last read from Redis, our own count then)

    def _key(self, session_id):
        return f"{self.prefix}:presence:{session_id}"

    def joined(self, session_id, sid):
        super().joined(session_id, sid)
        self.sessions.add(session_id)
        try:
            self.redis.zadd(self._key(session_id), {f"{self.me}:{sid}": time.time() + PRESENCE_TTL})
        except self.errors:
            pass  # refresh() adds it once Redis is back

    def left(self, sid):
        session_id = super().left(sid)
        if session_id is not None:
            try:
                self.redis.zrem(self._key(session_id), f"{self.me}:{sid}")
            except self.errors:
                pass  # refresh() removes it once Redis is back
        return session_id

    def _account_key(self, facilitator_id):
        return f"{self.prefix}:account:{facilitator_id}"

    def account_socket(self, facilitator_id, sid):
        key = self._account_key(facilitator_id)
        pipe = self.redis.pipeline()
        pipe.sadd(key, sid)  # socket ids are unique across processes
        pipe.expire(key, ACCOUNT_TTL)  # a dead process's sockets go some day; disconnecting them is harmless
        pipe.execute()

    def account_socket_left(self, facilitator_id, sid):
        self.redis.srem(self._account_key(facilitator_id), sid)

    def account_sockets(self, facilitator_id):
        return {m.decode() for m in self.redis.smembers(self._account_key(facilitator_id))}

    def forget_account(self, facilitator_id):
        self.redis.delete(self._account_key(facilitator_id))

    def connected(self, session_id):
        ours = super().connected(session_id)
        key = self._key(session_id)
        try:
            pipe = self.redis.pipeline()
            pipe.zremrangebyscore(key, "-inf", time.time())
            pipe.zcard(key)
            count = pipe.execute()[1]
        except self.errors:
            # Out of reach: the last count, moved by what happened here since.
            count, then = self.known.get(session_id, (ours, ours))
            return max(ours, count + ours - then)
        self.known[session_id] = (count, ours)
        return count

    def refresh(self):
        """Write this process's connections to Redis as they are now; False if Redis is out of reach."""
        expiry = time.time() + PRESENCE_TTL
        mine = f"{self.me}:".encode()
        sessions = sorted(self.sessions)
        current = {}
        for sid, session_id in list(self.members.items()):
            current.setdefault(session_id, set()).add(sid)
        try:
            pipe = self.redis.pipeline()
            for session_id in sessions:
                pipe.zrange(self._key(session_id), 0, -1)
            listed = pipe.execute()
            pipe = self.redis.pipeline()
            for session_id, members in zip(sessions, listed):
                here = current.get(session_id, set())
                gone = [m for m in members if m.startswith(mine) and m[len(mine):].decode() not in here]
                if gone:
                    pipe.zrem(self._key(session_id), *gone)
                if here:
                    pipe.zadd(self._key(session_id), {f"{self.me}:{sid}": expiry for sid in here})
                else:
                    self.sessions.discard(session_id)
            pipe.execute()
        except self.errors:
            return False
        return True

    def may_flush(self, session_id, interval, changed=0.0):
        """Claim this interval's push of session_id's results; changed: time.monotonic() of our latest change.

        True: push now. False: another process pushes this interval; keep the change and try
        again. None: we lost twice with no change of ours in between, so the other process
        pushed after our change was committed and showed it.
        """
        ttl = max(1, int(interval * 900))
        try:
            claimed = self.redis.set(f"{self.prefix}:flush:{session_id}", self.me, nx=True, px=ttl)
        except self.errors:
            return True  # nobody to agree with: push our own screens rather than none
        if claimed:
            self.lost.pop(session_id, None)
            return True
        lost_at = self.lost.get(session_id)
        if lost_at is not None and lost_at >= changed:
            del self.lost[session_id]
            return None
        self.lost[session_id] = time.monotonic()
        return False


def make(message_queue, prefix="consult"):
    if message_queue and message_queue.startswith(("redis://", "rediss://", "unix://")):
        return Redis(message_queue, prefix)
    return Local()
