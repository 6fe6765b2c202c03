"""The "built" single-page app nginx serves: an HTML shell plus content-hashed JS and CSS bundles.

The production build reads the API's base URL from the runtime config the shell carries
(`<script id="app-config">`, `/api` as built; nginx rewrites it per deployment, the way an
entrypoint's envsubst does) and ships no source maps. The development build (a twin) calls a
developer's local API server whatever the config says, and publishes its source map. The broken
build (a twin) throws at start-up: a white screen.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

PROD_API_URL = "/api"
DEV_API_URL = "http://localhost:5000/api"


def config_json(api_url: str) -> str:
    """The shell's runtime config; nginx's sub_filter replaces the built text (sandbox/nginx.py)."""
    return json.dumps({"apiUrl": api_url})


CONFIG_JSON = config_json(PROD_API_URL)

_JS = """\
/* preflight sandbox SPA: a tiny router and a properties list, rendered into #root. */
(function () {
  "use strict";
  const config = readConfig();
%(startup)s  const API_URL = %(api_url)s;
  const root = document.getElementById("root");

  function readConfig() {
    const node = document.getElementById("app-config");
    try {
      return node ? JSON.parse(node.textContent) : {};
    } catch (error) {
      return {};
    }
  }

  function cookie(name) {
    const prefix = name + "=";
    for (const part of document.cookie.split(";")) {
      const item = part.trim();
      if (item.startsWith(prefix)) return decodeURIComponent(item.slice(prefix.length));
    }
    return null;
  }

  function api(path, options) {
    const opts = Object.assign({ credentials: "include", headers: {} }, options || {});
    const csrf = cookie("csrftoken");
    if (csrf && opts.method && opts.method !== "GET") opts.headers["X-CSRFToken"] = csrf;
    return fetch(API_URL + path, opts).then(function (res) {
      if (!res.ok) throw new Error("API " + path + " answered " + res.status);
      return res.json();
    });
  }

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(function ([key, value]) { node.setAttribute(key, value); });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function renderList(properties) {
    return el("ul", { class: "properties" }, properties.map(function (p) {
      return el("li", { class: "property" }, [
        el("a", { href: "/properties/" + p.id, "data-link": "" }, [p.title]),
        el("span", { class: "city" }, [p.city]),
        el("span", { class: "price" }, [String(p.price_per_month) + " " + p.currency]),
      ]);
    }));
  }

  function route() {
    const path = window.location.pathname;
    root.replaceChildren(el("p", { class: "loading" }, ["Loading..."]));
    let match = path.match(/^\\/properties\\/(\\d+)$/);
    if (match) {
      return api("/v1/properties/" + match[1]).then(function (p) {
        root.replaceChildren(el("article", { class: "property-detail" }, [
          el("h1", {}, [p.title]), el("p", {}, [p.city]),
        ]));
      });
    }
    if (path === "/account" || path.startsWith("/account/")) {
      root.replaceChildren(el("h1", {}, ["Your account"]), el("p", {}, ["Sign in to continue."]));
      return Promise.resolve();
    }
    return api("/v1/properties").then(function (properties) {
      root.replaceChildren(el("h1", {}, ["Properties"]), renderList(properties));
    });
  }

  document.addEventListener("click", function (event) {
    const link = event.target.closest("a[data-link]");
    if (!link) return;
    event.preventDefault();
    window.history.pushState({}, "", link.getAttribute("href"));
    route().catch(showError);
  });
  window.addEventListener("popstate", function () { route().catch(showError); });

  function showError(error) {
    root.replaceChildren(el("p", { class: "error", role: "alert" }, [String(error.message)]));
  }

  route().catch(showError);
})();
"""

_CSS = """\
/* preflight sandbox SPA styles */
:root {
  --fg: #1d2330;
  --muted: #5b6473;
  --accent: #2457d6;
  --bg: #f7f8fa;
  --card: #ffffff;
  --radius: 8px;
}
* { box-sizing: border-box; }
html, body { margin: 0; padding: 0; }
body {
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--fg);
  background: var(--bg);
  line-height: 1.5;
}
header.site {
  display: flex;
  align-items: center;
  justify-content: space-between;
  padding: 12px 24px;
  background: var(--card);
  border-bottom: 1px solid #e3e6eb;
}
header.site a { color: var(--accent); text-decoration: none; font-weight: 600; }
main#root { max-width: 960px; margin: 24px auto; padding: 0 24px; }
.loading { color: var(--muted); font-style: italic; }
.error { color: #b42318; background: #fef3f2; padding: 12px; border-radius: var(--radius); }
ul.properties { list-style: none; margin: 0; padding: 0; display: grid; gap: 12px; }
li.property {
  display: grid;
  grid-template-columns: 1fr auto auto;
  gap: 16px;
  padding: 16px;
  background: var(--card);
  border-radius: var(--radius);
  box-shadow: 0 1px 2px rgba(16, 24, 40, 0.06);
}
li.property a { color: var(--accent); text-decoration: none; }
li.property .city { color: var(--muted); }
li.property .price { font-variant-numeric: tabular-nums; }
article.property-detail h1 { margin-top: 0; }
footer.site { text-align: center; color: var(--muted); font-size: 14px; padding: 24px; }
@media (max-width: 600px) {
  li.property { grid-template-columns: 1fr; gap: 4px; }
}
"""

_HTML = """\
<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="description" content="preflight sandbox: the reference single-page app served by nginx">
  <meta name="theme-color" content="#2457d6">
  <title>preflight sandbox</title>
  <!-- Built assets carry a content hash in their names, so they can be cached for a long
       time; this shell must not be cached, or a deploy keeps serving the old bundle names. -->
  <link rel="preload" href="/static/js/%(js)s" as="script">
  <link rel="stylesheet" href="/static/css/%(css)s">
</head>
<body>
  <header class="site">
    <a href="/" data-link>preflight homes</a>
    <nav aria-label="Main">
      <a href="/properties/42" data-link>Featured</a>
      <a href="/account" data-link>Account</a>
    </nav>
  </header>
  <noscript>
    <p>This application needs JavaScript. Enable it in your browser settings and reload.</p>
  </noscript>
  <!-- The router renders every client-side route (/, /properties/:id, /account) here. -->
  <div id="root"></div>
  <!-- Runtime config: the same build runs on every deployment. -->
  <script id="app-config" type="application/json">%(config)s</script>
  <footer class="site">
    <p>Reference deployment for the preflight conformance suite. Not a real listing site.</p>
  </footer>
  <script src="/static/js/%(js)s" defer></script>
</body>
</html>
"""


@dataclass(frozen=True)
class Build:
    root: Path
    js: str
    css: str
    source_map: str | None


def _hashed_name(stem: str, ext: str, content: bytes) -> str:
    return f"{stem}.{hashlib.sha256(content).hexdigest()[:8]}.{ext}"


# A release that reads a config key the deployed runtime config lacks: TypeError before rendering.
_BROKEN_STARTUP = "  const features = config.features.enabled;\n"


def build(root: Path, *, dev: bool = False, broken: bool = False) -> Build:
    """Write the shell and its assets into root (the nginx web root)."""
    js_dir, css_dir = root / "static" / "js", root / "static" / "css"
    js_dir.mkdir(parents=True, exist_ok=True)
    css_dir.mkdir(parents=True, exist_ok=True)

    api_url = json.dumps(DEV_API_URL) if dev else f"config.apiUrl || {json.dumps(PROD_API_URL)}"
    js = (_JS % {"api_url": api_url, "startup": _BROKEN_STARTUP if broken else ""}).encode()
    js_name = _hashed_name("main", "js", js)
    source_map = None
    if dev:
        source_map = js_name + ".map"
        js += f"//# sourceMappingURL={source_map}\n".encode()
        sources = {
            "version": 3,
            "file": js_name,
            "sources": ["src/index.js"],
            "sourcesContent": [_JS],
            "names": [],
            "mappings": "",
        }
        (js_dir / source_map).write_text(json.dumps(sources))
    (js_dir / js_name).write_bytes(js)

    css = _CSS.encode()
    css_name = _hashed_name("main", "css", css)
    (css_dir / css_name).write_bytes(css)

    (root / "index.html").write_text(_HTML % {"js": js_name, "css": css_name, "config": CONFIG_JSON})
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return Build(root=root, js=js_name, css=css_name, source_map=source_map)


# What a manual deploy (`cp -r` of a working copy, an editor, a database dump) leaves in the web root.
LEFTOVERS = {
    ".env": "FLASK_ENV=production\nSECRET_KEY=leftover-not-a-real-key\nDATABASE_URL=postgresql://app@db/app\n",
    ".git/config": '[core]\n\trepositoryformatversion = 0\n[remote "origin"]\n\turl = git@git.example:web/app.git\n',
    ".git/HEAD": "ref: refs/heads/main\n",
    "index.html.bak": "<!doctype html><html><head><title>old shell</title></head><body></body></html>\n",
    "dump.sql": "-- PostgreSQL database dump\nCREATE TABLE users (id integer, email text);\n",
}


def build_with_leftovers(root: Path) -> Build:
    """The production build plus the files a careless deploy leaves next to it (LEFTOVERS)."""
    built = build(root)
    for name, content in LEFTOVERS.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return built
