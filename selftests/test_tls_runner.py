"""TLS checks that depend on the runner: an OpenSSL that cannot offer TLS 1.0/1.1, and no CA bundle.

Neither may pass: a check that could not observe what it asserts fails and says why.
"""

from __future__ import annotations

from pathlib import Path

from selftests.harness import LOCAL, Stack, write_env

# What a hardened distribution's openssl.cnf does: legacy versions are switched off for every client.
NO_LEGACY = """\
openssl_conf = preflight_conf
[preflight_conf]
ssl_conf = preflight_ssl
[preflight_ssl]
system_default = preflight_system_default
[preflight_system_default]
Protocol = -TLSv1, -TLSv1.1
"""


def test_legacy_tls_the_runner_cannot_offer_fails(stack: Stack, tmp_path: Path) -> None:
    conf = tmp_path / "openssl.cnf"
    conf.write_text(NO_LEGACY)
    run = stack.run(LOCAL, "no-legacy", "-k", "TLS-04", extra_env={"OPENSSL_CONF": str(conf)})
    record = run.record("TLS-04")
    assert record["outcome"] == "failed", record
    for version in ("TLS 1.0", "TLS 1.1"):
        assert f"could not offer {version}" in record["message"], record["message"]
    assert "was not observed" in record["message"], record["message"]


def test_certificate_without_the_ca_bundle_is_untrusted(stack: Stack, tmp_path: Path) -> None:
    env = write_env(tmp_path / "no-ca.yml", {"extends": str(LOCAL), "name": "no-ca", "tls": {"ca_bundle": None}})
    run = stack.run(env, "no-ca", "-k", "TLS-03")
    record = run.record("TLS-03")
    assert record["outcome"] == "failed", record
    assert "the certificate chain is not trusted through the system trust store" in record["message"], record
