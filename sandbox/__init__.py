"""The preflight sandbox: a known-good web stack on 127.0.0.1 and its named misconfigurations."""

from sandbox.stack import Sandbox, SandboxError, start
from sandbox.twins import TWINS, Twin

__all__ = ["TWINS", "Sandbox", "SandboxError", "Twin", "start"]
