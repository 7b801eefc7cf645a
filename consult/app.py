"""The application factory."""
import os

from flask import Flask, render_template

from . import config
from .extensions import csrf, db, login, migrate, socketio

MIGRATIONS = os.path.join(os.path.dirname(__file__), "migrations")


def create_app(overrides=None):
    app = Flask(__name__, instance_path=config.instance_path(), instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    config.load(app, overrides)

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS, render_as_batch=True)
    csrf.init_app(app)
    login.init_app(app)
    login.login_view = "auth.login"
    login.login_message = "Sign in to run your café sessions."
    socketio.init_app(
        app,
        async_mode=app.config["CONSULT_ASYNC_MODE"],
        message_queue=app.config["CONSULT_MESSAGE_QUEUE"],
        # Same-origin only: a page elsewhere must not drive a facilitator's signed-in socket.
        cors_allowed_origins=None,
        # Phones on weak wifi: notice a dead connection within a minute, not sooner.
        ping_interval=25,
        ping_timeout=30,
    )

    from . import models

    @login.user_loader
    def load_user(user_id):
        return db.session.get(models.Facilitator, int(user_id)) if user_id.isdigit() else None

    from .auth import bp as auth_bp
    from .facilitator import bp as facilitator_bp
    from .participant import bp as participant_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(facilitator_bp)
    app.register_blueprint(participant_bp)

    from .cli import register

    register(app)

    for code, title in ((400, "Bad request"), (403, "Not yours"), (404, "Not found"), (405, "Not allowed")):
        app.register_error_handler(code, _error_page(code, title))
    return app


def _error_page(code, title):
    def handler(error):
        return render_template("error.html", code=code, title=title, message=getattr(error, "description", "")), code

    return handler
