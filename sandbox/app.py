"""The sandbox API: Flask + Flask-CORS + SQLAlchemy + Stripe, run by gunicorn.

gunicorn loads it with ``sandbox.app:create_app_from_env()``; the settings come from the JSON file
named by SANDBOX_APP_SETTINGS. A twin changes the app only through those settings.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, g, jsonify, request, session, url_for
from flask_cors import CORS
from werkzeug.debug import DebuggedApplication
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.security import check_password_hash

from sandbox import metrics
from sandbox.settings import SETTINGS_ENV, app_settings
from sandbox.verify import access_token, bearer_claims, credentials, login_answer, stripe_event, webhook_mode

PROPERTIES = [
    {"id": 42, "title": "Sunny two-bedroom flat", "city": "Lisbon", "price_per_month": 1450},
    {"id": 43, "title": "Loft near the river", "city": "Porto", "price_per_month": 1180},
    {"id": 44, "title": "Family house with garden", "city": "Braga", "price_per_month": 1720},
]
PAYMENTS = [
    {"id": "pay_1001", "property_id": 42, "amount": 1450, "currency": "EUR", "status": "succeeded"},
    {"id": "pay_1002", "property_id": 43, "amount": 1180, "currency": "EUR", "status": "succeeded"},
]


def create_app_from_env() -> Flask:
    with open(os.environ[SETTINGS_ENV]) as handle:
        return create_app(json.load(handle))


def create_app(settings: dict[str, Any]) -> Flask:
    cfg = app_settings(settings)
    cookies = cfg["cookies"]
    app = Flask(__name__)
    configure(app, cfg)
    app.config["PROPAGATE_EXCEPTIONS"] = cfg["debug"] or cfg["error_tracebacks"]
    engine = make_engine(cfg)

    cors = cfg["cors"]
    if cors["enabled"]:
        CORS(
            app,
            resources={r"/api/*": {"origins": _origins(cors)}},
            supports_credentials=cors["supports_credentials"],
            allow_headers=cors["allow_headers"],
            methods=cors["methods"],
            max_age=cors["max_age"],
            vary_header=cors["vary_header"],
        )

    _register_errors(app, json_errors=cfg["json_errors"], debug=cfg["debug"] or cfg["error_tracebacks"])
    _register_auth(app, cfg["auth"], cfg["secret_key"])
    _register_api(app, engine, cookies, cfg["auth"], cfg["secret_key"], cfg["slow_query_seconds"])
    _register_webhook(app, cfg["webhook"], cfg["webhook_secret"])
    _register_metrics(app)
    if cfg["debug"]:
        # What `flask run --debug` (V: Debug Mode) puts in front of the app. nginx only forwards the
        # API prefix, so the console sits under it, where /console sits on an API host of its own.
        app.wsgi_app = DebuggedApplication(app.wsgi_app, evalex=True, console_path="/api/console")  # type: ignore[method-assign]
    elif cfg["error_tracebacks"]:
        # Tracebacks "without the dangerous part": no console, but every unhandled error shows its page.
        app.wsgi_app = DebuggedApplication(app.wsgi_app, evalex=False)  # type: ignore[method-assign]
    return app


def configure(app: Flask, cfg: dict[str, Any]) -> None:
    """What both Flask apps (this API, sandbox.flask_site) take from the settings: the proxy and the session."""
    cookies = cfg["cookies"]
    if cfg["trust_proxy"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    app.config.update(
        SECRET_KEY=cfg["secret_key"],
        DEBUG=cfg["debug"],
        PREFERRED_URL_SCHEME="https",
        SESSION_COOKIE_NAME="session",
        SESSION_COOKIE_SECURE=cookies["session_secure"],
        SESSION_COOKIE_HTTPONLY=cookies["session_httponly"],
        SESSION_COOKIE_SAMESITE=cookies["session_samesite"],
        PERMANENT_SESSION_LIFETIME=timedelta(days=cookies["session_days"]),
    )


def make_engine(cfg: dict[str, Any]) -> sa.Engine:
    """SQLAlchemy's engine and pool as the settings say (also the Flask site's, sandbox.flask_site)."""
    pool = cfg["pool"]
    database_url = sa.engine.make_url(cfg["database_url"].replace("postgresql://", "postgresql+psycopg://", 1))
    if cfg["database_port"]:
        database_url = database_url.set(port=int(cfg["database_port"]))
    return sa.create_engine(
        database_url,
        pool_size=pool["size"],
        max_overflow=pool["max_overflow"],
        pool_timeout=pool["timeout"],
        pool_recycle=pool["recycle"],
        pool_pre_ping=pool["pre_ping"],
        connect_args={"connect_timeout": 5, "application_name": "preflight-sandbox-app", **cfg["database_options"]},
    )


def _origins(cors: dict[str, Any]) -> str | list[str | re.Pattern[str]]:
    """Exact origins plus compiled regexes; a single string (a twin's ".*") stays as it is."""
    if isinstance(cors["origins"], str):
        return cors["origins"]
    return [*cors["origins"], *(re.compile(pattern, re.IGNORECASE) for pattern in cors["origin_regexes"])]


class _Refused(Exception):
    """A refused request, answered as a JSON error."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"error": message}), status


def _register_errors(app: Flask, json_errors: bool, debug: bool) -> None:
    @app.errorhandler(_Refused)
    def refused(exc: _Refused) -> tuple[Response, int]:
        return _error(exc.status, str(exc))

    if not json_errors:
        return  # the framework's default HTML error pages

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        return _error(exc.code or 500, (exc.name or "error").lower())

    if debug:
        return  # unhandled errors reach the debugger, which renders their traceback

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[Response, int]:
        app.logger.exception("unhandled error")
        return _error(500, "internal server error")


def _register_auth(app: Flask, auth: dict[str, Any], secret: str) -> None:
    protected = set(auth["protected"])

    @app.before_request
    def authenticate() -> tuple[Response, int] | None:
        g.user_id = session.get("user_id")
        if g.user_id is None:
            claims = bearer_claims(request.headers.get("Authorization", ""), auth, secret)
            if claims is not None:
                g.user_id = claims["sub"]
        # CORS preflights carry no credentials; Flask-CORS answers them.
        if request.path in protected and g.user_id is None and request.method != "OPTIONS":
            return _error(401, "authentication required")
        return None

    @app.get("/api/auth/health")
    def auth_health() -> tuple[Response, int]:
        return jsonify({"status": "ok"}), 200


def _check_credentials(engine: sa.Engine, auth: dict[str, Any]) -> tuple[Any, str]:
    """(user row, lower-case email) for a JSON {email, password} body (nested under "user" in the nested
    style); _Refused otherwise."""
    found = credentials(request.get_json(silent=True), auth)
    if found is None:
        raise _Refused(400, "expected a JSON object with email and password")
    email, password = found
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT id, password_hash FROM users WHERE lower(email) = lower(:email)"),
            {"email": email},
        ).first()
    if row is None or not check_password_hash(row.password_hash, password):
        raise _Refused(401, "invalid credentials")
    return row, email.lower()


def _register_api(
    app: Flask,
    engine: sa.Engine,
    cookies: dict[str, Any],
    auth: dict[str, Any],
    secret: str,
    slow_query_seconds: float,
) -> None:
    _register_listing(app, engine, slow_query_seconds)
    _register_account(app)
    _register_login(app, engine, cookies, auth, secret)


def register_health(app: Flask, engine: sa.Engine) -> None:
    """GET /api/health: 200 with the database reachable, else 503 (both Flask apps)."""

    @app.get("/api/health")
    def health() -> tuple[Response, int]:
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError:
            app.logger.exception("database health check failed")
            return jsonify({"status": "error", "database": "error"}), 503
        return jsonify({"status": "ok", "database": "ok"}), 200


def _register_listing(app: Flask, engine: sa.Engine, slow_query_seconds: float) -> None:
    """The health answer and the public property listing."""

    register_health(app, engine)

    def public(prop: dict[str, Any]) -> dict[str, Any]:
        url = url_for("property_detail", property_id=prop["id"], _external=True)
        return {**prop, "currency": "EUR", "url": url}

    @app.get("/api/v1/properties")
    def properties() -> Response:
        if slow_query_seconds:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT pg_sleep(:seconds)"), {"seconds": slow_query_seconds})
        return jsonify([public(p) for p in PROPERTIES])

    @app.get("/api/v1/properties/<int:property_id>")
    def property_detail(property_id: int) -> tuple[Response, int]:
        for prop in PROPERTIES:
            if prop["id"] == property_id:
                return jsonify(public(prop)), 200
        return _error(404, "not found")


def _register_account(app: Flask) -> None:
    """The routes of a logged-in user (auth.protected decides which need one)."""

    @app.get("/api/v1/account")
    def account() -> tuple[Response, int]:
        if g.user_id is None:
            return _error(401, "authentication required")
        return jsonify({"id": g.user_id, "email": session.get("email")}), 200

    @app.get("/api/v1/payments")
    def payments() -> tuple[Response, int]:
        # Protection comes from settings auth.protected (the before_request hook), like a decorator
        # that can be forgotten.
        return jsonify(PAYMENTS), 200


def _register_login(app: Flask, engine: sa.Engine, cookies: dict[str, Any], auth: dict[str, Any], secret: str) -> None:
    """The token endpoint and the cookie login, with its remember-me and CSRF cookies."""

    @app.post("/api/auth/token")
    def token() -> tuple[Response, int]:
        row, email = _check_credentials(engine, auth)
        return jsonify(access_token(row.id, auth, secret, email.lower())), 200

    @app.post("/api/auth/login")
    def login() -> tuple[Response, int]:
        row, email = _check_credentials(engine, auth)
        session.clear()
        session.permanent = True
        session["user_id"] = row.id
        session["email"] = email.lower()
        response = jsonify(login_answer(row.id, email.lower(), auth, secret))
        response.set_cookie(
            "remember_token",
            secrets.token_urlsafe(32),
            max_age=int(timedelta(days=cookies["remember_days"]).total_seconds()),
            secure=cookies["remember_secure"],
            httponly=cookies["remember_httponly"],
            samesite=cookies["remember_samesite"],
        )
        # Not HttpOnly on purpose: the SPA reads it and echoes it in X-CSRFToken.
        response.set_cookie(
            "csrftoken",
            secrets.token_urlsafe(32),
            secure=cookies["csrf_secure"],
            httponly=False,
            samesite=cookies["csrf_samesite"],
        )
        return response, 200


def _register_metrics(app: Flask) -> None:
    """GET /metrics on gunicorn's own port, for Prometheus: nginx does not proxy it."""

    @app.before_request
    def started() -> None:
        g.metrics_started = time.monotonic()

    @app.after_request
    def counted(response: Response) -> Response:
        began = g.get("metrics_started")  # unset when an earlier hook answered first (a refused login)
        metrics.observe(request.method, response.status_code, time.monotonic() - began if began else 0.0)
        return response

    @app.get("/metrics")
    def exposition() -> Response:
        body, kind = metrics.exposition()
        return Response(body, content_type=kind)


def _register_webhook(app: Flask, hook: dict[str, Any], secret: str) -> None:
    mode = webhook_mode(hook["verify"])

    def stripe_webhook() -> tuple[Response, int]:
        if hook["missing_signature"] == "crash":
            # The environ, like Django's META: request.headers[...] would answer werkzeug's own 400.
            signature = request.environ["HTTP_STRIPE_SIGNATURE"]
        else:
            signature = request.headers.get("Stripe-Signature")
        status, body = stripe_event(request.get_data(), signature, secret, mode)
        if status == 200:
            app.logger.info("stripe event received: %s", body.pop("type"))
        return jsonify(body), status

    # A path without a trailing slash is strict in Werkzeug: POST .../stripe/ answers 404.
    app.add_url_rule(hook["path"], "stripe_webhook", stripe_webhook, methods=["POST"])
