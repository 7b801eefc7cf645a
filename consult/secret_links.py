"""Pages opened by a secret link (a table's host link, a session's share link).

The link is the password. Opening it leaves its token in a cookie for that one page and moves
to an address without it, so the token stays out of the address bar, the history and any
Referer; the printed links and QR codes keep working as ways in.
"""
from flask import abort, current_app, redirect, request, url_for


def enter(cookie, token, endpoint, **values):
    """The response to opening a link: a redirect to endpoint, carrying token in cookie."""
    page = url_for(endpoint, **values)
    response = redirect(page)
    response.set_cookie(cookie, token, max_age=current_app.config["PERMANENT_SESSION_LIFETIME"], path=page,
                        httponly=True, samesite="Lax", secure=current_app.config["CONSULT_HTTPS"])
    return private(response)


def token(cookie, missing):
    """The token the link left in cookie; 404 with missing (what to do) when there is none."""
    value = request.cookies.get(cookie)
    if not value:  # never opened here, cookies refused, or expired
        abort(404, missing)
    return value


def private(response):
    # Keep the page out of caches, search engines and other sites' logs.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
