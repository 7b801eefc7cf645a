"""consult: live consultation events for strategy cafés."""


def create_app(config=None):
    """Application factory (see consult.app).

    The factory lives in its own module so that ``consult serve`` can
    monkey-patch eventlet or gevent before Flask, SQLAlchemy and their locks
    are first imported.
    """
    from .app import create_app as factory

    return factory(config)
