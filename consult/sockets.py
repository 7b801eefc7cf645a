"""Socket.IO handlers declared beside a blueprint's routes, and given to each app's own server.

Flask-SocketIO keeps its server on the SocketIO object, so one object shared by two apps (tests,
a CLI command beside a server) would push the first app's news through the second's sockets.
Each app makes its own SocketIO in the factory; handlers are declared here at import, as a
blueprint declares routes, and attached to every app's server by init_app.
"""


class Events:
    """The socket handlers of one namespace (the phones', the hosts' or the screens')."""

    def __init__(self, namespace):
        self.namespace = namespace
        self.handlers = []

    def on(self, event):
        def register(handler):
            self.handlers.append((event, handler))
            return handler

        return register

    def init_app(self, socketio):
        for event, handler in self.handlers:
            socketio.on_event(event, handler, namespace=self.namespace)
