"""A private CA (trustme) and the server certificate nginx presents: localhost, 127.0.0.1, {app,api}.preflight.test."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import trustme

# Like an ACME certificate: comfortably inside the 30-day renewal window checks look for.
LEAF_LIFETIME = datetime.timedelta(days=90)

# Other leaves of the same CA that twins present instead of the good one (nginx knob `certificate`):
# name -> (identities, not_before and not_after relative to now).
# The good leaf's names. The browser check (UI-01) loads the SPA from the app origin and calls the API
# cross-origin.
NAMES = ("localhost", "127.0.0.1", "app.preflight.test", "api.preflight.test")
VARIANTS: dict[str, tuple[tuple[str, ...], datetime.timedelta, datetime.timedelta]] = {
    # The renewal job stopped: the certificate ran out two days ago.
    "expired": (NAMES, datetime.timedelta(days=-92), datetime.timedelta(days=-2)),
    # Renewal is failing and three days are left.
    "expiring": (NAMES, datetime.timedelta(days=-87), datetime.timedelta(days=3)),
    # The certificate of another site was deployed on this one.
    "other-name": (("www.other.test",), datetime.timedelta(hours=-1), LEAF_LIFETIME),
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


def make_certificates(directory: Path, variants: Iterable[str] = ()) -> Certificates:
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="preflight sandbox")
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    leaf = ca.issue_cert(
        *NAMES,
        common_name="localhost",
        not_before=now - datetime.timedelta(hours=1),
        not_after=now + LEAF_LIFETIME,
    )
    made: dict[str, tuple[Path, Path]] = {}
    for name in dict.fromkeys(v for v in variants if v != "good"):
        identities, begins, ends = VARIANTS[name]
        other = ca.issue_cert(*identities, common_name=identities[0], not_before=now + begins, not_after=now + ends)
        made[name] = _write(other, directory / f"{name}-chain.pem", directory / f"{name}-key.pem")
    certs = Certificates(
        ca_bundle=directory / "ca.pem",
        server_chain=directory / "server-chain.pem",
        server_key=directory / "server-key.pem",
        variants=made,
    )
    ca.cert_pem.write_to_path(str(certs.ca_bundle))
    _write(leaf, certs.server_chain, certs.server_key)
    return certs


def _write(leaf: trustme.LeafCert, chain: Path, key: Path) -> tuple[Path, Path]:
    chain.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key))
    key.chmod(0o600)
    return chain, key
