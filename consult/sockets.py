"""Socket.IO handlers declared beside a blueprint's routes, and given to each app's own server.

Flask-SocketIO keeps its server on the SocketIO object, so one object shared by two apps (tests,
a CLI command beside a server) would push the first app's news through the second's sockets.
Each app makes its own SocketIO in the factory; handlers are declared here at import, as a
blueprint declares routes, and attached to every app's server by init_app.
"""
import functools
import inspect

from socketio import packet

from . import validate
from .rules import FAILED, MALFORMED

# Names python-socketio gives its own events: a client sending one as an event is not connecting.
RESERVED = ("connect", "disconnect", "connect_error")
MAX_NAME = 100


class Events:
    """The socket handlers of one namespace (the phones', the hosts' or the screens')."""

    def __init__(self, namespace):
        self.namespace = namespace
        self.handlers = []
        self.queued_handlers = {}

    def on(self, event):
        """A handler of event: it gets the event's arguments, checked (validate.payload) and in the
        number it takes; any other number is answered as a malformed request."""
        def register(handler):
            self.handlers.append((event, handler))
            return handler

        return register

    def queued(self, event):
        """A handler that answers later, for the hot path of a burst of answers.

        handler(app, sid, args, reply) hands its work on (to the writer) and returns at once;
        reply(ack) sends the event's ack when the work is done. It runs straight from the
        connection, with no greenlet of its own and outside Flask's request context: parking
        one handler per answer until its batch committed cost as much server CPU as the
        database work, and building a request context per event (routes matched, the session
        opened) about as much again.
        """
        def register(handler):
            self.queued_handlers[event] = handler
            return handler

        return register

    def init_app(self, app, socketio):
        queued = _guard(app, socketio.server)
        for event, handler in self.handlers:
            socketio.on_event(event, _checked(event, handler), namespace=self.namespace)
        queued.setdefault(self.namespace, {}).update(self.queued_handlers)


def _checked(event, handler):
    """handler, called only with arguments it takes: a malformed request gets an error ack instead
    of a TypeError (a traceback, and an ack of "something went wrong")."""
    if event == "disconnect":
        return handler
    if event == "connect":
        @functools.wraps(handler)
        def connect(auth=None):
            try:
                auth = validate.payload(auth, strict=True)
            except validate.Refused:
                auth = None  # refused by the handler as no auth at all
            return handler(auth)

        return connect
    signature = inspect.signature(handler, follow_wrapped=False)  # the registered function, not what it wraps

    @functools.wraps(handler)
    def checked(*args):
        try:
            signature.bind(*args)
        except TypeError:
            return {"ok": False, "error": MALFORMED}
        return handler(*args)

    return checked


class Packet(packet.Packet):
    """A Socket.IO packet whose JSON could not be read (too deep, a number too long, not JSON)
    keeps its id, so that the event can still be answered: its data is None, which _guard refuses."""

    def decode(self, encoded_packet):
        try:
            return super().decode(encoded_packet)
        except (ValueError, RecursionError):
            if self.packet_type not in (packet.EVENT, packet.BINARY_EVENT):
                raise
            self.data = None
            return 0


def _event(data):
    """(event name, its arguments) of an event packet's data, checked and cleaned; or Refused."""
    if not isinstance(data, list) or not data or not isinstance(data[0], str) or not 0 < len(data[0]) <= MAX_NAME:
        raise validate.Refused(MALFORMED)
    if data[0] in RESERVED:
        raise validate.Refused(f"Unknown request {data[0]!r}: please reload the page.")
    return data[0], validate.payload(data[1:], depth=validate.MAX_DEPTH + 1)


def _guard(app, server):
    """Check every event that reaches server before any handler sees it, and give the events of
    Events.queued handlers to those handlers. Returns {namespace: {event: queued handler}}.

    python-socketio has no public way to ack an event after its handler returns, so this wraps
    Server._handle_event, the one place that has the event's ack id; every other event goes
    on as before. requirements.lock pins the python-socketio it was written for, and the
    socket tests go through every path of it.
    """
    if hasattr(server, "consult_queued"):
        return server.consult_queued
    server.consult_queued = queued = {}
    server.packet_class = Packet
    handle = server._handle_event

    def _handle_event(eio_sid, ns, id, data):
        ns = ns or "/"

        def reply(ack):
            if id is not None:
                server._send_packet(eio_sid, server.packet_class(packet.ACK, namespace=ns, id=id, data=[ack]))

        try:
            name, args = _event(data)
        except validate.Refused as error:
            sid = server.manager.sid_from_eio_sid(eio_sid, ns)
            if sid is not None and server.manager.is_connected(sid, ns):
                reply({"ok": False, "error": str(error)})
            return None
        handler = queued.get(ns, {}).get(name)
        if handler is None:
            return handle(eio_sid, ns, id, [name, *args])
        sid = server.manager.sid_from_eio_sid(eio_sid, ns)
        if sid is None or not server.manager.is_connected(sid, ns):
            return None
        try:
            handler(app, sid, args, reply)
        except Exception:
            app.logger.exception("socket event %r on %s failed", name, ns)
            reply({"ok": False, "error": FAILED})

    server._handle_event = _handle_event
    return queued
