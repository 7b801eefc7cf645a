"""A long-lived random id per browser, in a cookie: which device is this.

nginx hashes on it to keep every request of one phone on one server process (Socket.IO's
long-polling needs that, and a whole venue behind one NAT shares one address, so the address
cannot be the key). It is set on the first page a device loads, before that page's socket
connects. Not a secret and not proof of anything: a device can drop or change it at will.
"""
import re
import secrets

from flask import g, request

COOKIE = "consult_device"  # nginx.conf reads it as $cookie_consult_device
MAX_AGE = 400 * 24 * 3600  # the longest browsers keep a cookie
VALID = re.compile(r"^[A-Za-z0-9_-]{22}$")  # what new_id makes


def new_id():
    return secrets.token_urlsafe(16)


def current():
    """The device id this request carries, or None (a first visit, cookies refused, or mangled)."""
    if "device" not in g:
        sent = request.cookies.get(COOKIE, "")
        g.device = sent if VALID.match(sent) else None
    return g.device


def _set_cookie(response):
    # Pages only: a fresh browser fetches a page first, and its scripts, pictures and socket
    # then carry the cookie. Setting it on those too would hand parallel requests rival ids.
    if response.mimetype != "text/html" or current() is not None:
        return response
    g.device = new_id()
    response.set_cookie(COOKIE, g.device, max_age=MAX_AGE, httponly=True, samesite="Lax", secure=request.is_secure)
    return response


def init_app(app):
    app.after_request(_set_cookie)
