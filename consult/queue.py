"""The Redis message queue between server processes, made to notice when Redis was lost.

Redis pub/sub keeps nothing for a subscriber that is away: whatever another process published
while this one's connection was down (Redis restarting, a network blip) is gone. python-socketio's
RedisManager retries quietly (and after a few failures sleeps for up to a minute), so a
process came back with stale screens and phones that missed a question switch. This manager
reconnects within RETRY seconds and then calls back(): the app resends its own screens and
phones their whole state from the database (live.resync), which holds everything that was
announced meanwhile, since nothing is announced before it is committed.
"""
import time

import redis
import socketio
from redis.backoff import NoBackoff
from redis.retry import Retry

RETRY = 0.25  # seconds between attempts to reach Redis again


class Queue(socketio.RedisManager):
    """socketio.RedisManager that reports reconnects.

    back(): called (in the listener's task; it must return quickly) each time the listener is
    subscribed again after losing Redis, and when another process asks for a resync because
    what it published while Redis was out of its reach was lost.
    """

    def __init__(self, url, channel, back, logger=None):
        super().__init__(url, channel=channel, logger=logger)
        self.back = back
        self.resync_channel = channel + ":resync"
        self.down = False  # the listener has lost Redis: publishing waits for it
        self.dropped = False  # something this process published never reached Redis
        self.publisher = None

    def _client(self, retries):
        # retries=0 for the listener: redis-py would otherwise reconnect and resubscribe by
        # itself, and the gap (with what was published in it) would pass unnoticed.
        return redis.Redis.from_url(self.redis_url, retry=Retry(NoBackoff(), retries),
                                    socket_connect_timeout=2, socket_keepalive=True)

    def _publisher(self):
        if self.publisher is None:
            self.publisher = self._client(1)  # one retry: for a connection Redis closed when it restarted
        return self.publisher

    def _publish(self, data):
        if self.down:  # fail fast: don't make every emit wait for a connect timeout
            self.dropped = True
            return None
        try:
            return self._publisher().publish(self.channel, self.json.dumps(data))
        except Exception as exc:
            self.dropped = True
            self._get_logger().error("Cannot publish to Redis: %s", exc)
            return None

    def _listen(self):
        channel = self.channel.encode()
        resync = self.resync_channel.encode()
        lost = None  # when the listener lost Redis, if it has
        while True:
            pubsub = None
            try:
                pubsub = self._client(0).pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel, self.resync_channel)
                if lost is not None:
                    self._get_logger().warning("Redis is back after %.1f s: resyncing", time.monotonic() - lost)
                    self.down, lost = False, None
                    if self.dropped:
                        # Other processes may have stayed connected and missed what we sent.
                        self._publisher().publish(self.resync_channel, self.host_id)
                        self.dropped = False
                    self.back()
                for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    if message["channel"] == channel:
                        yield message["data"]
                    elif message["channel"] == resync and message["data"] != self.host_id.encode():
                        self.back()
            except Exception as exc:
                if lost is None:
                    self._get_logger().error("Lost Redis: %s; retrying every %s s", exc, RETRY)
                    lost = time.monotonic()
                self.down = True
                time.sleep(RETRY)  # cooperative: the server patched time for eventlet or gevent
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:  # a connection already gone
                        pass
