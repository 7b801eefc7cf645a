"""Socket.IO handlers declared beside a blueprint's routes, and given to each app's own server.

Flask-SocketIO keeps its server on the SocketIO object, so one object shared by two apps (tests,
a CLI command beside a server) would push the first app's news through the second's sockets.
Each app makes its own SocketIO in the factory; handlers are declared here at import, as a
blueprint declares routes, and attached to every app's server by init_app.
"""
from socketio import packet

from .rules import FAILED


class Events:
    """The socket handlers of one namespace (the phones', the hosts' or the screens')."""

    def __init__(self, namespace):
        self.namespace = namespace
        self.handlers = []
        self.queued_handlers = {}

    def on(self, event):
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
        for event, handler in self.handlers:
            socketio.on_event(event, handler, namespace=self.namespace)
        if self.queued_handlers:
            _answer_later(app, socketio.server, self.namespace, self.queued_handlers)


def _answer_later(app, server, namespace, handlers):
    """Give these events of namespace to their handlers as they arrive, and send each ack later.

    python-socketio has no public way to ack an event after its handler returns, so this wraps
    Server._handle_event, the one place that has the event's ack id; every other event goes
    on as before. requirements.lock pins the python-socketio it was written for, and the
    socket tests go through every path of it.
    """
    handle = server._handle_event

    def _handle_event(eio_sid, ns, id, data):
        ns = ns or "/"
        name = data[0] if ns == namespace and data and isinstance(data[0], str) else None
        handler = handlers.get(name)
        if handler is None:
            return handle(eio_sid, ns, id, data)
        sid = server.manager.sid_from_eio_sid(eio_sid, ns)
        if sid is None or not server.manager.is_connected(sid, ns):
            return None

        def reply(ack):
            if id is not None:
                server._send_packet(eio_sid, server.packet_class(packet.ACK, namespace=ns, id=id, data=[ack]))

        try:
            handler(app, sid, data[1:], reply)
        except Exception:
            app.logger.exception("socket event %r on %s failed", name, ns)
            reply({"ok": False, "error": FAILED})

    server._handle_event = _handle_event
