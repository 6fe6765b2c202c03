"""Twins of the server-rendered sites (frameworks django-site, flask-site): caching and compression of
their static files, a public source map, a page without its login check, an unthrottled form login, and
pagination links that forget the site is behind HTTPS."""

from __future__ import annotations

from sandbox.twins.model import SITE_FRAMEWORKS, H, Twin, V

TWINS = [
    Twin(
        name="site-unhashed-cached-long",
        description="nginx keeps every file under /static/ for a year, the unhashed /static/css/style.css too: "
        "after a deploy browsers keep the old stylesheet for up to a year.",
        guide=f"{V}: Static Files Not Loading",
        breaks={"SPA-04": r"/static/css/style\.css has no content hash in its name and is cached for 365 days"},
        nginx={"unhashed_assets_expires": "365d"},
        frameworks=("flask-site",),
    ),
    Twin(
        name="site-gzip-no-types",
        description="`gzip on` without gzip_types: nginx compresses text/html only, so the bundled JS and CSS "
        "go out raw.",
        guide=f"{H}: Frontend Issues",
        breaks={"SPA-05": r"/static/(dist/)?app\.[0-9a-f]+\.js \(\d+ bytes.*came back with Content-Encoding \(none\)"},
        nginx={"gzip_types": False},
        frameworks=SITE_FRAMEWORKS,
    ),
    Twin(
        name="site-public-source-map",
        description="The development build of the front end was deployed: the pages behind the login load "
        "app.<hash>.js, which names its source map, and /static/dist/app.<hash>.js.map is served to anyone.",
        guide=f"{H}: Frontend Issues",
        breaks={
            "SPA-06": r"/static/dist/app\.[0-9a-f]{8}\.js\.map is served .*without a login: the source map is public"
        },
        nginx={"build": "dev"},
        frameworks=("flask-site",),
    ),
    Twin(
        name="site-page-not-gated",
        description="The account page's view forgot @login_required: anonymous visitors get the page (200) "
        "instead of a redirect to the login page.",
        guide=f"{H}: Authentication Bypass",
        breaks={"AUTH-01": r"GET \S+/account/? answered 200 text/html without credentials: the page is open"},
        app={"site": {"unprotected": ["/account/", "/account"]}},
        frameworks=SITE_FRAMEWORKS,
    ),
    Twin(
        name="site-login-unlimited",
        description="The login location has no limit_req: a burst of failed form logins is never throttled.",
        guide=f"{H}: DDoS Attacks",
        breaks={
            "AUTH-04": r"answers 200 x\d+: none answered 429 after \d+ failed logins \(a failed login answers 200",
            "NGX-03": r"/(accounts/)?login/? is served by `location = \S+` .* no limit_req: login is not rate limited",
        },
        nginx={"limit_login": False},
        frameworks=SITE_FRAMEWORKS,
    ),
    Twin(
        name="site-api-links-http",
        description="The Flask site does not trust X-Forwarded-Proto (no ProxyFix): the pagination links of "
        "its API behind the login are built as http://.",
        guide=f"{V}: SSL/HTTPS Issues",
        breaks={
            "TLS-05": r"/api/v1/properties \(logged in\) links to http://localhost/api/v1/properties\?page=2 \(at next"
        },
        app={"trust_proxy": False},
        frameworks=("flask-site",),
    ),
    Twin(
        name="site-debug-on",
        description="The Django site runs with DEBUG = True (V: Debug Mode): an unknown page answers Django's "
        "technical 404, which lists the URLconf; there is no API whose errors would show it.",
        guide=f"{V}: Debug Mode",
        breaks={
            "APP-03": r"GET \S+/preflight-no-such-route answered 404 text/html showing .*Django's technical 404 page"
        },
        app={"debug": True},
        frameworks=("django-site",),
    ),
]
