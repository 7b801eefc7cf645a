"""The server entry point: the one module that knows eventlet and gevent.

The rest of consult only names an async mode; this module patches the standard
library for it (before Flask is imported) and runs the server.
"""
import os
import warnings


def patch(async_mode):
    if async_mode == "eventlet":
        with warnings.catch_warnings():
            # Known and documented: eventlet is deprecated, and gevent is the way off it.
            warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
            import eventlet

        eventlet.monkey_patch()
    elif async_mode == "gevent":
        from gevent import monkey

        monkey.patch_all()


def run(app, host, port):
    from .extensions import socketio

    options = {"log_output": bool(os.environ.get("CONSULT_ACCESS_LOG"))}
    if socketio.async_mode == "eventlet":
        # eventlet's WSGI server caps open connections at 1024 by default; a room holds more phones.
        options["max_size"] = app.config["CONSULT_MAX_CONNECTIONS"]
    elif socketio.async_mode == "threading":
        options["allow_unsafe_werkzeug"] = True
    socketio.run(app, host=host, port=port, **options)
