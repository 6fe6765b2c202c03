"""UI-01 where it cannot run: no browser is a failure naming the fix; no `ui:` is not applicable."""

from __future__ import annotations

from pathlib import Path

from selftests.harness import LOCAL, Stack, write_env


def test_a_missing_browser_fails_in_one_line(stack: Stack, tmp_path: Path) -> None:
    env = write_env(
        tmp_path / "no-browser.yml",
        {"extends": str(LOCAL), "name": "no-browser", "ui": {"browser": "/nonexistent/chromium"}},
    )
    record = stack.run(env, "no-browser", "-k", "UI-01").record("UI-01")
    assert record["outcome"] == "failed", record
    assert "no browser at /nonexistent/chromium" in record["message"], record["message"]
    assert "apt-get install chromium" in record["message"], record["message"]
    assert "\n" not in record["message"].strip(), record["message"]


def test_without_ui_it_is_not_applicable(stack: Stack, tmp_path: Path) -> None:
    env = write_env(tmp_path / "no-ui.yml", {"extends": str(LOCAL), "name": "no-ui", "ui": None})
    record = stack.run(env, "no-ui", "-k", "UI-01").record("UI-01")
    assert record["outcome"] == "not applicable", record
    assert "ui is not configured" in record["message"], record["message"]
