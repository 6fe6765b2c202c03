"""TLS (V: SSL/HTTPS Issues): the redirect to https, HSTS, the certificate, protocol versions, and
the URLs the application builds behind its TLS-terminating proxy."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import select
import socket
import ssl
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urljoin, urlsplit

from fixtures.check import (
    Ask,
    Environment,
    EnvironmentModel,
    Exchange,
    LoginFailed,
    Need,
    Probe,
    api_answer_url,
    blocked_by,
    ca_bundle,
    check,
    early_or_now,
    fail,
    fail_on,
    http_twin,
    not_applicable,
    site_url,
    start_early,
)

if TYPE_CHECKING:  # cryptography is imported where a certificate is read
    from cryptography import x509

REDIRECTS = (301, 302, 303, 307, 308)
PERMANENT = (301, 308)
DAY = 86400.0
# TLS 1.0 and 1.1 sign the handshake with SHA-1/MD5, which OpenSSL 3 allows only at security level 0.
LEGACY = {"TLS 1.0": "TLSv1", "TLS 1.1": "TLSv1_1"}
LEGACY_WIRE = {"TLS 1.0": b"\x03\x01", "TLS 1.1": b"\x03\x02"}


# A NamedTuple, not a dataclass: fixtures.catalogue executes check modules outside sys.modules.
class Origin(NamedTuple):
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


# --- helpers --------------------------------------------------------------------------------------


def _origins(env: EnvironmentModel) -> list[Origin]:
    """The distinct https host:port of the configured web, API and webhook URLs."""
    origins: list[Origin] = []
    for url in filter(None, _urls(env)):
        parts = urlsplit(url)
        if parts.scheme == "https" and parts.hostname:
            origin = Origin(parts.hostname, parts.port or 443)
            if origin not in origins:
                origins.append(origin)
    return origins


def _urls(env: EnvironmentModel) -> list[str | None]:
    return [env.lookup("web.url"), env.lookup("api.url"), env.lookup("webhooks.stripe.url")]


def _https_origins(env: EnvironmentModel, need: Need) -> list[Origin]:
    """_origins, or the check ends: not applicable without an https URL."""
    origins, urls = _origins(env), _urls(env)
    if not origins:
        if not any(urls):
            need("web.url")
        not_applicable("no https URL is configured (web.url, api.url, webhooks.stripe.url)", key="web.url")
    return origins


def _ca_bundle(env_file: Environment) -> str | None:
    """tls.ca_bundle as an absolute path; fails when it names no file."""
    bundle = ca_bundle(env_file)
    if bundle is None:
        return None
    if not bundle.is_file():
        fail(f"tls.ca_bundle {bundle} does not exist or is not a file")
    return str(bundle)


def _unverified_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _legacy_context(name: str) -> ssl.SSLContext:
    """A client context that offers only one legacy version (raises ValueError/SSLError when it cannot)."""
    context = _unverified_context()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        version = getattr(ssl.TLSVersion, LEGACY[name])
        context.minimum_version = version
        context.maximum_version = version
    context.set_ciphers("ALL:@SECLEVEL=0")
    return context


def _connect(origin: Origin, env: EnvironmentModel) -> socket.socket:
    sock = socket.create_connection((origin.host, origin.port), timeout=env.timeouts.connect)
    sock.settimeout(env.timeouts.read)
    return sock


class Handshake(NamedTuple):
    version: str
    cipher: str
    der: bytes | None


def _handshake(origin: Origin, context: ssl.SSLContext, env: EnvironmentModel) -> Handshake:
    """A TLS handshake (with SNI); OSError for the network, ssl.SSLError for TLS."""
    with (
        _connect(origin, env) as sock,
        context.wrap_socket(sock, server_hostname=origin.host if not _is_ip(origin.host) else None) as tls,
    ):
        return Handshake(tls.version() or "?", (tls.cipher() or ("?",))[0], tls.getpeercert(binary_form=True))


def _presented_chain(origin: Origin, env: EnvironmentModel) -> list[x509.Certificate]:
    """The certificates the server sends in its handshake, leaf first, unverified (Python's ssl gives only
    the leaf before 3.13). OSError for the network (TimeoutError past the read timeout),
    OpenSSL.SSL.Error for TLS."""
    from OpenSSL import SSL

    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.set_verify(SSL.VERIFY_NONE)
    with _connect(origin, env) as sock:
        tls = SSL.Connection(context, sock)
        if not _is_ip(origin.host):
            tls.set_tlsext_host_name(origin.host.encode("idna"))
        tls.set_connect_state()
        deadline = time.monotonic() + env.timeouts.read
        # The socket has a timeout, so it is non-blocking underneath: OpenSSL asks to be called again.
        while True:
            try:
                tls.do_handshake()
                break
            except SSL.WantReadError:
                ready = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))[0]
            except SSL.WantWriteError:
                ready = select.select([], [sock], [], max(0.0, deadline - time.monotonic()))[1]
            if not ready:
                raise TimeoutError(f"no TLS answer within {env.timeouts.read:g}s")
        return list(tls.get_peer_cert_chain(as_cryptography=True) or [])


def _openssl_reason(exc: Exception) -> str:
    """The reason of a pyOpenSSL error: its args are [(library, function, reason), ...] or (errno, text)."""
    args = exc.args[0] if exc.args else None
    if isinstance(args, list) and args and isinstance(args[-1], tuple):
        return str(args[-1][-1])
    if len(exc.args) == 2 and isinstance(exc.args[1], str):
        return exc.args[1]
    return str(exc) or type(exc).__name__


def _unreachable(origin: Origin, exc: OSError) -> str:
    if isinstance(exc, TimeoutError):
        return f"{origin}: no TLS answer within the timeout"
    return f"{origin}: unreachable ({exc.strerror or exc})"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _subject(cert: x509.Certificate) -> str:
    """CN=... when the subject has a common name, else the whole subject."""
    from cryptography.x509.oid import NameOID

    common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return f"CN={common[0].value}" if common else cert.subject.rfc4514_string() or "(empty subject)"


def _which(cert: x509.Certificate, position: int, count: int) -> str:
    """Which certificate of the presented chain: its role, subject and position."""
    if position == 0:
        role = "the leaf"
    elif cert.subject == cert.issuer:
        role = "a root"
    else:
        role = "the intermediate"
    return f"{role} {_subject(cert)}, #{position + 1} of {count} in the chain the server presents"


def _validity_problems(
    origin: Origin, chain: list[x509.Certificate], now: dt.datetime, min_days: float, critical_days: float
) -> list[str]:
    """The dates of every presented certificate: a stale intermediate breaks the clients that build the
    chain from what the server sends, even when a browser that cached the renewed one shows no error."""
    problems = []
    for position, cert in enumerate(chain):
        which = _which(cert, position, len(chain))
        not_after = cert.not_valid_after_utc
        left = (not_after - now).total_seconds() / DAY
        ends = not_after.strftime("%Y-%m-%d %H:%M UTC")
        if cert.not_valid_before_utc > now:
            problems.append(
                f"{origin}: the certificate is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC: {which}"
            )
        if left < 0:
            problems.append(f"{origin}: CRITICAL: the certificate expired on {ends} ({-left:.1f} days ago): {which}")
        elif left < critical_days:
            problems.append(
                f"{origin}: CRITICAL: the certificate expires in {left:.1f} days ({ends}), "
                f"under {critical_days:g} days (inputs.TLS-03.critical_days): {which}"
            )
        elif left < min_days:
            problems.append(
                f"{origin}: the certificate expires in {left:.1f} days ({ends}), inside the {min_days:g}-day "
                f"renewal window (inputs.TLS-03.min_days): renewal is not happening: {which}"
            )
    return problems


def _names(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    """The DNS names and IP addresses in the subjectAltName."""
    from cryptography import x509
    from cryptography.x509.oid import ExtensionOID

    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    except x509.ExtensionNotFound:
        return [], []
    dns = [name.lower() for name in san.get_values_for_type(x509.DNSName)]
    ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return dns, ips


def _dns_match(pattern: str, host: str) -> bool:
    if pattern.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == host


def _name_problem(origin: Origin, cert: x509.Certificate) -> str | None:
    dns, ips = _names(cert)
    host = origin.host.lower()
    ok = str(ipaddress.ip_address(host)) in ips if _is_ip(host) else any(_dns_match(pattern, host) for pattern in dns)
    if ok:
        return None
    from cryptography.x509.oid import NameOID

    common = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    named = ", ".join([*dns, *ips]) or f"no subjectAltName (CN={', '.join(map(str, common)) or '-'})"
    return f"{origin}: the certificate does not match the host name {origin.host}: it names {named}"


def _trust_context(cafile: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cafile)
    context.check_hostname = False
    return context


def _trust_problem(origin: Origin, context: ssl.SSLContext, cafile: str | None, env: EnvironmentModel) -> str | None:
    """Chain trust (through tls.ca_bundle, else the system store); expiry and names are checked apart."""
    where = f"tls.ca_bundle ({cafile})" if cafile else "the system trust store"
    try:
        _handshake(origin, context, env)
    except ssl.SSLCertVerificationError as exc:
        if exc.verify_code in (9, 10):  # not yet valid / expired: the dates are reported on their own
            return None
        return f"{origin}: the certificate chain is not trusted through {where}: {exc.verify_message}"
    except ssl.SSLError as exc:
        return f"{origin}: TLS handshake failed ({exc.reason or exc})"
    except OSError as exc:
        return _unreachable(origin, exc)
    return None


def _web_root(need: Need) -> str:
    return need("web.url").rstrip("/") + "/"


def _hsts(value: str) -> tuple[int | None, bool]:
    """(max-age, includeSubDomains) of a Strict-Transport-Security value."""
    max_age: int | None = None
    subdomains = False
    for item in value.split(";"):
        name, _, arg = item.strip().partition("=")
        name = name.strip().lower()
        if name == "max-age":
            try:
                max_age = int(arg.strip().strip('"'))
            except ValueError:
                max_age = None
        elif name == "includesubdomains":
            subdomains = True
    return max_age, subdomains


def _strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(JSON path, string) for every string in a JSON document."""
    if isinstance(node, str):
        yield path or "(body)", node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, f"{path}[{index}]")


ABSOLUTE_HTTP = re.compile(r"""http://[^\s"'<>]+""")


# --- checks ---------------------------------------------------------------------------------------


@check(
    "TLS-01",
    severity="high",
    guide=["V: SSL/HTTPS Issues"],
    inputs={"http_url": None, "max_hops": 5},
    references=["Mozilla Observatory: redirection", "Django check --deploy W008 (SECURE_SSL_REDIRECT)"],
    standards=["ASVS:V9.1.1", "Mozilla:HTTP Redirections", "Django:security.W008"],
)
def test_http_redirects_to_https(need: Need, probe: Probe, env: EnvironmentModel, inputs: dict[str, Any]) -> None:
    """HTTP redirects to HTTPS.

    Rationale: users type the bare host name and old links say http://. The plain-HTTP listener must
    answer the first request with a permanent redirect (301 or 308) to https:// on the same host,
    so that nothing (a session, a form, the SPA) is served in clear text and browsers and search
    engines learn the https address; a redirect to another host hands the user to whoever holds
    it. The chain must end in a page: "redirect loops" (V: SSL/HTTPS Issues) come from an https
    server that redirects again because it does not know the request was already https (a
    force-https rule that trusts an X-Forwarded-Proto nobody sets). The chain is followed for at
    most inputs.TLS-01.max_hops hops. The plain-HTTP origin is web.http_url (or inputs.TLS-01.http_url),
    else port 80 of web.url's host.

    Fix: nginx `server { listen 80; server_name app.example.com; return 301
    https://$host$request_uri; }` and nothing else in that block. In the https server, do not
    redirect on $scheme or X-Forwarded-Proto unless a proxy in front really sets it (Flask:
    ProxyFix; Django: SECURE_PROXY_SSL_HEADER only behind such a proxy).
    """
    https_url = _web_root(need)
    start = http_twin(https_url, inputs.get("http_url") or env.lookup("web.http_url"), "TLS-01")
    host = (urlsplit(https_url).hostname or "").lower()
    first = probe.get(start)
    location = first.header("location") or ""
    problems = []
    if first.status not in REDIRECTS:
        fail_on([f"{start} answered {first.status} instead of redirecting to https:// (expected 301 or 308)"])
    target = urljoin(start, location) if location else ""
    if first.status not in PERMANENT:
        problems.append(f"{start} redirects with {first.status}; expected a permanent 301 or 308")
    parts = urlsplit(target)
    if not location:
        fail_on([*problems, f"{start} answered {first.status} without a Location header"])
    if parts.scheme != "https":
        fail_on([*problems, f"{start} redirects to {target}, not to https:// (expected https://{host}/...)"])
    if (parts.hostname or "").lower() != host:
        problems.append(f"{start} redirects to another host: {target} (expected https://{host}/...)")
    max_hops = int(inputs["max_hops"])
    chain = [start, target]
    url = target
    for _ in range(max_hops - 1):
        answer = probe.get(url)
        if answer.status == 200:
            break
        if answer.status not in REDIRECTS:
            problems.append(f"the redirect chain {' -> '.join(chain)} ends in {answer.status}, not 200")
            break
        following = urljoin(url, answer.header("location") or "")
        if following in chain:
            chain.append(following)
            problems.append(f"redirect loop: {' -> '.join(chain)} ({url} redirects to a URL already visited)")
            break
        chain.append(following)
        url = following
    else:
        problems.append(
            f"no 200 within {max_hops} hops (inputs.TLS-01.max_hops): {' -> '.join(chain)} (a redirect loop?)"
        )
    fail_on(problems)


@check(
    "TLS-02",
    severity="medium",
    guide=["V: SSL/HTTPS Issues"],
    inputs={"min_max_age": 15552000, "include_subdomains": True},
    references=["Mozilla Observatory: HSTS", "Django check --deploy W004/W005 (SECURE_HSTS_SECONDS)"],
    standards=[
        "ASVS:V14.4.5",
        "RFC:6797",
        "Mozilla:HTTP Strict Transport Security",
        "Django:security.W004",
        "Django:security.W005",
    ],
)
def test_hsts(need: Need, probe: Probe, env: EnvironmentModel, inputs: dict[str, Any]) -> None:
    """HTTPS answers carry HSTS.

    Rationale: a redirect from http:// still lets the first request go out in clear text, where an
    attacker on the network can answer it instead (SSL stripping) and keep the user on http://.
    Strict-Transport-Security tells the browser to use https:// only, for max-age seconds; under
    six months (15552000 s, the Observatory's bar) it lapses between visits. Without
    includeSubDomains a sibling host (a forgotten http-only subdomain) can still set cookies for
    the parent domain: that part is hygiene (low), switched off with
    inputs.TLS-02.include_subdomains = false where a subdomain cannot do HTTPS yet.

    Fix: nginx, in every server and every location with its own add_header: `add_header
    Strict-Transport-Security "max-age=31536000; includeSubDomains" always;`. Django:
    SECURE_HSTS_SECONDS = 31536000 and SECURE_HSTS_INCLUDE_SUBDOMAINS = True; Flask: Flask-Talisman.
    """
    urls = [url for url in dict.fromkeys([_web_root(need), api_answer_url(env)]) if url and url.startswith("https://")]
    if not urls:
        not_applicable("neither web.url nor api.url is https:// (TLS-01 covers the redirect)")
    minimum = int(inputs["min_max_age"])
    problems = []
    for url in urls:
        answer = probe.get(url)
        value = answer.header("strict-transport-security")
        if not value:
            problems.append(
                f"{url} ({answer.status}) has no Strict-Transport-Security header (expected max-age>={minimum})"
            )
            continue
        max_age, subdomains = _hsts(value)
        if max_age is None:
            problems.append(f"{url}: Strict-Transport-Security {value!r} has no valid max-age")
        elif max_age < minimum:
            problems.append(
                f"{url}: Strict-Transport-Security max-age={max_age} is under {minimum} s "
                f"(inputs.TLS-02.min_max_age, about {minimum // 86400} days)"
            )
        if inputs["include_subdomains"] and not subdomains:
            problems.append(f"{url}: Strict-Transport-Security {value!r} lacks includeSubDomains (low)")
    fail_on(problems)


@check(
    "TLS-03",
    severity="critical",
    guide=["V: SSL/HTTPS Issues", "H: Complete System Outage"],
    inputs={"min_days": 30, "critical_days": 7},
    references=["testssl.sh", "Mozilla Observatory"],
    standards=["ASVS:V9.2.1"],
)
def test_certificate_is_valid(need: Need, env: EnvironmentModel, env_file: Environment, inputs: dict[str, Any]) -> None:
    """The certificate is valid.

    Rationale: browsers, mobile apps and Stripe refuse a certificate that has expired, that names
    another host, or whose chain does not lead to a trusted root (a missing intermediate): for
    them the site is down. Each https host of web.url, api.url and the webhook URL is checked: the
    subjectAltName must match the host, the chain must verify (through tls.ca_bundle when the
    environment sets one, else the system trust store), and every certificate the server presents,
    the leaf and each intermediate, must stay valid for inputs.TLS-03.min_days more days, the
    usual renewal window. Under inputs.TLS-03.critical_days (or expired) the message says
    critical: renewal is failing and the outage is days away. An expired intermediate is easy to
    miss: a browser that has cached the CA's renewed intermediate, or an OpenSSL that builds the
    path from its trust store first, still connects, while clients that build the chain from what
    the server sends (OpenSSL before 1.1.0, GnuTLS of that time, older devices) fail, as they did
    when the AddTrust External CA Root and its cross-signed intermediate expired in May 2020. The message names each
    certificate by its subject and its position in the presented chain. tls.verify does not turn
    this check off.

    Fix: renew and deploy the certificate (certbot renew, then reload nginx; check the renewal
    timer and its hooks), issue it for every name users reach (`-d app.example.com -d
    api.example.com`), and serve the full, current chain (nginx ssl_certificate pointing at
    fullchain.pem as the CA issues it today, not cert.pem, and not a chain file assembled by hand
    with an intermediate the CA has since replaced).
    """
    origins = _https_origins(env, need)
    seen = early_or_now(*_tls03_handshakes(origins, _ca_bundle(env_file), env))
    now = dt.datetime.now(dt.UTC)
    min_days, critical_days = float(inputs["min_days"]), float(inputs["critical_days"])
    problems: list[str] = []
    for origin in origins:
        chain, trust = seen[origin]
        if isinstance(chain, str):
            problems.append(chain)
            continue
        name = _name_problem(origin, chain[0])
        problems += [problem for problem in (name, trust) if problem]
        problems += _validity_problems(origin, chain, now, min_days, critical_days)
    fail_on(problems)


Tls03Seen = dict[Origin, tuple["list[x509.Certificate] | str", str | None]]


def _tls03_handshakes(
    origins: list[Origin], cafile: str | None, env: EnvironmentModel
) -> tuple[str, Callable[[], Tls03Seen]]:
    """(key, work): both handshakes of every origin at once (the chain as presented, and its trust), a few round
    trips at any distance; the trust context is built here, on the calling thread."""
    context = _trust_context(cafile)

    def work() -> Tls03Seen:
        with ThreadPoolExecutor(max_workers=8) as pool:
            chains = {origin: pool.submit(_chain_or_problem, origin, env) for origin in origins}
            trusts = {origin: pool.submit(_trust_problem, origin, context, cafile, env) for origin in origins}
        return {origin: (chains[origin].result(), trusts[origin].result()) for origin in origins}

    return f"TLS-03 {origins!r} {cafile} {env.timeouts!r}", work


def _chain_or_problem(origin: Origin, env: EnvironmentModel) -> list[x509.Certificate] | str:
    """TLS-03: the chain one https origin presents, or why it could not be read."""
    from OpenSSL import SSL

    try:
        chain = _presented_chain(origin, env)
    except SSL.SysCallError as exc:
        return f"{origin}: the connection closed during the TLS handshake ({_openssl_reason(exc)})"
    except SSL.Error as exc:
        return f"{origin}: TLS handshake failed ({_openssl_reason(exc)})"
    except OSError as exc:
        return _unreachable(origin, exc)
    return chain or f"{origin}: the server presented no certificate"


def _can_offer(name: str) -> str | None:
    """None when this runner's OpenSSL writes a ClientHello for the legacy version; else why not."""
    try:
        context = _legacy_context(name)
        client = context.wrap_bio(ssl.MemoryBIO(), outgoing := ssl.MemoryBIO(), server_hostname="preflight.invalid")
        client.do_handshake()
    except ssl.SSLWantReadError:
        hello = outgoing.read()
        # Record header (5 bytes), handshake header (4 bytes), then client_version.
        if len(hello) > 10 and hello[0] == 0x16 and hello[9:11] == LEGACY_WIRE[name]:
            return None
        return "its ClientHello does not offer it"
    except (ValueError, ssl.SSLError) as exc:
        return str(getattr(exc, "reason", None) or exc)
    return "the handshake ended without a server"


def _refusal(exc: BaseException) -> bool:
    """A handshake failure that means the server would not speak the offered version."""
    return isinstance(exc, ssl.SSLError | ConnectionResetError | ConnectionAbortedError | EOFError)


@check(
    "TLS-04",
    severity="medium",
    guide=["V: SSL/HTTPS Issues"],
    references=["testssl.sh (protocols)", "RFC 8996 (TLS 1.0 and 1.1 deprecated)", "PCI DSS 4.0"],
    standards=["ASVS:V9.1.3", "RFC:8996"],
)
def test_legacy_protocols_are_off(need: Need, env: EnvironmentModel) -> None:
    """Legacy protocols are off.

    Rationale: TLS 1.0 and 1.1 are deprecated (RFC 8996): they rely on SHA-1 and CBC constructions
    with known attacks (BEAST, Lucky13), no current browser uses them, and audits (PCI DSS,
    testssl.sh) flag a server that still accepts them; a server that still offers them invites a
    downgrade. Each https host must refuse a TLS 1.0 and a TLS 1.1 handshake and accept TLS 1.2 or
    later. The legacy handshakes are offered with ciphers at OpenSSL security level 0; when this
    runner's OpenSSL cannot offer a version at all, the server was not observed and the check
    fails saying so (run it where OpenSSL can, e.g. with testssl.sh).

    Fix: nginx `ssl_protocols TLSv1.2 TLSv1.3;` in the http block and in every server block that
    sets its own (the last one wins per server); drop `@SECLEVEL=0` from ssl_ciphers. On a load
    balancer, pick a TLS 1.2+ security policy.
    """
    origins = _https_origins(env, need)
    problems: list[str] = []
    offered, tried, modern = early_or_now(*_tls04_handshakes(origins, env))
    for name, why in offered.items():
        if why:
            problems.append(
                f"this runner's OpenSSL ({ssl.OPENSSL_VERSION}) could not offer {name} ({why}), so whether "
                f"{', '.join(map(str, origins))} accept(s) it was not observed"
            )
    for origin in origins:
        problems += _legacy_problems(origin, [(name, tried[(origin, name)]) for name in LEGACY if not offered[name]])
        seen = modern[origin]
        if isinstance(seen, ssl.SSLError):
            problems.append(f"{origin} refuses TLS 1.2 and 1.3 ({seen.reason or seen}); expected TLS 1.2 or later")
        elif isinstance(seen, OSError):
            problems.append(_unreachable(origin, seen))
    fail_on(list(dict.fromkeys(problems)))


Tried = Handshake | OSError
Tls04Seen = tuple[dict[str, str | None], dict[tuple[Origin, str], Tried], dict[Origin, Tried]]


def _tls04_handshakes(origins: list[Origin], env: EnvironmentModel) -> tuple[str, Callable[[], Tls04Seen]]:
    """(key, work): what this runner can offer, then every handshake at once, the origins and protocols side by
    side (a few round trips at any distance); the contexts are built here, on the calling thread."""
    offered = {name: _can_offer(name) for name in LEGACY}
    legacy = [(origin, name, _legacy_context(name)) for origin in origins for name in LEGACY if not offered[name]]
    modern = [(origin, _modern_context()) for origin in origins]

    def work() -> Tls04Seen:
        with ThreadPoolExecutor(max_workers=8) as pool:
            tried = {(origin, name): pool.submit(_try, origin, context, env) for origin, name, context in legacy}
            done = {origin: pool.submit(_try, origin, context, env) for origin, context in modern}
        return offered, {k: f.result() for k, f in tried.items()}, {k: f.result() for k, f in done.items()}

    return f"TLS-04 {origins!r} {env.timeouts!r}", work


def _try(origin: Origin, context: ssl.SSLContext, env: EnvironmentModel) -> Handshake | OSError:
    try:
        return _handshake(origin, context, env)
    except OSError as exc:  # ssl.SSLError and TimeoutError too
        return exc


def _modern_context() -> ssl.SSLContext:
    context = _unverified_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _legacy_problems(origin: Origin, seen: list[tuple[str, Handshake | OSError]]) -> list[str]:
    """What the legacy handshakes with one origin showed: an unreachable origin once, an accepted
    protocol each."""
    problems = []
    for name, result in seen:
        if isinstance(result, OSError):
            if not isinstance(result, TimeoutError) and _refusal(result):
                continue
            return [*problems, _unreachable(origin, result)]
        problems.append(
            f"{origin} accepts {name} (negotiated {result.version}, cipher {result.cipher}); expected a refusal"
        )
    return problems


@check(
    "TLS-05",
    severity="high",
    guide=["V: SSL/HTTPS Issues"],
    inputs={"paths": []},
    references=["Django check --deploy (SECURE_PROXY_SSL_HEADER)", "werkzeug ProxyFix"],
    standards=["ASVS:V9.1.1"],
)
def test_app_knows_it_is_behind_https(
    need: Need, probe: Probe, env: EnvironmentModel, request: Any, inputs: dict[str, Any]
) -> None:
    """The app knows it is behind HTTPS.

    Rationale: behind a proxy that terminates TLS, the application receives plain http and builds
    its absolute URLs and redirects from what it sees, unless it trusts the proxy's
    X-Forwarded-Proto. The API then links to http:// addresses (the browser blocks them as mixed
    content) and redirects to http:// (V: SSL/HTTPS Issues: "Mixed content warnings or redirect
    loops"). The answers at inputs.TLS-05.paths (under api.url; by default api.cors.path and
    api.health), the login-gated pages (web.pages) as an anonymous visitor sees them (their
    redirect to the login page), and, with a declared session, the logged-in answers (the routes
    of api.auth.protected and the pages of web.pages: pagination links, `Location` headers) must
    not link to http:// on the site's own hosts, and a redirect among them must point to https://.

    Fix: nginx `proxy_set_header X-Forwarded-Proto $scheme;` (and Host or X-Forwarded-Host) in
    every location that proxies to the app. Flask: `app.wsgi_app = ProxyFix(app.wsgi_app,
    x_proto=1, x_host=1)` and PREFERRED_URL_SCHEME = "https"; Django: SECURE_PROXY_SSL_HEADER =
    ("HTTP_X_FORWARDED_PROTO", "https") and USE_X_FORWARDED_HOST where needed.
    """
    anonymous, logged_in = _tls05_targets(env, inputs)
    if not anonymous and not logged_in:
        not_applicable(
            "no answer to look at: set inputs.TLS-05.paths (or api.cors.path, api.health, web.pages)",
            key="inputs.TLS-05.paths",
        )
    hosts = {
        (urlsplit(url).hostname or "").lower()
        for url in (env.lookup("web.url"), env.lookup("api.url"), env.lookup("webhooks.stripe.url"))
        if url
    }
    problems: list[str] = []
    for url in anonymous:
        problems += _http_links(url, probe.get(url), hosts, "")
    session = _session_for(env, request, logged_in, problems)
    for url in logged_in if session is not None else []:
        problems += _http_links(url, probe.get(url, headers=session.headers()), hosts, " (logged in)")
    fail_on(problems)


def prefetch(env: EnvironmentModel, inputs: Any, env_file: Environment) -> list[Ask]:
    """TLS-05's anonymous and logged-in answers and TLS-01's first request (with the hop it redirects to); TLS-04's
    and TLS-03's handshakes start now, in the background (fixtures.early)."""
    asks: list[Ask] = []
    selected = inputs("TLS-05")
    if selected is not None:
        anonymous, logged_in = _tls05_targets(env, selected)
        asks += [Ask("GET", url) for url in anonymous] + [Ask("GET", url, logged_in=True) for url in logged_in]
    origins = _origins(env)
    if inputs("TLS-04") is not None and origins:
        start_early(*_tls04_handshakes(origins, env))
    bundle = ca_bundle(env_file)
    if inputs("TLS-03") is not None and origins and (bundle is None or bundle.is_file()):
        start_early(*_tls03_handshakes(origins, str(bundle) if bundle else None, env))
    redirects = inputs("TLS-01")
    if redirects is not None and env.web is not None:
        https_url, http_url = env.web.url.rstrip("/") + "/", redirects.get("http_url") or env.lookup("web.http_url")
        # Only where http_twin derives the URL (elsewhere the check says why not).
        if urlsplit(http_url).scheme == "http" if http_url else urlsplit(https_url).port in (None, 443):
            asks.append(Ask("GET", http_twin(https_url, http_url, "TLS-01"), then=_tls01_next))
    return asks


def _tls01_next(first: Exchange) -> list[Ask]:
    """The https URL that TLS-01's first request redirects to, which the check reads next."""
    location = first.header("location") or ""
    target = urljoin(first.url, location) if location else ""
    if first.status in REDIRECTS and urlsplit(target).scheme == "https":
        return [Ask("GET", target)]
    return []


def _tls05_targets(env: EnvironmentModel, inputs: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(anonymous URLs, logged-in URLs) whose answers are read."""
    api_url = (env.lookup("api.url") or "").rstrip("/")
    paths = list(inputs["paths"]) or [p for p in (env.lookup("api.cors.path"), env.lookup("api.health")) if p]
    anonymous = [api_url + "/" + str(path).lstrip("/") for path in paths] if api_url else []
    pages = [site_url(env, page) for page in (env.lookup("web.pages") or [])]
    protected = [api_url + "/" + route.lstrip("/") for route in (env.lookup("api.auth.protected") or [])]
    logged_in = protected + pages if env.lookup("session.login") or env.lookup("session.token") else []
    return list(dict.fromkeys(anonymous + pages)), list(dict.fromkeys(logged_in))


def _session_for(env: EnvironmentModel, request: Any, urls: list[str], problems: list[str]) -> Any:
    """The run's session for the logged-in half; when its login failed, the check is blocked by AUTH-06
    unless the anonymous half already found a problem."""
    if not urls:
        return None
    made = request.getfixturevalue("login_attempt")
    if not isinstance(made, LoginFailed):
        return made
    if not problems:
        blocked_by("AUTH-06", f"the logged-in answers cannot be read: the declared login failed: {made}")
    return None


def _http_links(url: str, answer: Exchange, hosts: set[str], seen_as: str) -> list[str]:
    problems = []
    if answer.status in REDIRECTS:
        location = urljoin(url, answer.header("location") or "")
        if location.startswith("http://"):
            problems.append(f"GET {url}{seen_as} redirects to {location}; expected https://")
    found: list[tuple[str, str]] = []
    if "json" in answer.content_type:
        try:
            document = json.loads(answer.text)
        except ValueError:
            document = answer.text
        for where, text in _strings(document):
            found += [(where, link) for link in ABSOLUTE_HTTP.findall(text)]
    else:
        found += [("(body)", link) for link in ABSOLUTE_HTTP.findall(answer.text)]
    own = [(where, link) for where, link in found if (urlsplit(link).hostname or "").lower() in hosts]
    for where, link in own[:3]:
        problems.append(f"GET {url}{seen_as} links to {link} (at {where}); expected https://")
    if len(own) > 3:
        problems.append(f"GET {url}{seen_as}: {len(own) - 3} more http:// links to the site's own hosts")
    return problems
