"""The entry point: preflight's plugin (options, environment, check contract, reports, sandbox)."""

pytest_plugins = ["fixtures.plugin"]
