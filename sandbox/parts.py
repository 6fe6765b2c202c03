"""What a twin can override, part by part: typed models whose defaults are the good stack.

Standard library and pydantic only: declaring a twin (sandbox.twins) and reading the app settings
(sandbox.settings) import nothing of the parts that run. Each model forbids unknown keys and checks
types strictly, so a mistyped knob fails where the twin is declared, not when the stack starts.
A twin's override is what it sets (`Part.overrides`); the rest keeps the defaults below.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self' https://*.preflight.test:*; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# The chain nginx presents: the good one, or another of the same CA (sandbox.tls.VARIANTS).
Certificate = Literal["good", "expired", "expiring", "other-name", "intermediate-expired"]
SameSite = Literal["Lax", "Strict", "None"]


class Part(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    def overrides(self) -> dict[str, Any]:
        """What was set, nested groups included (by the names a twin writes)."""
        return self.model_dump(exclude_unset=True, by_alias=True)

    @property
    def declared(self) -> bool:
        """Whether anything was set, even to its default: the twin declares this part."""
        return bool(self.model_fields_set)


# --- nginx (rendered by sandbox/nginx.py from templates/) ------------------------------------


class NginxKnobs(Part):
    # spa: `location /` serves the shell (try_files ... /index.html); server: it proxies to the app,
    # which renders each page (sandbox.plan.SHAPE_NGINX sets it for the site frameworks).
    site: Literal["spa", "server"] = "spa"
    build: Literal["prod", "dev", "broken"] = "prod"  # dev: the development build, source map included
    mime_types: bool = True  # include /etc/nginx/mime.types
    gzip: bool = True
    gzip_types: bool = True  # False: `gzip on` alone, which compresses text/html only
    spa_fallback: bool = True  # location / ends its try_files with /index.html (else =404)
    assets_fallback: bool = False  # /static/ falls back to /index.html (else =404)
    shell_cache_control: str | None = "no-cache"
    shell_expires: str | None = None
    assets_expires: str = "30d"
    assets_cache_control: str | None = "public, immutable"  # with `expires 30d`: max-age=2592000
    # server sites: files under /static/ without a content hash in their name (style.css) are
    # revalidated (nginx's ETag and Last-Modified) and kept this long; the hashed ones get the above.
    unhashed_assets_expires: str = "1h"
    api_locations: list[str] = Field(default_factory=lambda: ["/api/"])
    webhooks: bool = True  # a /webhooks/ location proxied to the app
    cors: Literal["wildcard-credentials", "preflight-only"] | None = None  # None: the app's own CORS
    http_redirect: bool = True  # the plain-HTTP server redirects (else it serves the site)
    # The API base URL nginx writes into the shell's runtime config (sub_filter; nginx variables
    # allowed): the SPA on https://app.preflight.test calls the API cross-origin, as in VeriHome.
    # None leaves the built value, the relative /api.
    spa_api_url: str | None = "https://api.preflight.test:$server_port/api"
    # limit_req (H: DDoS Attacks): zones defined at http level, generous enough for the suite's own traffic.
    api_rate: str = "30r/s"
    api_burst: int = 60
    limit_api: bool = True  # limit_req zone=api on the API locations
    login_rate: str = "2r/s"
    login_burst: int = 10
    login_locations: list[str] = Field(default_factory=lambda: ["= /api/auth/login", "= /api/auth/token"])
    limit_login: bool = True  # limit_req zone=login on the login locations
    static_headers_include: bool = True  # /static/ repeats the security headers next to its own add_header
    files_location: str | None = None  # e.g. "/files/": a location with `alias <root>/files/`
    unapplied_edit: bool = False  # after start, nginx.conf on disk gets an edit that was never tested or loaded
    # TLS and redirects (TLS checks)
    certificate: Certificate = "good"
    ssl_protocols: str = "TLSv1.2 TLSv1.3"
    ssl_ciphers: str | None = None  # e.g. "DEFAULT:@SECLEVEL=0", which OpenSSL 3 needs to negotiate TLS 1.0/1.1
    force_https_unless_forwarded: bool = False  # location / redirects unless X-Forwarded-Proto is https
    forwarded_proto: bool = True  # proxy_set_header X-Forwarded-Proto $scheme
    # Security headers (security-headers.conf; None leaves a header out)
    server_tokens: bool = False
    hsts: str | None = "max-age=31536000; includeSubDomains"
    nosniff: bool = True
    frame_options: str | None = "DENY"
    referrer_policy: str | None = "strict-origin-when-cross-origin"
    csp: str | None = CSP
    # Exposure (APP checks)
    deny_dotfiles: bool = True  # dotfiles (.env, .git) answer 403
    leftovers: bool = False  # a web root with a deploy's leftovers: .env, .git/config, index.html.bak, dump.sql
    stub_status: bool = False  # a public location /nginx_status with stub_status
    clock_offset: str | None = None  # run nginx under libfaketime with this FAKETIME offset (e.g. "-5m")
    # The MTA-STS policy of the mail domain, served at /.well-known/mta-sts.txt (the certificate names
    # mta-sts.<domain>), in this mode; None: not served (404).
    mta_sts_mode: Literal["enforce", "testing", "none"] | None = "enforce"


# --- the API (sandbox.app, sandbox.django_api; read through sandbox.settings) ----------------


class PoolSettings(Part):
    size: int = 5
    max_overflow: int = 5
    timeout: int = 10
    recycle: int | None = 1800  # None: Django's CONN_MAX_AGE = None, connections kept forever
    pre_ping: bool = True


class CorsSettings(Part):
    enabled: bool = True
    # Two origins, as in the VeriHome guide; it also makes Flask-CORS send Vary: Origin. One string
    # (a twin's ".*") is a pattern used alone.
    origins: str | list[str] = Field(
        default_factory=lambda: ["https://app.preflight.test", "https://www.preflight.test"]
    )
    # Anchored regexes, also allowed (django-cors-headers CORS_ALLOWED_ORIGIN_REGEXES). A browser's
    # Origin carries a non-default port, and the sandbox serves the SPA on a random one (UI-01).
    origin_regexes: list[str] = Field(default_factory=lambda: [r"^https://app\.preflight\.test:\d+$"])
    supports_credentials: bool = True
    allow_headers: list[str] = Field(default_factory=lambda: ["authorization", "content-type", "x-csrftoken"])
    methods: list[str] = Field(default_factory=lambda: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
    max_age: int = 600
    vary_header: bool = True


class CookieSettings(Part):
    session_secure: bool = True
    session_httponly: bool = True
    session_samesite: SameSite | None = "Lax"
    session_days: int = 7
    remember_secure: bool = True
    remember_httponly: bool = True
    remember_samesite: SameSite | None = "Lax"
    remember_days: int = 30
    csrf_secure: bool = True
    csrf_samesite: SameSite | None = "Lax"


class WebhookSettings(Part):
    path: str = "/webhooks/stripe/"
    # signature: stripe.Webhook.construct_event; no-tolerance: HMAC checked, timestamp not.
    verify: Literal["signature", "none", "header-presence", "no-tolerance"] = "signature"
    # environment: the endpoint secret the environment declares; stale: another whsec_.
    secret: Literal["environment", "stale"] = "environment"
    # Django: the view is @csrf_exempt (Stripe sends no CSRF token). Flask has no CSRF protection
    # in front of its views, so there it changes nothing.
    csrf_exempt: bool = True
    # crash: the view reads Stripe-Signature with a lookup that raises KeyError when it is missing
    # (Django's request.META["HTTP_STRIPE_SIGNATURE"], as tutorials write it) and does not catch it.
    missing_signature: Literal["rejected", "crash"] = "rejected"


class AuthSettings(Part):
    access_minutes: int = 15  # lifetime of the access JWT issued by POST /api/auth/token (exp - iat)
    algorithms: list[str] = Field(default_factory=lambda: ["HS256"])  # "none" accepts unsigned tokens
    verify_signature: bool = True
    verify_exp: bool = True
    # Routes that answer 401 without the session cookie or a valid Bearer JWT.
    protected: list[str] = Field(default_factory=lambda: ["/api/v1/account", "/api/v1/payments"])
    # flat: {email, password} in, {"access": <JWT>} out (Simple JWT). nested: the RealWorld API spec's
    # {"user": {email, password}} in, {"user": {email, token}} out, from the login and the token endpoint.
    style: Literal["flat", "nested"] = "flat"
    scheme: str = "Bearer"  # the Authorization scheme the API reads the JWT under (RealWorld: Token)


class SiteSettings(Part):
    """The server-rendered sites (sandbox.django_site, sandbox.flask_site)."""

    # Login-gated pages that forgot their login check (@login_required): served to anyone.
    unprotected: list[str] = Field(default_factory=list)
    page_size: int = 2  # the flask-site API's paginated listing


class AppSettings(Part):
    # Written by the stack into every settings file, never by a twin.
    secret_key: str | None = None
    database_url: str | None = None
    webhook_secret: str | None = None
    static_root: str | None = None  # the sites' collected or built static files (nginx serves them)
    pool: PoolSettings = Field(default_factory=PoolSettings)
    cors: CorsSettings = Field(default_factory=CorsSettings)
    cookies: CookieSettings = Field(default_factory=CookieSettings)
    # Behind nginx: trust X-Forwarded-Proto/Host/For from one proxy (werkzeug ProxyFix, and gunicorn's
    # forwarded_allow_ips). False: the app believes it is served over http:// on nginx's Host and
    # builds http:// URLs.
    trust_proxy: bool = True
    # True: the Werkzeug debugger (DebuggedApplication, evalex=True): tracebacks in error pages and
    # an interactive console at <API prefix>/console.
    debug: bool = False
    # True, with debug off: unhandled errors still answer a traceback page (500); 404s stay as they are.
    # Flask: DebuggedApplication(evalex=False), no console; Django: technical_500_response for
    # INTERNAL_IPS, which behind nginx is every caller.
    error_tracebacks: bool = False
    json_errors: bool = True  # False: errors are Flask's default HTML pages instead of JSON
    slow_query_seconds: float = 0  # `SELECT pg_sleep(...)` in GET /api/v1/properties: a slow listing
    database_port: int | None = None  # DATABASE_URL names this port, where nothing listens
    # Extra options for the database driver (SQLAlchemy connect_args, Django DATABASES OPTIONS). The H
    # guide's Django example adds {"MAX_CONNS": 20}, which psycopg refuses: no connection can be opened.
    database_options: dict[str, Any] = Field(default_factory=dict)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    site: SiteSettings = Field(default_factory=SiteSettings)

    @property
    def health(self) -> int:
        """What /api/health answers: 503 when the app cannot reach its database."""
        return 503 if self.database_port or self.database_options else 200


# --- PostgreSQL (sandbox/postgres.py) ---------------------------------------------------------


class PostgresSettings(Part):
    """postgresql.conf lines over the sandbox's base (sandbox.postgres.BASE_SETTINGS); None: not written.
    A setting no twin has needed yet is added here first."""

    max_connections: int | None = None
    idle_session_timeout: str | None = None  # e.g. "10min"
    log_min_duration_statement: str | None = None  # e.g. "1s"
    autovacuum_freeze_max_age: int | None = None

    def conf(self) -> dict[str, str]:
        """The lines, in postgresql.conf syntax: strings quoted."""
        values = self.model_dump(exclude_none=True)
        return {key: f"'{value}'" if isinstance(value, str) else str(value) for key, value in values.items()}


class PostgresPart(Part):
    """The server a twin's instance talks to. Declaring anything gives each instance a cluster of its own."""

    settings: PostgresSettings = Field(default_factory=PostgresSettings)
    hold_connections: int = Field(0, ge=0)  # idle application connections held open, like other clients
    next_xid: int = Field(0, ge=0)  # pg_resetwal -x on the stopped cluster before its first start
    standby: bool = False  # restart the cluster, once set up, as a standby with no primary


# --- Redis (sandbox/redis_server.py): the queue and session store -----------------------------


class RedisSettings(Part):
    """redis.conf of the queue and session instance; a twin writes redis.conf's names (maxmemory-policy)."""

    model_config = ConfigDict(alias_generator=lambda name: name.replace("_", "-"))

    # It must not evict keys, has a limit that gives checks a ratio, and persists (AOF, plus an hourly snapshot).
    maxmemory: str = "64mb"
    maxmemory_policy: Literal[
        "noeviction",
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] = "noeviction"
    appendonly: Literal["yes", "no"] = "yes"
    appendfsync: Literal["always", "everysec", "no"] = "everysec"
    save: str = "3600 1"  # "": no snapshots
    maxclients: int | None = None

    def conf(self) -> dict[str, str]:
        values = self.model_dump(by_alias=True, exclude_none=True)
        return {key: str(value) for key, value in values.items()}


class RedisSetup(Part):
    """Setup steps run once the server answers, in this order (sandbox.redis_server.RedisServer)."""

    unwritable_dir: bool = False  # redis runs unprivileged with a `dir` it cannot write
    lists: dict[str, int] = Field(default_factory=dict)  # RPUSH n small JSON jobs onto each list
    sessions: int = 0  # session keys with a one-day TTL
    cache: int = 0  # cache keys with a one-hour TTL
    fill_memory_percent: int = Field(0, ge=0, le=100)  # write 16 KiB values until used_memory reaches p% of maxmemory
    bgsave: bool = False  # BGSAVE and wait for it to end (fails with an unwritable dir)
    hold_clients: int = 0  # idle client connections kept open until the sandbox stops


class RedisPart(Part):
    """Declaring anything gives the twin a queue and session instance of its own, with only its setup."""

    settings: RedisSettings = Field(default_factory=RedisSettings)
    setup: RedisSetup = Field(default_factory=RedisSetup)


# --- the data (sandbox/postgres.py: Cluster.prepare, and Django's release step) ----------------


class DataPart(Part):
    """Changes to the application's data and schema. A twin that changes the Flask API's database gets
    a database of its own, cloned from the migrated and seeded `app`, in a cluster shared by such twins."""

    sql: tuple[str, ...] = ()  # run as the superuser in the twin's database; {database} names it
    sql_failing: tuple[str, ...] = ()  # then these, which must fail (e.g. CREATE INDEX CONCURRENTLY)
    alembic_revision: str = ""  # downgrade the twin's database to this Alembic revision
    hold_transaction: str = ""  # run in a transaction that stays open, idle, for the whole run
    # Django: after migrating, the release step goes back to this migration (`manage.py migrate APP NAME`),
    # in a Django database of the twin's own.
    django_migrate_to: tuple[str, str] | None = None

    @property
    def changes_app_database(self) -> bool:
        """Whether it changes the Flask API's database (`app`)."""
        return bool(self.sql or self.sql_failing or self.alembic_revision or self.hold_transaction)


# --- monitoring (sandbox/monitoring.py: Prometheus and Alertmanager) ---------------------------


MAIL_DOMAIN = "preflight.test"  # the sandbox's sending domain: its DNS answers for it (sandbox.mail_dns)
GOOD_SPF = "v=spf1 ip4:127.0.0.1 mx -all"
GOOD_DMARC = f"v=DMARC1; p=reject; rua=mailto:dmarc-reports@{MAIL_DOMAIN}; adkim=s; aspf=s"


class MailKnobs(Part):
    """The mail domain's DNS records. Declaring anything gives the twin a DNS server of its own."""

    spf: list[str] = Field(default_factory=lambda: [GOOD_SPF])  # TXT records at the domain starting v=spf1
    dmarc: str | None = GOOD_DMARC  # at _dmarc.<domain>
    dkim: bool = True  # the DKIM public key at <selector>._domainkey.<domain>
    mta_sts_record: bool = True  # _mta-sts.<domain>
    tls_rpt: bool = True  # _smtp._tls.<domain>


class MtaKnobs(Part):
    """The mail server (sandbox.mta): Postfix with Dovecot SASL. Declaring anything gives the twin one of its own."""

    starttls: bool = True  # the submission port offers STARTTLS (smtpd_tls_security_level = may, else none)
    auth_only_after_tls: bool = True  # smtpd_tls_auth_only
    certificate: Certificate = "good"  # the chain Postfix presents (sandbox.tls.VARIANTS)
    submission_closed: bool = False  # no submission service in master.cf: nothing listens on its port


class MonitoringKnobs(Part):
    """Declaring anything gives the twin a Prometheus and Alertmanager of its own; the others share the good one."""

    extra_jobs: dict[str, str] = Field(default_factory=dict)  # job -> host:port, scraped as well
    extra_alerts: list[dict[str, Any]] = Field(default_factory=list)  # alerting rules beside the guide's
    extra_records: list[dict[str, Any]] = Field(default_factory=list)  # recording rules
    drop_alerts: tuple[str, ...] = ()  # the guide's alerts left out
    alertmanager: bool = True  # Prometheus sends its alerts to the Alertmanager
    alertmanager_at: str = ""  # host:port: send them there instead, where no Alertmanager runs (it is down)
