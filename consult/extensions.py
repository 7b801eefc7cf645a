"""Flask extensions, created here and initialised once in the factory.

Flask-SocketIO is not here: it keeps its server on the extension object, so the factory makes
one per app (app.extensions["socketio"]; live.hub().socketio).
"""
import flask_limiter
from flask import current_app
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


class Limiter(flask_limiter.Limiter):
    """Flask-Limiter, counting in each app's own storage (consult/limits.py makes it).

    Flask-Limiter keeps its storage on the extension object, so two apps in one process (tests,
    a CLI command beside a server) would count into whichever was set up last; and the phones'
    socket limits, which have no request to decorate, must count in the same place.
    """

    @property
    def storage(self):
        return current_app.extensions["limits"].storage

    @property
    def limiter(self):
        return current_app.extensions["limits"].strategy


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(get_remote_address)
