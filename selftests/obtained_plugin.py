"""pytest plugin for the self-tests' canary: it makes a passing check (AUTH-05) print the credentials the run
obtained by logging in (the session's cookies and token), as careless check code might, and writes them to the
JSON file named by $SELFTEST_OBTAINED, so that the test can look for them in every output."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.run import CHECK, ENV


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    yield
    env = item.config.stash.get(ENV, None)
    if env is not None and CHECK in item.stash and item.stash[CHECK].id == "AUTH-05":
        print("canary: the session's credentials are", *sorted(env.obtained))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    env = session.config.stash.get(ENV, None)
    obtained = sorted(env.obtained) if env is not None else []
    Path(os.environ["SELFTEST_OBTAINED"]).write_text(json.dumps(obtained))
