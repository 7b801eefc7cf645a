from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import func, select

from .. import limits, services
from ..extensions import db
from ..forms import LoginForm, PasswordForm, RegisterForm
from ..models import Facilitator
from . import bp


def _safe_next():
    target = request.args.get("next", "")
    parts = urlsplit(target)
    # A control character cannot go in a Location header (a newline there was a 500), and a
    # browser drops tabs and reads "\\" as "/", so neither belongs in a path we send back.
    if any(c < " " or c in "\x7f\\" for c in target):
        return url_for("facilitator.index")
    # Only a path on this site: never bounce a facilitator to another host.
    if target.startswith("/") and not target.startswith("//") and not parts.netloc and not parts.scheme:
        return target
    return url_for("facilitator.index")


@bp.route("/login", methods=["GET", "POST"])
@limits.sign_in
def login():
    if current_user.is_authenticated:
        return redirect(url_for("facilitator.index"))
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = db.session.scalar(select(Facilitator).where(func.lower(Facilitator.email) == email))
        if user is None or not user.check_password(form.password.data):
            flash("That email and password do not match an account.", "error")
            return render_template("auth/login.html", form=form), 401
        login_user(user, remember=form.remember.data)
        return redirect(_safe_next())
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        # Everywhere, not only this browser: a cookie or remember-me token copied elsewhere stops too.
        services.sign_out(current_user._get_current_object())
    logout_user()
    flash("You are signed out.")
    return redirect(url_for("auth.login"))


@bp.route("/register", methods=["GET", "POST"])
def register():
    if not current_app.config["CONSULT_OPEN_SIGNUP"]:
        abort(404, "Sign-up is closed here: ask the person who runs consult for an account.")
    form = RegisterForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        if db.session.scalar(select(Facilitator.id).where(func.lower(Facilitator.email) == email)):
            form.email.errors.append("There is already an account with that email.")
        else:
            user, _ = services.set_password(email, form.password.data)
            login_user(user)
            return redirect(url_for("facilitator.index"))
    return render_template("auth/register.html", form=form)


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    """A new password: every other browser, remember-me token and screen of the account is signed out."""
    form = PasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        if not user.check_password(form.current.data):
            form.current.errors.append("That is not your current password.")
        else:
            remembered = bool(request.cookies.get(current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")))
            user, _ = services.set_password(user.email, form.password.data)
            login_user(user, remember=remembered)  # this browser goes on, with the account's new token
            flash("Password changed. Every other place this account was signed in is signed out.")
            return redirect(url_for("facilitator.index"))
    return render_template("auth/password.html", form=form)
