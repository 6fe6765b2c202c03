"""The entry point: preflight's plugin, and the sandbox's plugin when the sandbox extra is installed.

preflight never imports the sandbox; a production install (without the extra) runs without it.
"""

from importlib.util import find_spec

pytest_plugins = ["fixtures.plugin"]
if find_spec("trustme") is not None:  # the sandbox extra (pyproject.toml) is installed
    pytest_plugins.append("sandbox.plugin")
