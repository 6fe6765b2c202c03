"""The sending domain's DNS: dnsmasq from Debian answering for the sandbox's mail domain on a free loopback port,
with the records a receiving server and internet.nl read: SPF, DMARC, DKIM (a real RSA key pair under a declared
selector), MTA-STS and TLS-RPT (V: Email Issues, "Emails Going to Spam")."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox.parts import MAIL_DOMAIN, MailKnobs
from sandbox.proc import HOST, Process, Supervisor, free_port

DKIM_SELECTOR = "sandbox2026"
MTA_STS_ID = "20261201T000000"
# TXT character-strings hold 255 bytes at most: a 2048-bit key's record is split into several, as zone tools do.
TXT_CHUNK = 250


def dkim_key(directory: Path) -> str:
    """A fresh RSA key pair (the private half stays in `directory`, as an MTA's signer would keep it);
    the public half as a DKIM record's p= value."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (directory / f"{DKIM_SELECTOR}.private").write_bytes(private)
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(public).decode()


def records(knobs: MailKnobs, public_key: str) -> list[tuple[str, str]]:
    """(name, text) of every TXT record the domain publishes under these knobs."""
    domain = MAIL_DOMAIN
    found = [(domain, spf) for spf in knobs.spf]
    if knobs.dmarc is not None:
        found.append((f"_dmarc.{domain}", knobs.dmarc))
    if knobs.dkim:
        found.append((f"{DKIM_SELECTOR}._domainkey.{domain}", f"v=DKIM1; k=rsa; p={public_key}"))
    if knobs.mta_sts_record:
        found.append((f"_mta-sts.{domain}", f"v=STSv1; id={MTA_STS_ID}"))
    if knobs.tls_rpt:
        found.append((f"_smtp._tls.{domain}", f"v=TLSRPTv1; rua=mailto:tls-reports@{domain}"))
    return found


def _txt_option(name: str, text: str) -> str:
    chunks = [text[i : i + TXT_CHUNK] for i in range(0, len(text), TXT_CHUNK)]
    return f"--txt-record={name}," + ",".join(f'"{chunk}"' for chunk in chunks)


class MailDns:
    """dnsmasq answering for MAIL_DOMAIN alone: its records, NXDOMAIN for any other name in it, nothing upstream."""

    def __init__(self, name: str, directory: Path, knobs: MailKnobs) -> None:
        self.name = name
        self.directory = directory
        self.knobs = knobs
        self.port = 0

    @property
    def resolver(self) -> str:
        return f"{HOST}:{self.port}"

    def start(self, supervisor: Supervisor, deadline: float) -> Process:
        self.directory.mkdir(parents=True, exist_ok=True)
        public_key = dkim_key(self.directory)
        # One option a line, as dnsmasq's --conf-file reads them: TXT records quoted, split into strings.
        lines = [_txt_option(name, text).removeprefix("--") for name, text in records(self.knobs, public_key)]
        lines += [f"host-record=mta-sts.{MAIL_DOMAIN},{HOST}", f"host-record=mail.{MAIL_DOMAIN},{HOST}"]
        lines.append(f"mx-host={MAIL_DOMAIN},mail.{MAIL_DOMAIN},10")
        config = self.directory / "dnsmasq.conf"
        config.write_text("\n".join(lines) + "\n")
        binary = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"

        def launch() -> Process:
            self.port = free_port()
            argv = [
                binary,
                "--keep-in-foreground",
                f"--conf-file={config}",
                f"--port={self.port}",
                f"--listen-address={HOST}",
                "--bind-interfaces",
                "--no-resolv",
                "--no-hosts",
                "--no-poll",
                "--pid-file=",
                f"--local=/{MAIL_DOMAIN}/",
                "--user=nobody",
                "--group=nogroup",
                "--log-facility=-",
                "--log-queries",
            ]
            return supervisor.spawn(f"dnsmasq {self.name}", argv, self.directory / "dnsmasq.log")

        return supervisor.spawn_retrying(launch, lambda p: p.wait_port(self.port, deadline))
