"""Flask extensions, created here and initialised once in the factory.

Flask-SocketIO is not here: it keeps its server on the extension object, so the factory makes
one per app (app.extensions["socketio"]; live.hub().socketio).
"""
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login = LoginManager()
csrf = CSRFProtect()
