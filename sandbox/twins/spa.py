"""Twins for the SPA checks."""

from __future__ import annotations

from sandbox.twins.model import H, Twin, V

TWINS = [
    Twin(
        name="spa-no-fallback",
        description="nginx `location /` lacks the try_files fallback to /index.html: deep links "
        "and refreshes answer 404.",
        guide=f"{H}: Routing Issues",
        breaks={
            "SPA-01": r"/properties/42 answered 404",
            "NGX-02": r"`location /` \(\S+\) has `try_files \$uri \$uri/ =404` \(\S+\); expected a try_files ending in",
        },
        nginx={"spa_fallback": False},
    ),
    Twin(
        name="spa-assets-fallback",
        description="The /static/ location falls back to /index.html: a missing asset answers "
        "200 text/html instead of 404.",
        guide=f"{H}: Routing Issues",
        breaks={
            "SPA-02": r"answered 200 text/html \(the app shell\): the SPA fallback swallows missing assets",
            "NGX-02": r"/static/js/\S+ .*served by `location /static/` .*`try_files \$uri /index\.html`",
        },
        nginx={"assets_fallback": True},
    ),
    Twin(
        name="spa-shell-cached",
        description="index.html is served with `expires 30d`: browsers keep an old shell that "
        "names bundles a deploy has removed.",
        guide=f"{V}: Static Files Not Loading",
        breaks={
            "SPA-03": r"sends Cache-Control: max-age=2592000",
        },
        nginx={"shell_cache_control": None, "shell_expires": "30d"},
    ),
    Twin(
        name="spa-shell-no-cache-header",
        description="index.html is served with no Cache-Control at all: browsers cache it "
        "heuristically from Last-Modified and keep an old shell after a deploy.",
        guide=f"{V}: Static Files Not Loading",
        breaks={
            "SPA-03": r"expected Cache-Control no-cache",
        },
        nginx={"shell_cache_control": None},
    ),
    Twin(
        name="spa-assets-short-cache",
        description="Hashed assets are cached for one hour (`expires 1h`) instead of 30 days.",
        guide=f"{V}: Static Files Not Loading",
        breaks={
            "SPA-04": r"is cached for 1 hour \(Cache-Control: max-age=3600\)",
        },
        nginx={"assets_expires": "1h", "assets_cache_control": None},
    ),
    Twin(
        name="spa-assets-wrong-type",
        description="mime.types is not included: JS and CSS are served as "
        "application/octet-stream (and so are not gzipped either).",
        guide=f"{V}: Static Files Not Loading",
        breaks={
            "SPA-04": r"served with Content-Type application/octet-stream",
            "SPA-05": r"Content-Encoding \(none\)",
        },
        nginx={"mime_types": False},
    ),
    Twin(
        name="spa-no-gzip",
        description="gzip is off: JS, CSS and HTML go out uncompressed.",
        guide=f"{H}: Slow Performance",
        breaks={
            "SPA-05": r"Content-Encoding \(none\) to Accept-Encoding: gzip, br",
            "NGX-04": r"gzip is off \(\S+\); expected on",
        },
        nginx={"gzip": False},
    ),
    Twin(
        name="spa-dev-build",
        description="The development build was deployed: the bundle calls "
        "http://localhost:5000/api and its source map is public.",
        guide=f"{H}: Build Failures",
        breaks={
            "SPA-06": r"references http://localhost:5000/api.*\.map is served",
        },
        nginx={"build": "dev"},
    ),
    Twin(
        name="spa-api-swallowed",
        description="nginx proxies only /api/v1/, /api/health and /api/auth/: any other /api "
        "path falls into the SPA fallback and answers 200 with the HTML shell.",
        guide=f"{H}: Routing Issues",
        breaks={
            "SPA-07": r"answered 200 text/html \(the app shell\): the SPA fallback swallows unknown API paths",
        },
        nginx={"api_locations": ["/api/v1/", "= /api/health", "/api/auth/"]},
    ),
]
