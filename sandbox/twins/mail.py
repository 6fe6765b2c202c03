"""Twins for the MAIL checks: the sending domain's records (each with a DNS server of its own) and its MTA-STS
policy (on its own nginx), broken as real domains are."""

from __future__ import annotations

from sandbox.parts import GOOD_SPF
from sandbox.twins.model import Twin, V

SPAM = f"{V}: Emails Going to Spam"
EMAIL = f"{V}: Email Issues"
SENDING = f"{V}: Emails Not Sending"

# The mail server's twins: each runs a Postfix and Dovecot of its own, but the last, whose server is the good one.
SMTP_TWINS = [
    Twin(
        name="mail-smtp-port-closed",
        description="The submission service was removed from master.cf (or a firewall closes 587): the application "
        "cannot reach its mail server, and every email fails to send.",
        guide=SENDING,
        breaks={"MAIL-01": r"SMTP 127\.0\.0\.1:\d+: connection refused"},
        blocked={"MAIL-02": "MAIL-01", "MAIL-03": "MAIL-01", "MAIL-04": "MAIL-01"},
        mta={"submission_closed": True},
        frameworks=("flask",),
    ),
    Twin(
        name="mail-smtp-no-starttls",
        description="TLS is off on the submission port (smtpd_tls_security_level = none): EHLO offers no STARTTLS, "
        "so the password and every message would cross the network in clear.",
        guide=EMAIL,
        breaks={"MAIL-02": r"EHLO does not offer STARTTLS"},
        blocked={"MAIL-03": "MAIL-02"},
        mta={"starttls": False},
        frameworks=("flask",),
    ),
    Twin(
        name="mail-smtp-auth-before-tls",
        description="smtpd_tls_auth_only = no: AUTH PLAIN and LOGIN are offered before STARTTLS.",
        guide=EMAIL,
        breaks={"MAIL-03": r"AUTH PLAIN LOGIN is offered before STARTTLS"},
        mta={"auth_only_after_tls": False},
        frameworks=("flask",),
    ),
    Twin(
        name="mail-smtp-cert-expired",
        description="The mail server's certificate was not renewed with the web's: it expired two days ago.",
        guide=EMAIL,
        breaks={"MAIL-02": r"certificate verification failed: certificate has expired"},
        mta={"certificate": "expired"},
        frameworks=("flask",),
    ),
    Twin(
        name="mail-smtp-cert-wrong-name",
        description="The mail server presents another host's certificate (www.other.test), not mail.preflight.test's.",
        guide=EMAIL,
        breaks={"MAIL-02": r"certificate verification failed: Hostname mismatch.*mail\.preflight\.test"},
        mta={"certificate": "other-name"},
        frameworks=("flask",),
    ),
    Twin(
        name="mail-smtp-wrong-password",
        description="The application's MAIL_PASSWORD is an old one, rotated on the mail server only: "
        "SMTPAuthenticationError (535, 'Authentication failed').",
        guide=f"{V}: SMTP Authentication Error",
        breaks={"MAIL-04": r"login as .* refused: 535"},
        env={"mail": {"smtp": {"password": "${SANDBOX_SMTP_PASSWORD}-before-rotation"}}},
        frameworks=("flask",),
    ),
]

TWINS = [
    *SMTP_TWINS,
    Twin(
        name="mail-spf-missing",
        description="The domain publishes no SPF record: receivers cannot tell the application's mail server "
        "from a forger's, and spam filters count it against every message.",
        guide=SPAM,
        breaks={"MAIL-05": r"SPF: preflight\.test has no TXT record starting v=spf1"},
        mail={"spf": []},
        frameworks=("flask",),
    ),
    Twin(
        name="mail-spf-two",
        description="A second SPF record added for a newsletter provider beside the first instead of merged "
        "into it: RFC 7208 makes two records a permanent error, as if there were none.",
        guide=SPAM,
        breaks={"MAIL-05": r"SPF: preflight\.test has 2 SPF records"},
        mail={"spf": [GOOD_SPF, "v=spf1 include:sendgrid.net ~all"]},
        frameworks=("flask",),
    ),
    Twin(
        name="mail-spf-plus-all",
        description="SPF ends in +all, 'to stop the bounces': every server on the internet may send as the domain.",
        guide=SPAM,
        breaks={"MAIL-05": r"ends with \+all: any server on the internet may send as preflight\.test"},
        mail={"spf": ["v=spf1 ip4:127.0.0.1 +all"]},
        frameworks=("flask",),
    ),
    Twin(
        name="mail-dmarc-none",
        description="DMARC left at p=none after the monitoring phase: mail that fails SPF and DKIM is delivered.",
        guide=SPAM,
        breaks={"MAIL-05": r"DMARC: _dmarc\.preflight\.test .*has p=none"},
        mail={"dmarc": "v=DMARC1; p=none; rua=mailto:dmarc-reports@preflight.test"},
        frameworks=("flask",),
    ),
    Twin(
        name="mail-dkim-absent",
        description="The mail service signs with selector sandbox2026, but its key was never published in DNS.",
        guide=SPAM,
        breaks={"MAIL-05": r"DKIM: sandbox2026\._domainkey\.preflight\.test has no DKIM key record"},
        mail={"dkim": False},
        frameworks=("flask",),
    ),
    Twin(
        name="mail-mta-sts-testing",
        description="The MTA-STS policy was left in testing mode: senders report failures but still deliver "
        "over stripped or unverified TLS.",
        guide=EMAIL,
        breaks={"MAIL-06": r"mta-sts\.txt has mode: testing"},
        nginx={"mta_sts_mode": "testing"},
        frameworks=("flask",),
    ),
    Twin(
        name="mail-mta-sts-no-policy",
        description="_mta-sts and TLS-RPT are published, but the policy file was never deployed: "
        "https://mta-sts.<domain>/.well-known/mta-sts.txt answers the SPA's shell, as every unknown path does.",
        guide=EMAIL,
        breaks={
            "MAIL-06": r"GET https://mta-sts\.preflight\.test:\d+/\.well-known/mta-sts\.txt answered 200 text/html.*"
            "not a text/plain policy"
        },
        nginx={"mta_sts_mode": None},
        frameworks=("flask",),
    ),
]
