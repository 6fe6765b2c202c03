"""HOOK: the Stripe webhook endpoint, probed the way Stripe (and an attacker) would call it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from fixtures.check import (
    Ask,
    EnvironmentModel,
    Exchange,
    Need,
    Probe,
    check,
    early_or_now,
    event_payload,
    fail,
    forged_header,
    not_applicable,
    remember,
    signature_header,
)

# The H guide's own probe: curl -X POST .../webhooks/stripe/ -H "Content-Type: application/json" -d '{"test": true}'.
# HOOK-01 and HOOK-02 send exactly these bytes and headers, so they share one exchange.
UNSIGNED_BODY = json.dumps({"test": True}).encode()
JSON = {"Content-Type": "application/json"}


def _unsigned(need: Need, probe: Probe) -> tuple[str, Exchange]:
    url: str = need("webhooks.stripe.url")
    return url, probe.fetch("POST", url, JSON, UNSIGNED_BODY)


def prefetch(env: EnvironmentModel, inputs: Any) -> list[Ask]:
    """HOOK-01 and HOOK-02's unsigned event, and the signed events of HOOK-03, HOOK-04 and HOOK-05, made now and
    kept for their checks (fixtures.early: each sends the same bytes, signed as the run starts)."""
    url, event_type = env.lookup("webhooks.stripe.url"), env.lookup("webhooks.stripe.event_type")
    secret = env.lookup("webhooks.stripe.secret")
    if not url:
        return []
    unsigned = inputs("HOOK-01") is not None or inputs("HOOK-02") is not None
    asks = [Ask("POST", url, tuple(JSON.items()), UNSIGNED_BODY)] if unsigned else []
    signed = [("HOOK-03", lambda _: _forged(url, event_type))]
    if secret:
        signed += [
            ("HOOK-04", lambda selected: _replay(url, secret, event_type, int(selected["replay_age_seconds"]))),
            ("HOOK-05", lambda _: _genuine(url, secret, event_type)),
        ]
    for check_id, made in signed:
        selected = inputs(check_id)
        if selected is not None and event_type:
            key, work = made(selected)
            headers, payload = remember(key, work())
            asks.append(Ask("POST", url, tuple(headers.items()), payload))
    return asks


Signed = tuple[dict[str, str], bytes]


def _forged(url: str, event_type: str) -> tuple[str, Callable[[], Signed]]:
    """(key, work): HOOK-03's event, its Stripe-Signature made now with the wrong key."""

    def work() -> Signed:
        now = int(time.time())
        payload = event_payload(event_type, now, "forged")
        return {**JSON, "Stripe-Signature": forged_header(payload, now)}, payload

    return f"HOOK-03 {url} {event_type}", work


def _replay(url: str, secret: str, event_type: str, age: int) -> tuple[str, Callable[[], Signed]]:
    """(key, work): HOOK-04's event, correctly signed `age` seconds ago."""

    def work() -> Signed:
        signed_at = int(time.time()) - age
        payload = event_payload(event_type, signed_at, "replay")
        return {**JSON, "Stripe-Signature": signature_header(payload, secret, signed_at)}, payload

    return f"HOOK-04 {url} {event_type} {age}", work


def _genuine(url: str, secret: str, event_type: str) -> tuple[str, Callable[[], Signed]]:
    """(key, work): HOOK-05's event, correctly signed now."""

    def work() -> Signed:
        now = int(time.time())
        payload = event_payload(event_type, now)
        return {**JSON, "Stripe-Signature": signature_header(payload, secret, now)}, payload

    return f"HOOK-05 {url} {event_type}", work


def _csrf_refusal(exchange: Exchange) -> bool:
    """A 403 from CSRF protection (Django's CsrfViewMiddleware), not from the webhook handler."""
    return exchange.status == 403 and "csrf" in exchange.text.lower()


def _redirect_note(exchange: Exchange) -> str:
    if 300 <= exchange.status < 400:
        location = exchange.header("location") or "(no Location header)"
        return f" (a redirect to {location}: the event never reached a handler)"
    return ""


def _expect_rejection(url: str, exchange: Exchange, sent: str, accepted: str) -> None:
    """The endpoint must refuse with a 4xx; a 2xx means it accepted what it should not have."""
    if 400 <= exchange.status < 500:
        return
    if 200 <= exchange.status < 300:
        fail(f"POST {url} with {sent} answered {exchange.status}: the endpoint {accepted}")
    fail(
        f"POST {url} with {sent} answered {exchange.status}{_redirect_note(exchange)}, "
        "expected a 4xx rejection (normally 400)"
    )


@check(
    "HOOK-01",
    severity="critical",
    guide=["V: Stripe Webhook Errors", "H: Payment Gateway Failures"],
    references=["Stripe docs: webhooks, respond with a 2xx (3xx counts as a failed delivery)"],
)
def test_webhook_endpoint_is_reachable(need: Need, probe: Probe) -> None:
    """The webhook endpoint is reachable.

    Rationale: "orders not updating after payment" is most often "endpoint not accessible": the
    URL registered in Stripe answers 404 (a missing trailing slash, a route that was renamed, a
    proxy location that does not forward /webhooks/), 405, 5xx, a redirect, or nothing at all.
    Stripe counts every non-2xx answer, redirects included, as a failed delivery, retries for a
    few days and then disables the endpoint. A POST of the H guide's own test body must reach the
    application: a 400 for the missing signature is the healthy answer.

    Fix: make the path in the Stripe Dashboard (Developers, Webhooks, the endpoint) and the app's
    route identical, trailing slash included (Flask: @app.post("/webhooks/stripe/"); Django: the
    urls.py pattern and APPEND_SLASH). Forward /webhooks/ in nginx (`location /webhooks/ {
    proxy_pass http://app; }`), exempt the view from CSRF (Django @csrf_exempt), and register the
    final https:// URL so that nothing redirects.
    """
    url, exchange = _unsigned(need, probe)
    status = exchange.status
    if status == 404:
        fail(f"POST {url} answered 404: no route for the webhook URL (path or trailing slash differ from the app's)")
    if status == 405:
        fail(f"POST {url} answered 405: the route does not accept POST")
    if _csrf_refusal(exchange):
        fail(
            f"POST {url} answered 403: a CSRF failure, so no delivery reaches the handler "
            "(the view is not exempt from CSRF: Django @csrf_exempt)"
        )
    if status >= 500:
        fail(f"POST {url} answered {status}: the handler crashes or its upstream is down")
    if 300 <= status < 400:
        fail(
            f"POST {url} answered {status} redirect to {exchange.header('location') or '(no Location header)'}: "
            "Stripe does not follow redirects, so every delivery fails"
        )


@check(
    "HOOK-02",
    severity="critical",
    guide=["H: Payment Gateway Failures", "H: Webhook Issues"],
    references=["Stripe docs: verify webhook signatures"],
)
def test_unsigned_events_are_rejected(need: Need, probe: Probe) -> None:
    """Unsigned events are rejected.

    Rationale: the webhook URL is public and guessable. A handler that acts on a POST without a
    Stripe-Signature header lets anyone mark an order as paid with one curl command: the H guide's
    own diagnosis, `curl -X POST .../webhooks/stripe/ -d '{"test": true}'`, must get a 4xx
    (normally 400 from the signature check), never a 2xx.

    Fix: build the event only through stripe.Webhook.construct_event(request.get_data(),
    request.headers["Stripe-Signature"], endpoint_secret) with the endpoint's whsec_ secret, and
    answer 400 on ValueError and stripe.SignatureVerificationError before any other work.
    """
    url, exchange = _unsigned(need, probe)
    _expect_rejection(url, exchange, "no Stripe-Signature header", "accepted an unsigned event")


@check(
    "HOOK-03",
    severity="critical",
    guide=["H: Webhook Issues", "V: Stripe Webhook Errors"],
    references=["Stripe docs: verify webhook signatures"],
)
def test_forged_signatures_are_rejected(need: Need, probe: Probe) -> None:
    """Forged signatures are rejected.

    Rationale: a handler that only checks that a Stripe-Signature header is present, or parses it
    without comparing the HMAC, is as open as one that checks nothing: the attacker sends a header
    of the right shape. A well-formed header with the current timestamp and a v1 made with the
    wrong key must get a 4xx.

    Fix: let stripe.Webhook.construct_event (or stripe.WebhookSignature.verify_header) compare the
    v1 HMAC against the endpoint's whsec_ secret; never hand-roll the check, never accept the
    header's mere presence, and answer 400 on stripe.SignatureVerificationError.
    """
    url: str = need("webhooks.stripe.url")
    event_type: str = need("webhooks.stripe.event_type")
    headers, payload = early_or_now(*_forged(url, event_type))
    exchange = probe.fetch("POST", url, headers, payload)
    _expect_rejection(
        url, exchange, "a forged Stripe-Signature (current t, wrong v1)", "accepted a forged event (wrong HMAC)"
    )


@check(
    "HOOK-04",
    severity="high",
    guide=["H: Webhook Issues", "V: Stripe Webhook Errors"],
    inputs={"replay_age_seconds": 301},
    references=["Stripe docs: preventing replay attacks (default tolerance 300 s)"],
)
def test_replays_are_rejected(need: Need, probe: Probe, inputs: dict[str, Any]) -> None:
    """Replayed events are rejected.

    Rationale: a correctly signed delivery captured once (from a log, a proxy, a debugging
    session) stays valid forever if the handler checks the HMAC but not its timestamp. Stripe's
    libraries reject a signature older than 300 s; an event signed with the real secret 301 s ago
    must get a 4xx.

    Fix: call stripe.Webhook.construct_event with its default tolerance (300 s), never
    tolerance=None or 0, and keep the server clock in sync (NTP) so that genuine events stay inside it.
    """
    url: str = need("webhooks.stripe.url")
    secret: str = need("webhooks.stripe.secret")
    event_type: str = need("webhooks.stripe.event_type")
    age = int(inputs["replay_age_seconds"])
    headers, payload = early_or_now(*_replay(url, secret, event_type, age))
    exchange = probe.fetch("POST", url, headers, payload)
    _expect_rejection(
        url, exchange, f"a correct signature timestamped {age} s ago", f"accepted a replayed event signed {age} s ago"
    )


@check(
    "HOOK-05",
    severity="high",
    guide=["V: Stripe Webhook Errors", "H: Webhook Issues"],
    inputs={"budget_seconds": 10},
    intrusive=True,
    references=["Stripe docs: webhooks, respond quickly with a 2xx"],
)
def test_genuine_events_are_accepted(need: Need, probe: Probe, inputs: dict[str, Any]) -> None:
    """Genuine events are accepted.

    Rationale: the V guide's first cause of "orders not updating after payment" is a webhook
    secret mismatch: the app verifies with a whsec_ from another endpoint, another mode (test vs
    live) or a stale deploy, so every real event fails the signature check with 400 and Stripe
    keeps retrying. An event of the configured harmless type, signed now with the environment's
    endpoint secret, must get a 2xx within the budget; the observed time is reported.

    Fix: set STRIPE_WEBHOOK_SECRET to the signing secret shown for this exact endpoint in the
    Stripe Dashboard (Developers, Webhooks, the endpoint, Signing secret) and redeploy; the app
    must pass that value to stripe.Webhook.construct_event. Acknowledge with 2xx first and do slow
    work in a background job so the answer stays inside the budget.
    """
    url: str = need("webhooks.stripe.url")
    secret: str = need("webhooks.stripe.secret")
    event_type: str = need("webhooks.stripe.event_type")
    budget = float(inputs["budget_seconds"])
    headers, payload = early_or_now(*_genuine(url, secret, event_type))
    exchange = probe.fetch("POST", url, headers, payload)
    status, took = exchange.status, exchange.elapsed
    if 200 <= status < 300:
        if took > budget:
            fail(
                f"POST {url} accepted a genuine {event_type!r} event with {status} but took {took:.1f} s, "
                f"over the {budget:g} s budget (inputs.HOOK-05.budget_seconds)"
            )
        return
    if _csrf_refusal(exchange):
        fail(
            f"POST {url} rejected a genuine {event_type!r} event: answered 403 in {took:.2f} s, a CSRF failure "
            "before any signature check (the view is not exempt from CSRF: Django @csrf_exempt)"
        )
    if status in (400, 401, 403):
        fail(
            f"POST {url} rejected a genuine {event_type!r} event signed with webhooks.stripe.secret: answered {status} "
            f"in {took:.2f} s; the app verifies with another whsec_ secret than this endpoint's (webhook secret "
            "mismatch) or its clock is off by more than 300 s"
        )
    fail(
        f"POST {url} answered {status}{_redirect_note(exchange)} in {took:.2f} s to a genuine {event_type!r} event, "
        f"expected a 2xx within {budget:g} s"
    )


@check(
    "HOOK-06",
    severity="high",
    guide=["H: Payment Gateway Failures", "V: SSL/HTTPS Issues"],
    references=["Stripe docs: webhook endpoints must use HTTPS in live mode"],
    standards=["ASVS:V9.2.2"],
)
def test_webhook_endpoint_uses_https(need: Need, env: EnvironmentModel) -> None:
    """The webhook endpoint uses HTTPS.

    Rationale: over http:// every payment event (customer, amount, metadata) and its signature
    travel in clear text, and anything on the path can read or delay them. Stripe refuses
    plain-HTTP endpoints in live mode, and an http:// URL that nginx redirects to https:// fails
    every delivery because Stripe does not follow redirects. In a production environment the
    configured webhook URL must be https://.

    Fix: register the https:// URL of the endpoint in the Stripe Dashboard and in
    webhooks.stripe.url, with a certificate from a public CA, and keep the plain-HTTP listener a
    bare redirect for browsers only.
    """
    url: str = need("webhooks.stripe.url")
    if not env.production:
        not_applicable("production is not set in the environment")
    if urlsplit(url).scheme != "https":
        fail(f"webhooks.stripe.url is {url}: a production webhook endpoint must use https://, not http://")
