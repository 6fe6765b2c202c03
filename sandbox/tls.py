"""A private CA and the certificates nginx presents: localhost, 127.0.0.1, {app,api}.preflight.test.

The CA is two levels, as public CAs are: a root (trustme) signs an intermediate, which signs the
leaves. nginx presents the leaf and the intermediate (a full chain); the CA bundle
(SANDBOX_CA_BUNDLE) holds the root and the current intermediate.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Like an ACME certificate: comfortably inside the 30-day renewal window checks look for.
LEAF_LIFETIME = datetime.timedelta(days=90)
ORGANIZATION = "preflight sandbox"
INTERMEDIATE_CN = "preflight sandbox intermediate CA"
# The good leaf's names. The browser check (UI-01) loads the SPA from the app origin and calls the API
# cross-origin. The mail domain's MTA (mail.) and its MTA-STS policy (mta-sts.) are the sandbox too.
NAMES = (
    "localhost",
    "127.0.0.1",
    "app.preflight.test",
    "api.preflight.test",
    "mail.preflight.test",
    "mta-sts.preflight.test",
)


class Variant(NamedTuple):
    """A leaf that twins present instead of the good one (nginx knob `certificate`)."""

    identities: tuple[str, ...]
    begins: datetime.timedelta  # not_before, relative to now
    ends: datetime.timedelta  # not_after, relative to now
    # The intermediate the chain file carries: "current", or "expired", the one the CA replaced (same
    # subject and key), which the chain file was never updated from.
    intermediate: str = "current"


VARIANTS: dict[str, Variant] = {
    # The renewal job stopped: the certificate ran out two days ago.
    "expired": Variant(NAMES, datetime.timedelta(days=-92), datetime.timedelta(days=-2)),
    # Renewal is failing and three days are left.
    "expiring": Variant(NAMES, datetime.timedelta(days=-87), datetime.timedelta(days=3)),
    # The certificate of another site was deployed on this one.
    "other-name": Variant(("www.other.test",), datetime.timedelta(hours=-1), LEAF_LIFETIME),
    # A good leaf, but the chain file still carries the intermediate the CA has since renewed.
    "intermediate-expired": Variant(NAMES, datetime.timedelta(hours=-1), LEAF_LIFETIME, intermediate="expired"),
}


@dataclass(frozen=True)
class Certificates:
    ca_bundle: Path
    server_chain: Path
    server_key: Path
    # variant name -> (chain, key), for the VARIANTS that were asked for
    variants: dict[str, tuple[Path, Path]] = field(default_factory=dict)

    def pair(self, name: str) -> tuple[Path, Path]:
        """(chain, key) of the good certificate ("good") or of a variant."""
        if name == "good":
            return self.server_chain, self.server_key
        if name not in self.variants:
            raise KeyError(f"certificate variant {name!r} was not made (known: good, {', '.join(VARIANTS)})")
        return self.variants[name]


@dataclass(frozen=True)
class Intermediate:
    key: ec.EllipticCurvePrivateKey
    current: x509.Certificate
    expired: x509.Certificate  # the same subject and key, valid until two days ago


def make_certificates(directory: Path, variants: Iterable[str] = ()) -> Certificates:
    directory.mkdir(parents=True, exist_ok=True)
    root = trustme.CA(organization_name=ORGANIZATION)
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    intermediate = _intermediate(root, now)
    made: dict[str, tuple[Path, Path]] = {}
    for name in dict.fromkeys(v for v in variants if v != "good"):
        variant = VARIANTS[name]
        files = (directory / f"{name}-chain.pem", directory / f"{name}-key.pem")
        made[name] = _leaf(intermediate, variant, now, *files)
    certs = Certificates(
        ca_bundle=directory / "ca.pem",
        server_chain=directory / "server-chain.pem",
        server_key=directory / "server-key.pem",
        variants=made,
    )
    certs.ca_bundle.write_bytes(root.cert_pem.bytes() + _pem(intermediate.current))
    _leaf(
        intermediate,
        Variant(NAMES, datetime.timedelta(hours=-1), LEAF_LIFETIME),
        now,
        certs.server_chain,
        certs.server_key,
    )
    return certs


def _intermediate(root: trustme.CA, now: datetime.datetime) -> Intermediate:
    """The root's intermediate, renewed: its current certificate and the one it replaced."""
    root_key = serialization.load_pem_private_key(root.private_key_pem.bytes(), password=None)
    assert isinstance(root_key, ec.EllipticCurvePrivateKey)
    root_cert = x509.load_pem_x509_certificate(root.cert_pem.bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(INTERMEDIATE_CN)

    def issue(begins: datetime.datetime, ends: datetime.datetime) -> x509.Certificate:
        builder = (
            _builder(subject, root_cert.subject, key.public_key(), begins, ends)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(ca=True), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        )
        return builder.sign(root_key, hashes.SHA256())

    year = datetime.timedelta(days=365)
    return Intermediate(
        key=key,
        current=issue(now - datetime.timedelta(days=30), now + 5 * year),
        expired=issue(now - 5 * year, now - datetime.timedelta(days=2)),
    )


def _leaf(
    intermediate: Intermediate, variant: Variant, now: datetime.datetime, chain: Path, key_file: Path
) -> tuple[Path, Path]:
    """A server certificate issued by the intermediate; chain: the leaf, then the variant's intermediate."""
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for identity in variant.identities:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(identity)))
        except ValueError:
            names.append(x509.DNSName(identity))
    issuer = intermediate.current.subject
    cert = (
        _builder(_name(variant.identities[0]), issuer, key.public_key(), now + variant.begins, now + variant.ends)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(intermediate.key.public_key()), critical=False
        )
        .sign(intermediate.key, hashes.SHA256())
    )
    presented = intermediate.expired if variant.intermediate == "expired" else intermediate.current
    chain.write_bytes(_pem(cert) + _pem(presented))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_file.chmod(0o600)
    return chain, key_file


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    begins: datetime.datetime,
    ends: datetime.datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(begins)
        .not_valid_after(ends)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)
