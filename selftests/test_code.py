"""The code stays readable: no function in the product, its checks, its sandbox, its benchmarks or its
self-tests is over 60 lines."""

from __future__ import annotations

import ast

import pytest

from selftests.harness import ROOT

MAX_LINES = 60


@pytest.mark.parametrize("folder", ["fixtures", "tests", "sandbox", "bench", "selftests"])
def test_no_function_is_over_60_lines(folder: str) -> None:
    long: list[str] = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, f"functions over {MAX_LINES} lines: {', '.join(long)}"
