"""MAIL: the application's mail, from its sending domain's DNS records to its MTA-STS policy."""

from __future__ import annotations

import re

from fixtures.check import MailDomain, SmtpServer, blocked_by, check, fail, fail_on, not_applicable, unverified

SPAM = "V: Emails Going to Spam"
SENDING = "V: Emails Not Sending"
TAG = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def _ports(smtp: SmtpServer) -> list[tuple[int, bool]]:
    """(port, implicit TLS) of each declared port: submission with STARTTLS, then implicit TLS."""
    spec = smtp.spec
    declared = [(spec.port, False), (spec.implicit_tls_port, True)]
    return [(port, implicit) for port, implicit in declared if port is not None]


@check("MAIL-01", severity="high", guide=[SENDING, "H: Email Service Issues"], standards=["RFC:5321"])
def test_smtp_reachable(smtp: SmtpServer) -> None:
    """The mail server answers with a 220 banner on each declared port

    "Emails not sending" starts here: a mail server the application cannot reach (a firewall, a port closed by
    the provider, 587 and 465 mixed up) makes every password reset and receipt fail, often silently in a worker.

    Fix: open the ports the application uses (mail.smtp.port, mail.smtp.implicit_tls_port) from the app's hosts
    to the mail server, and check that MAIL_SERVER and MAIL_PORT name the server and its submission port.
    """
    for port, implicit in _ports(smtp):
        with smtp.session(port, implicit=implicit, verify=False):
            pass  # the session fails the check unless a 220 banner came


@check("MAIL-02", severity="high", guide=[SENDING, "V: Email Issues"], standards=["RFC:3207", "RFC:8314"])
def test_smtp_tls(smtp: SmtpServer) -> None:
    """Submission offers STARTTLS and implicit TLS works, with a valid certificate for the server's name

    Without TLS the application's password and every message cross the network in clear; with a certificate
    that is expired or names another host, a client that verifies (as it should) cannot send at all.

    Fix: enable STARTTLS on the submission port (Postfix: smtpd_tls_security_level = may or encrypt, with
    smtpd_tls_cert_file/key_file) and implicit TLS on 465 (smtpd_tls_wrappermode = yes), with a current
    certificate naming mail.smtp.server_name (renew it with the web certificates).
    """
    for port, implicit in _ports(smtp):
        with smtp.session(port, implicit=implicit) as session:
            if implicit:
                session.ehlo()
                continue
            if "starttls" not in session.ehlo():
                fail(f"SMTP {session.where}: EHLO does not offer STARTTLS: mail and passwords would cross in clear")
            session.starttls(smtp.context)
            session.ehlo()


def _auth_mechanisms(features: dict[str, str]) -> list[str]:
    return features.get("auth", "").upper().split()


@check("MAIL-03", severity="high", guide=["V: SMTP Authentication Error", SENDING], standards=["RFC:4954"])
def test_auth_after_tls(smtp: SmtpServer) -> None:
    """The submission port offers AUTH only after STARTTLS

    A server that offers AUTH PLAIN or LOGIN before TLS lets a client (a misconfigured app, a downgrade
    attacker stripping STARTTLS) send the mail password in clear, base64 being no protection.

    Fix: Postfix: smtpd_tls_auth_only = yes (or smtpd_tls_security_level = encrypt on submission); other
    servers have the same switch ("require TLS for AUTH").
    """
    port = smtp.spec.port
    if port is None:
        not_applicable("mail.smtp.port is null: no STARTTLS submission port is declared")
    with smtp.session(port, implicit=False, verify=False) as session:
        features = session.ehlo()
        before = [m for m in _auth_mechanisms(features) if m in ("PLAIN", "LOGIN")]
        if before:
            fail(f"SMTP {session.where}: AUTH {' '.join(before)} is offered before STARTTLS")
        if "starttls" not in features:
            blocked_by("MAIL-02", f"SMTP {session.where} offers no STARTTLS, so AUTH after it cannot be seen")
        session.starttls(unverified())
        if not _auth_mechanisms(session.ehlo()):
            fail(f"SMTP {session.where}: no AUTH is offered after STARTTLS either: the application cannot log in")


@check(
    "MAIL-04",
    severity="high",
    guide=["V: SMTP Authentication Error", SENDING],
    intrusive=True,
    standards=["RFC:4954"],
)
def test_smtp_login(smtp: SmtpServer) -> None:
    """The application's mail credentials log in (and nothing is sent)

    `SMTPAuthenticationError: (535, 'Authentication failed')` is what the application meets when its
    MAIL_PASSWORD is wrong, rotated on the server only, or an account password where the provider wants an app
    password: every message fails. This logs in as the application does, then QUITs: no message is sent.

    Fix: set MAIL_USERNAME and MAIL_PASSWORD to the mail account's credentials (an app password where the
    provider requires one), the same as mail.smtp.username and password here, and redeploy the application.
    """
    spec = smtp.spec
    if spec.username is None or spec.password is None:
        not_applicable("mail.smtp.username and mail.smtp.password are not configured", key="mail.smtp.password")
    implicit = spec.tls == "implicit"
    port = spec.implicit_tls_port if implicit else spec.port
    assert port is not None  # the schema requires the port of the declared tls mode
    with smtp.session(port, implicit=implicit) as session:
        features = session.ehlo()
        if not implicit:
            session.starttls(smtp.context)
            features = session.ehlo()
        offered = _auth_mechanisms(features)
        if not {"PLAIN", "LOGIN"} & set(offered):
            fail(f"SMTP {session.where}: offers AUTH {' '.join(offered) or '(none)'}, neither PLAIN nor LOGIN")
        code, reply = session.login(spec.username, spec.password, offered)
        if code != 235:
            fail(f"SMTP {session.where}: login as {spec.username} refused: {code} {reply}")


def _tags(record: str) -> dict[str, str]:
    """The tag=value pairs of a DMARC, DKIM, MTA-STS or TLS-RPT record (RFC 6376 section 3.2), names lowercased."""
    pairs = (TAG.match(part) for part in record.split(";"))
    return {m.group(1).lower(): m.group(2) for m in pairs if m}


def _spf_problems(domain: str, texts: list[str]) -> list[str]:
    spf = [t for t in texts if re.match(r"^v=spf1(\s|$)", t, re.IGNORECASE)]
    if not spf:
        return [f"SPF: {domain} has no TXT record starting v=spf1: receivers cannot tell who may send for it"]
    if len(spf) > 1:
        shown = "; ".join(f'"{t}"' for t in spf)
        return [f"SPF: {domain} has {len(spf)} SPF records ({shown}): RFC 7208 makes that a permerror, as if none"]
    terms = spf[0].split()[1:]
    alls = [t for t in terms if t.lower().lstrip("+-~?") == "all"]
    if not alls:
        return [f'SPF: "{spf[0]}" ends without an all mechanism: mail from anywhere else is neutral, not refused']
    last = alls[-1]
    if last[0] not in "-~":
        return [
            f'SPF: "{spf[0]}" ends with {last}: any server on the internet may send as {domain}; expected -all or ~all'
        ]
    return []


def _dmarc_problems(domain: str, texts: list[str], accepted: list[str]) -> list[str]:
    name = f"_dmarc.{domain}"
    dmarc = [t for t in texts if re.match(r"^v=DMARC1\s*(;|$)", t, re.IGNORECASE)]
    if not dmarc:
        return [f"DMARC: {name} has no TXT record starting v=DMARC1"]
    if len(dmarc) > 1:
        return [f"DMARC: {name} has {len(dmarc)} DMARC records: receivers ignore them all (RFC 7489 section 6.6.3)"]
    policy = _tags(dmarc[0]).get("p", "").lower()
    if policy not in accepted:
        return [
            f'DMARC: {name} "{dmarc[0]}" has p={policy or "(missing)"}: mail failing SPF and DKIM is still delivered; '
            f"expected p={' or p='.join(accepted)}"
        ]
    return []


def _dkim_problems(name: str, texts: list[str]) -> list[str]:
    import base64
    import binascii

    from cryptography.hazmat.primitives.serialization import load_der_public_key

    keys = [t for t in texts if "p" in _tags(t) and _tags(t).get("v", "DKIM1").upper() == "DKIM1"]
    if not keys:
        return [f"DKIM: {name} has no DKIM key record: signatures under this selector cannot be verified"]
    key = re.sub(r"\s+", "", _tags(keys[0])["p"])
    if not key:
        return [f"DKIM: {name} has an empty p=: the key is revoked, every signature under it fails"]
    try:
        load_der_public_key(base64.b64decode(key, validate=True))
    except (binascii.Error, ValueError) as problem:
        return [f"DKIM: {name}: p= is not a public key ({problem})"]
    return []


@check(
    "MAIL-05",
    severity="medium",
    guide=[SPAM, "V: Email Issues"],
    inputs={"dmarc_policies": ["quarantine", "reject"]},
    standards=["RFC:7208", "RFC:7489", "RFC:6376"],
    references=["internet.nl mail test"],
)
def test_sending_domain(maildomain: MailDomain, inputs: dict) -> None:
    """The sending domain publishes SPF, DMARC and DKIM

    Receivers decide what is spam from the sending domain's DNS: without one SPF record ending in -all or ~all,
    a DMARC policy that quarantines or rejects, and the DKIM key the signatures name, the application's mail
    (password resets, receipts) lands in spam, or anyone can send as the domain ("Emails Going to Spam").
    Two SPF records are as bad as none: receivers treat them as an error.

    Fix: publish exactly one TXT "v=spf1 ... -all" at the domain (merge the providers' include:s), a TXT
    "v=DMARC1; p=quarantine; rua=mailto:..." at _dmarc.<domain> (p=none only while you read the reports), and
    the public key your mail service gives at <mail.dkim_selector>._domainkey.<domain>.
    """
    domain = maildomain.domain
    problems = _spf_problems(domain, maildomain.records(domain))
    problems += _dmarc_problems(domain, maildomain.records(f"_dmarc.{domain}"), inputs["dmarc_policies"])
    selector = maildomain.spec.dkim_selector
    if selector:
        name = f"{selector}._domainkey.{domain}"
        problems += _dkim_problems(name, maildomain.records(name))
    else:
        maildomain.evidence.add("DKIM: mail.dkim_selector is not set; no selector's key was looked up")
    fail_on(problems, f"{domain}: {len(problems)} problem(s) with the sending domain's records:")


def _policy_problems(url: str, status: int, kind: str, body: str) -> list[str]:
    if status != 200:
        return [f"MTA-STS: GET {url} answered {status}: no policy, so senders cannot enforce TLS to the MX"]
    if kind.split(";")[0].strip().lower() != "text/plain":
        return [f"MTA-STS: GET {url} answered {status} {kind}, not a text/plain policy (a catch-all page?)"]
    lines = (line.partition(":") for line in body.splitlines())
    fields = {key.strip().lower(): value.strip() for key, sep, value in lines if sep}
    problems = []
    if fields.get("version") != "STSv1":
        problems.append(f"MTA-STS: {url} has version {fields.get('version')!r}, expected STSv1")
    if fields.get("mode") != "enforce":
        problems.append(
            f"MTA-STS: {url} has mode: {fields.get('mode') or '(missing)'}: senders still deliver over plain "
            "or unverified TLS; expected mode: enforce"
        )
    if "mx" not in fields or not fields.get("max_age", "").isdigit():
        problems.append(f"MTA-STS: {url} lacks an mx: line or a numeric max_age:")
    return problems


@check(
    "MAIL-06",
    severity="low",
    guide=["V: Email Issues"],
    standards=["RFC:8461", "RFC:8460"],
    references=["internet.nl mail test"],
)
def test_transport_enforced(maildomain: MailDomain) -> None:
    """Mail to the domain is held to TLS: MTA-STS in enforce mode, and TLS reporting

    STARTTLS on its own can be stripped by anyone on the path: a sender falls back to plain text without a
    word. An MTA-STS policy in enforce mode tells senders to deliver only over TLS to a certificate naming the
    MX, and a TLS-RPT record tells them where to report when they could not.

    Fix: serve https://mta-sts.<domain>/.well-known/mta-sts.txt (version: STSv1, mode: enforce, an mx: line
    per MX, max_age:), publish "v=STSv1; id=<changes with the policy>" at _mta-sts.<domain>, and
    "v=TLSRPTv1; rua=mailto:..." at _smtp._tls.<domain>. Move from testing to enforce once the reports are clean.
    """
    domain = maildomain.domain
    problems = []
    sts = [t for t in maildomain.records(f"_mta-sts.{domain}") if t.startswith("v=STSv1")]
    if len(sts) != 1 or not _tags(sts[0]).get("id"):
        problems.append(f"MTA-STS: _mta-sts.{domain} has {len(sts)} v=STSv1 record(s) with an id=; expected one")
    problems += _policy_problems(*maildomain.policy())
    rpt = [t for t in maildomain.records(f"_smtp._tls.{domain}") if t.startswith("v=TLSRPTv1")]
    if len(rpt) != 1 or "rua" not in _tags(rpt[0]):
        problems.append(f"TLS-RPT: _smtp._tls.{domain} has {len(rpt)} v=TLSRPTv1 record(s) with a rua=; expected one")
    fail_on(problems, f"{domain}: {len(problems)} problem(s) with mail transport security:")
