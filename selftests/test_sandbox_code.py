"""The sandbox's code stays readable: no function in sandbox/ is over 60 lines."""

from __future__ import annotations

import ast

from selftests.harness import ROOT

MAX_LINES = 60


def test_no_function_in_the_sandbox_is_over_60_lines() -> None:
    long: list[str] = []
    for path in sorted((ROOT / "sandbox").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, f"functions over {MAX_LINES} lines: {', '.join(long)}"
