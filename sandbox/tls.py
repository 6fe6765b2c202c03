"""A private CA (trustme) and the server certificate nginx presents: localhost, 127.0.0.1, {app,api}.preflight.test."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

import trustme

# Like an ACME certificate: comfortably inside the 30-day renewal window checks look for.
LEAF_LIFETIME = datetime.timedelta(days=90)


@dataclass(frozen=True)
class Certificates:
    ca_bundle: Path
    server_chain: Path
    server_key: Path


def make_certificates(directory: Path) -> Certificates:
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="preflight sandbox")
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    leaf = ca.issue_cert(
        "localhost",
        "127.0.0.1",
        # The browser check (UI-01) loads the SPA from the app origin and calls the API cross-origin.
        "app.preflight.test",
        "api.preflight.test",
        common_name="localhost",
        not_before=now - datetime.timedelta(hours=1),
        not_after=now + LEAF_LIFETIME,
    )
    certs = Certificates(
        ca_bundle=directory / "ca.pem",
        server_chain=directory / "server-chain.pem",
        server_key=directory / "server-key.pem",
    )
    ca.cert_pem.write_to_path(str(certs.ca_bundle))
    certs.server_chain.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(certs.server_key))
    certs.server_key.chmod(0o600)
    return certs
