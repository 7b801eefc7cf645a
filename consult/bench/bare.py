"""The stack's ceiling: Flask-SocketIO with no database and no application logic.

Run by `consult bench` as `python -m consult.bench.bare PORT ASYNC_MODE`; it speaks the same
events as consult's phone namespace so the same load generator drives both.
"""
import sys


def main():
    port, mode = int(sys.argv[1]), sys.argv[2]
    from consult.server import patch

    patch(mode)
    from flask import Flask
    from flask_socketio import SocketIO

    app = Flask(__name__)
    socketio = SocketIO(app, async_mode=mode)

    @app.route("/")
    def index():
        return "bare"

    @socketio.on("connect", namespace="/phone")
    def connect(auth):
        return True

    @socketio.on("vote", namespace="/phone")
    def vote(data):
        return {"ok": True}

    from consult.server import tune_gc

    tune_gc()  # as consult serve does: the ceiling is the same stack, tuned the same way
    options = {"log_output": False}
    if mode == "eventlet":
        options["max_size"] = 100000
    socketio.run(app, host="127.0.0.1", port=port, **options)


if __name__ == "__main__":
    main()
