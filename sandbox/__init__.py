"""The preflight sandbox: a known-good web stack on 127.0.0.1 and its named misconfigurations.

Import what you need from its modules (sandbox.stack starts it, sandbox.twins declares the twins,
sandbox.plugin is its pytest plugin). This package imports nothing itself, so that reading a
state file or a twin costs nothing of the apps.
"""
