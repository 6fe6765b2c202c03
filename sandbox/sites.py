"""The static files of the server-rendered sites, built before their apps start.

Both sites load the same front end (sandbox/frontend/: app.js, app.css, style.css). The Flask site
gets it as a bundler would write it: content-hashed copies under static/dist/ and a manifest.json
the app reads to name them, plus style.css under its own name in static/css/. The Django site gets
it from Django's own `collectstatic` with ManifestStaticFilesStorage (site.<12 hex>.css and
staticfiles.json), in a process of its own. nginx serves either folder under /static/.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from sandbox.appserver import write_settings
from sandbox.proc import SandboxError

FRONTEND = Path(__file__).resolve().parent / "frontend"
MANIFEST = "manifest.json"


def _hashed(name: str, content: bytes) -> str:
    stem, _, ext = name.rpartition(".")
    return f"{stem}.{hashlib.md5(content).hexdigest()[:8]}.{ext}"


def build_flask_site(root: Path, *, dev: bool = False) -> Path:
    """static/dist/app.<hash>.js and .css, static/css/style.css and the manifest; the root nginx serves.

    dev: the development build, whose script names its source map, written next to it.
    """
    dist, css = root / "static" / "dist", root / "static" / "css"
    dist.mkdir(parents=True, exist_ok=True)
    css.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, str] = {}
    for name in ("app.js", "app.css"):
        content = (FRONTEND / name).read_bytes()
        hashed = _hashed(name, content)
        if dev and name.endswith(".js"):
            source_map = {"version": 3, "file": hashed, "sources": [f"src/{name}"], "names": [], "mappings": ""}
            source_map["sourcesContent"] = [content.decode()]
            (dist / f"{hashed}.map").write_text(json.dumps(source_map))
            content += f"//# sourceMappingURL={hashed}.map\n".encode()
        (dist / hashed).write_bytes(content)
        manifest[name] = f"dist/{hashed}"
    (css / "style.css").write_bytes((FRONTEND / "style.css").read_bytes())
    manifest["style.css"] = "css/style.css"
    (dist / MANIFEST).write_text(json.dumps(manifest, indent=2))
    _readable(root)
    return root


def collect_django_site(root: Path, timeout: float = 60.0) -> Path:
    """`django-admin collectstatic` of sandbox.django_site into root/static; the root nginx serves."""
    directory = root.parent / f"{root.name}-collect"
    # collectstatic reads the site's settings, which want every setting the stack writes; none is used.
    placeholders = {
        "secret_key": "collectstatic",
        "database_url": "postgresql://collectstatic@localhost/none",
        "webhook_secret": "whsec_collectstatic",
        "static_root": str(root / "static"),
    }
    env = write_settings(directory, placeholders, "django-site")
    log = directory / "collectstatic.log"
    argv = [sys.executable, "-m", "django", "collectstatic", "--noinput", "--verbosity", "1"]
    with open(log, "wb") as out:
        done = subprocess.run(argv, env=env, cwd=directory, stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
    if done.returncode != 0:
        raise SandboxError(f"collectstatic of the Django site failed (exit {done.returncode}; log: {log})")
    _readable(root)
    return root


def _readable(root: Path) -> None:
    """nginx's workers (the invoking user, or as root a user of that name) read every file."""
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
