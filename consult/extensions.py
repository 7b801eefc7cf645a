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
from flask_talisman import Talisman
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


# The write-up as a web page: a standalone document with its own <style> (given a nonce) and
# its pictures inline (data: URLs), and no script at all.
REPORT_CSP = {
    "default-src": "'none'",
    "style-src": "",  # the nonce only
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'none'",
    "frame-ancestors": "'none'",
}
CSP = {
    "default-src": "'self'",
    "img-src": "'self' blob:",  # blob: a picture chosen in the question form, shown before upload
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
# Pages that may be framed when CONSULT_FRAME_ANCESTORS says by whom: the projector only.
FRAMEABLE = {"facilitator.projector"}


class Headers:
    """Security headers by Flask-Talisman: a strict CSP, nosniff, no framing, Referrer-Policy,
    and with CONSULT_HTTPS HSTS, Secure cookies and http:// redirected to https://.

    Talisman keeps its options and its app on itself, so each app gets its own (tests and the
    CLI make several apps in one process).
    """

    def init_app(self, app):
        https = bool(app.config["CONSULT_HTTPS"])
        app.extensions["talisman"] = _Talisman(
            app,
            force_https=https,  # plain HTTP on a venue LAN is the default: never redirect it
            strict_transport_security=https,
            session_cookie_secure=https,
            content_security_policy=CSP,
            content_security_policy_nonce_in=["style-src"],
            frame_options="DENY",
            # Not no-referrer: Flask-WTF checks the Referer of a form posted over HTTPS. Pages
            # behind a secret link send none at all (they set no-referrer themselves).
            referrer_policy="same-origin",
            permissions_policy={"browsing-topics": "()", "camera": "()", "microphone": "()", "geolocation": "()"},
        )
        app.jinja_env.globals["style_nonce"] = _style_nonce


def as_report():
    """This response is the write-up (a page or a download): it gets REPORT_CSP. Error pages of
    the same routes keep the usual policy, which lets them load the site's stylesheet."""
    from flask import g

    g.consult_report = True


def _style_nonce():
    """The nonce of the write-up's <style>: the request's, or the one a child process was given
    (offload.in_child); "" for the CLI's export."""
    from flask import g, has_app_context, has_request_context, request

    if has_app_context() and g.get("style_nonce"):
        return g.style_nonce
    return getattr(request, "csp_nonce", "") if has_request_context() else ""


class _Talisman(Talisman):
    def _get_local_options(self):
        from flask import current_app, g, request

        options = super()._get_local_options()
        if g.get("consult_report"):
            options["content_security_policy"] = REPORT_CSP
            return options
        csp = dict(CSP)
        # 'self' covers ws:/wss: to this host in today's browsers; older Safari wants them named.
        host = request.host
        if host and all(c.isalnum() or c in ".-:[]" for c in host):
            csp["connect-src"] = f"'self' ws://{host} wss://{host}"
        framers = current_app.config.get("CONSULT_FRAME_ANCESTORS")
        if framers and request.endpoint in FRAMEABLE:
            csp["frame-ancestors"] = framers
            options["frame_options"] = None  # X-Frame-Options cannot name other sites; the CSP rules
        options["content_security_policy"] = csp
        return options

    def _set_referrer_policy_headers(self, headers):
        # A page behind a secret link sets no-referrer itself: keep it.
        headers.setdefault("Referrer-Policy", self.referrer_policy)


headers = Headers()


limiter = Limiter(get_remote_address)
