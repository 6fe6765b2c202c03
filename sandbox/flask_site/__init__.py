"""The sandbox's login-gated Flask site (Verso's web app): Flask-Login with an HTML form login, Flask-WTF CSRF
(the token lives in Flask's signed `session` cookie), server-rendered pages that each load the bundled front
end (sandbox.sites: hashed files under /static/dist/, an unhashed /static/css/style.css), and a same-origin
JSON API under the same login. sandbox/API.md, "The sites", says what it answers.

gunicorn loads it with ``sandbox.flask_site:create_app_from_env()``; the settings come from the JSON file
named by SANDBOX_APP_SETTINGS, as for the other apps.
"""

from __future__ import annotations

import json
import math
import os
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Flask, Response, jsonify, redirect, render_template, request, url_for
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf import CSRFProtect, FlaskForm
from werkzeug.exceptions import HTTPException
from werkzeug.security import check_password_hash
from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired

from sandbox.app import configure, make_engine, register_health
from sandbox.settings import SETTINGS_ENV, app_settings
from sandbox.sites import MANIFEST

# path -> (endpoint, title): the pages behind the login.
PAGES = {"/dashboard": ("dashboard", "Dashboard"), "/properties": ("properties", "Your properties"),
         "/account": ("account", "Your account")}  # fmt: skip
# What the login-gated HTML must not be kept as: a shared cache or the back button would show it.
NO_STORE = "max-age=0, no-cache, no-store, must-revalidate, private"


class User(UserMixin):
    def __init__(self, user_id: int, email: str) -> None:
        self.id = user_id
        self.email = email


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])
    remember = BooleanField("Keep me logged in")


def create_app_from_env() -> Flask:
    with open(os.environ[SETTINGS_ENV]) as handle:
        return create_app(json.load(handle))


def create_app(settings: dict[str, Any]) -> Flask:
    cfg = app_settings(settings)
    cookies = cfg["cookies"]
    app = Flask(__name__)
    configure(app, cfg)  # ProxyFix (trust_proxy) and the session cookie, as for the API
    app.config.update(
        REMEMBER_COOKIE_DURATION=timedelta(days=cookies["remember_days"]),
        REMEMBER_COOKIE_SECURE=cookies["remember_secure"],
        REMEMBER_COOKIE_HTTPONLY=cookies["remember_httponly"],
        REMEMBER_COOKIE_SAMESITE=cookies["remember_samesite"],
    )
    CSRFProtect(app)
    engine = make_engine(cfg)
    assets = _assets(Path(cfg["static_root"] or "."))
    app.jinja_env.globals["asset"] = lambda name: "/static/" + assets[name]
    _register_login(app, engine)
    _register_pages(app, cfg["site"]["unprotected"])
    _register_api(app, engine, cfg["site"]["page_size"])
    _register_errors(app)
    return app


def _assets(static_root: Path) -> dict[str, str]:
    """The bundler's manifest: app.js -> dist/app.<hash>.js, style.css -> css/style.css."""
    with open(static_root / "dist" / MANIFEST) as handle:
        manifest: dict[str, str] = json.load(handle)
    return manifest


def _register_login(app: Flask, engine: sa.Engine) -> None:
    manager = LoginManager(app)
    manager.login_view = "login"

    @manager.user_loader
    def load_user(user_id: str) -> User | None:
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT id, email FROM users WHERE id = :id"), {"id": int(user_id)}).first()
        return None if row is None else User(row.id, row.email)

    @manager.unauthorized_handler
    def unauthorized() -> Response | tuple[Response, int]:
        if request.path.startswith("/api/"):
            return jsonify({"error": "authentication required"}), 401
        return redirect(url_for("login", next=request.full_path.rstrip("?")))

    @app.route("/login", methods=["GET", "POST"])
    def login() -> str | Response:
        form = LoginForm()
        failed = False
        if form.validate_on_submit():
            user = _check_password(engine, form.email.data or "", form.password.data or "")
            if user is not None:
                login_user(user, remember=bool(form.remember.data))
                return redirect(_safe_next(request.args.get("next")))
            failed = True
        return render_template("login.html", title="Log in", form=form, failed=failed or bool(form.errors))

    @app.post("/logout")
    def logout() -> Response:
        logout_user()
        return redirect(url_for("home"))


def _check_password(engine: sa.Engine, email: str, password: str) -> User | None:
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT id, email, password_hash FROM users WHERE lower(email) = lower(:email)"), {"email": email}
        ).first()
    if row is None or not check_password_hash(row.password_hash, password):
        return None
    return User(row.id, row.email)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: `next=https://evil.example` would make the login an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("dashboard")


def _register_pages(app: Flask, unprotected: list[str]) -> None:
    @app.get("/")
    def home() -> str:
        return render_template("home.html", title="Find your next home")

    for path, (endpoint, title) in PAGES.items():

        def page(title: str = title, endpoint: str = endpoint) -> str:
            return render_template(f"{endpoint}.html", title=title)

        # A page in `unprotected` is one whose @login_required was forgotten.
        app.add_url_rule(path, endpoint, page if path in unprotected else login_required(page))

    @app.after_request
    def html_not_cached(response: Response) -> Response:
        if response.mimetype == "text/html" and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = NO_STORE
        return response


def _register_api(app: Flask, engine: sa.Engine, page_size: int) -> None:
    """The same-origin API: /api/health is public, the rest needs the session's user."""

    register_health(app, engine)

    @app.get("/api/v1/properties")
    @login_required
    def api_properties() -> Response:
        page = request.args.get("page", 1, type=int) or 1
        with engine.connect() as conn:
            total = conn.execute(sa.text("SELECT count(*) FROM properties")).scalar_one()
            rows = conn.execute(
                sa.text("SELECT id, title, city, price_per_month FROM properties ORDER BY id LIMIT :n OFFSET :skip"),
                {"n": page_size, "skip": (page - 1) * page_size},
            ).mappings()
            items = [{**dict(row), "price_per_month": int(row["price_per_month"])} for row in rows]
        pages = max(1, math.ceil(total / page_size))

        def link(n: int) -> str | None:
            # Absolute, built from the request: behind nginx, https only when X-Forwarded-Proto is trusted.
            return url_for("api_properties", page=n, _external=True) if 1 <= n <= pages else None

        return jsonify({"items": items, "page": page, "pages": pages, "count": total,
                        "next": link(page + 1), "prev": link(page - 1)})  # fmt: skip

    @app.get("/api/v1/account")
    @login_required
    def api_account() -> Response:
        return jsonify({"id": current_user.id, "email": current_user.email})


def _register_errors(app: Flask) -> None:
    """JSON errors under /api/, the site's own HTML page elsewhere; never a traceback."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response | str, int]:
        status = exc.code or 500
        if request.path.startswith("/api/"):
            return jsonify({"error": (exc.name or "error").lower()}), status
        return render_template("error.html", status=status, name=exc.name, title=exc.name), status

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[Response | str, int]:
        app.logger.exception("unhandled error")
        if request.path.startswith("/api/"):
            return jsonify({"error": "internal server error"}), 500
        return render_template("error.html", status=500, name="Server error", title="Server error"), 500
