"""Heavy or blocking work kept off the event loop, so every phone's socket keeps being served.

Under eventlet or gevent the whole server is one OS thread: a call that computes for seconds,
or waits in C (a password hash, SQLite), stalls every socket meanwhile. Two ways out:

- run(fn, ...): in an OS thread, the calling greenlet waiting cooperatively. For work that
  lets go of Python's lock while it runs (hashlib's scrypt and PBKDF2, file and database I/O).
- in_child("module:function", ...): in a child process with its own database connection. For
  pure-Python computing (building a Word or Excel file of 50,000 notes), which in a thread
  would still hold Python's lock away from the event loop; the child gets a core of its own.

Under the threading mode (tests, `flask run`) both are plain calls.
"""
import importlib
import os
import subprocess
import sys
import tempfile

from flask import abort, current_app, has_app_context

CHILD_TIMEOUT = 600  # seconds: a write-up of a huge café, on a slow laptop
NICE = 10  # offloaded work runs at a lower priority than the server: phones first


def _mode():
    """The app's async mode, if this process is really patched for it (a CLI command is not)."""
    socketio = current_app.extensions.get("socketio") if has_app_context() else None
    mode = getattr(socketio, "async_mode", "threading")
    if mode == "eventlet":
        from eventlet.patcher import is_monkey_patched

        return mode if is_monkey_patched("socket") else "threading"
    if mode == "gevent":
        from gevent.monkey import is_module_patched

        return mode if is_module_patched("socket") else "threading"
    return mode


def run(fn, *args, lane=None, **kwargs):
    """fn(*args, **kwargs) in an OS thread; returns its result or raises its exception.

    lane: a name; calls in one lane run one at a time (the others wait cooperatively). For
    work that takes a whole core, such as password hashing: forty sign-ins at once would
    otherwise take every core from the server for as long as they last.
    """
    mode = _mode()
    if mode == "threading":
        return fn(*args, **kwargs)
    if lane is None:
        return _thread(mode, fn, args, kwargs)
    lanes = current_app.extensions.setdefault("offload_lanes", {})
    if lane not in lanes:
        import threading  # patched by now: a green semaphore, which waits without blocking the server

        lanes[lane] = threading.Semaphore()
    with lanes[lane]:
        return _thread(mode, fn, args, kwargs)


def _thread(mode, fn, args, kwargs):
    if mode == "eventlet":
        from eventlet import tpool

        return tpool.execute(_lowly, fn, args, kwargs)
    import gevent

    return gevent.get_hub().threadpool.apply(_lowly, (fn, args, kwargs))


def _lowly(fn, args, kwargs):
    # Linux gives each thread its own niceness (0: this thread only): the pool's threads, which
    # only ever do this work, yield the CPU to the server's own thread, where phones are served.
    try:
        os.setpriority(os.PRIO_PROCESS, 0, NICE)
    except (AttributeError, OSError):  # not Linux: plain priority
        pass
    return fn(*args, **kwargs)


def _function(name):
    module, _, attr = name.partition(":")
    return getattr(importlib.import_module(module), attr)


def in_child(name, *args):
    """The result (str or bytes) of the function "module:function" called with args (strings) in
    this app's context, computed in a child process; aborts with 500 (logged) if the child fails."""
    args = [str(a) for a in args]
    if _mode() == "threading":
        return _function(name)(*args)
    return child(name, *args)


def child(name, *args):
    """in_child() in a child process whatever the async mode."""
    args = [str(a) for a in args]
    app = current_app._get_current_object()
    env = {**os.environ, "CONSULT_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "CONSULT_INSTANCE_PATH": app.instance_path, "CONSULT_ASYNC_MODE": "threading", "CONSULT_MESSAGE_QUEUE": ""}
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "out")
        done = subprocess.run([sys.executable, "-m", "consult.offload", path, name, *args],
                              env=env, capture_output=True, timeout=CHILD_TIMEOUT)
        if done.returncode != 0:
            app.logger.error("%s%r failed in a child process: %s", name, tuple(args),
                             done.stderr.decode(errors="replace")[-2000:])
            abort(500)
        with open(path, "rb") as f:
            body = f.read()
    return body[1:] if body[:1] == b"b" else body[1:].decode("utf-8")


def _child(path, name, *args):
    os.nice(NICE)
    from .app import create_app

    app = create_app()
    with app.app_context():
        body = _function(name)(*args)
    with open(path, "wb") as f:
        f.write(b"b" + body if isinstance(body, bytes) else b"s" + body.encode("utf-8"))


if __name__ == "__main__":
    _child(*sys.argv[1:])
