"""The server entry point: the one module that knows eventlet and gevent.

The rest of consult only names an async mode; this module patches the standard
library for it (before Flask is imported) and runs the server.
"""
import gc
import os
import warnings


def patch(async_mode):
    if async_mode == "eventlet":
        # psycopg 3 waits for PostgreSQL in C, which eventlet cannot patch (it sees gevent's
        # patching, not eventlet's): wait in select(), which eventlet makes cooperative. 10
        # queries of 0.5 s at once took 5 s, now 0.5 s. psycopg reads this when first imported.
        os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")
        with warnings.catch_warnings():
            # Known and documented: eventlet is deprecated, and gevent is the way off it.
            warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
            import eventlet

        eventlet.monkey_patch()
    elif async_mode == "gevent":
        from gevent import monkey

        monkey.patch_all()


def tune_gc():
    """Full garbage collections rare, and never over what start-up made.

    Each connected phone keeps some hundreds of objects alive (its greenlet, socket, queues),
    and Python's full collection walks every one of them: with 2,000 phones one took 200-400 ms,
    several times a burst, and stalled every phone meanwhile. Frozen start-up objects are never
    walked again; a full collection now comes after about 40 million allocations rather than
    every few hundred thousand, while young garbage is still collected as often as it was.
    With 2,000 phones voting at once the server's CPU for the burst went from 1.0-1.2 s to
    about 0.5 s (consult bench).
    """
    gc.freeze()
    gc.set_threshold(2000, 20, 1000)


class PortBusy(OSError):
    pass


def check_port(host, port):
    """Refuse a port another server already listens on, before starting.

    eventlet listens with SO_REUSEPORT, so a second `consult serve` on the same port started
    without a word and the kernel shared the connections between the two: phones saw two
    servers with different state. A probe bound without SO_REUSEPORT fails on a port in use.
    """
    import socket

    for family, kind, proto, _, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        with socket.socket(family, kind, proto) as probe:
            # Only SO_REUSEADDR: a port left in TIME_WAIT by a server just stopped is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as error:
                raise PortBusy(error.errno, f"port {port} on {host} is already in use ({error.strerror}): "
                                            "is consult already running? Stop it, or choose another --port.")
        return


def run(app, host, port):
    socketio = app.extensions["socketio"]
    tune_gc()
    options = {"log_output": bool(os.environ.get("CONSULT_ACCESS_LOG"))}
    if socketio.async_mode == "eventlet":
        # eventlet's WSGI server caps open connections at 1024 by default; a room holds more phones.
        options["max_size"] = app.config["CONSULT_MAX_CONNECTIONS"]
        _interrupt_eventlet_main_on_sigint()
    elif socketio.async_mode == "gevent":
        _stop_gevent_on_sigint(socketio)
    elif socketio.async_mode == "threading":
        options["allow_unsafe_werkzeug"] = True
    socketio.run(app, host=host, port=port, **options)


def _interrupt_eventlet_main_on_sigint():
    """Ctrl+C stops eventlet's server even when it lands while a request or socket event runs.

    Python raises KeyboardInterrupt in whichever greenthread happens to run: raised in a
    handler, it is logged and swallowed (or ends just that connection) and the server
    serves on. Deliver it to the main greenlet, where eventlet's server loop stops on it.
    """
    import signal

    import greenlet
    from eventlet import hubs

    main = greenlet.getcurrent()

    def interrupt(signum, frame):
        hub = hubs.get_hub()
        current = greenlet.getcurrent()
        if current is main or current is hub.greenlet:
            raise KeyboardInterrupt  # reaches the main greenlet as usual
        hub.schedule_call_global(0, main.throw, KeyboardInterrupt())

    signal.signal(signal.SIGINT, interrupt)


def _stop_gevent_on_sigint(socketio):
    """Ctrl+C stops gevent's server cleanly, as it does eventlet's.

    Left to Python, SIGINT raises KeyboardInterrupt in whichever greenlet happens to run,
    often a phone's connection: the hub prints its traceback and the command ends "Aborted!".
    """
    import signal

    import gevent

    main = gevent.get_hub().parent

    def stop():
        server = getattr(socketio, "wsgi_server", None)
        if server is None:  # not serving yet: interrupt startup as usual
            main.throw(KeyboardInterrupt)
        else:
            server.stop(timeout=1)

    gevent.signal_handler(signal.SIGINT, stop)
