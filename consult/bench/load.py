"""A lean Socket.IO load generator: raw Engine.IO v4 / Socket.IO v5 frames over aiohttp websockets.

One asyncio loop drives thousands of phones; they share one HTTP connection pool and keep
their cookie as a header, instead of a client object and an HTTP session each.
"""
import asyncio
import json
import time

import aiohttp


class Phone:
    def __init__(self, url, namespace, auth, cookie=None):
        self.url, self.ns, self.auth, self.cookie = url, namespace, auth, cookie
        self.ws = None
        self.acks = {}
        self.events = []  # (time, name, data)
        self.on_event = None
        self.next_ack = 0

    async def connect(self, http, timeout=60):
        ws_url = self.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        headers = {"Cookie": self.cookie} if self.cookie else {}
        self.ws = await http.ws_connect(ws_url, headers=headers, heartbeat=None, timeout=aiohttp.ClientWSTimeout(ws_close=5))
        first = await asyncio.wait_for(self.ws.receive_str(), timeout)
        assert first.startswith("0"), first
        await self.ws.send_str(f"40{self.ns}," + json.dumps(self.auth))
        while True:
            msg = await asyncio.wait_for(self.ws.receive_str(), timeout)
            if msg.startswith(f"40{self.ns},"):
                break
            if msg.startswith(f"44{self.ns},"):
                raise ConnectionError(msg)
            if msg == "2":
                await self.ws.send_str("3")
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self):
        prefix_event, prefix_ack = f"42{self.ns},", f"43{self.ns},"
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            data, now = msg.data, time.perf_counter()
            if data == "2":
                await self.ws.send_str("3")
            elif data.startswith(prefix_ack):
                body = data[len(prefix_ack):]
                i = body.index("[")
                future = self.acks.pop(int(body[:i]), None)
                if future and not future.done():
                    future.set_result((now, json.loads(body[i:])[0]))
            elif data.startswith(prefix_event):
                name, *args = json.loads(data[len(prefix_event):])
                self.events.append((now, name, args[0] if args else None))
                if self.on_event:
                    self.on_event(now, name, args[0] if args else None)

    async def call(self, event, data):
        """Emit with an acknowledgement; returns (sent time, acked time, ack data)."""
        self.next_ack += 1
        future = asyncio.get_running_loop().create_future()
        self.acks[self.next_ack] = future
        sent = time.perf_counter()
        await self.ws.send_str(f"42{self.ns},{self.next_ack}" + json.dumps([event, data]))
        acked, result = await future
        return sent, acked, result

    async def close(self):
        if self.ws is not None:
            await self.ws.close()
        if getattr(self, "reader", None):
            self.reader.cancel()


async def gather_limited(coros, limit):
    """Run coroutines with at most `limit` at once (a connect storm of thousands overflows the accept queue)."""
    sem = asyncio.Semaphore(limit)

    async def one(c):
        async with sem:
            return await c

    return await asyncio.gather(*(one(c) for c in coros), return_exceptions=True)
