"""The shape of the house: small modules, short functions, edges imported in one place."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "occlude"
MAX_MODULE_LINES = 450
MAX_BODY_LINES = 80


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_is_over_450_lines() -> None:
    long = {p.relative_to(PACKAGE).as_posix(): n for p in modules()
            if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}  # fmt: skip
    assert long == {}


def test_no_function_body_is_over_80_lines() -> None:
    long = {}
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                body = node.body[1:] if ast.get_docstring(node) else node.body
                if not body:
                    continue
                lines = body[-1].end_lineno - body[0].lineno + 1  # type: ignore[operator]
                if lines > MAX_BODY_LINES:
                    long[f"{path.relative_to(PACKAGE)}:{node.name}"] = lines
    assert long == {}


def imports_of(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


EDGES = ("model/", "incremental/", "layers/")
"""The packages that may import Keras or a backend: the model edge, the incremental engine
(written with keras.ops) and the training layers."""


def test_each_edge_library_is_imported_in_one_place() -> None:
    owners: dict[str, set[str]] = {n: set() for n in ("tensorflow", "keras", "jax", "torch",
                                                      "matplotlib", "ray")}  # fmt: skip
    for path in modules():
        for name in imports_of(path) & set(owners):
            owners[name].add(path.relative_to(PACKAGE).as_posix())
    assert owners["matplotlib"] <= {"render.py"}
    assert owners["ray"] <= {"runner/ray_engine.py"}
    for name in ("tensorflow", "keras", "jax", "torch"):
        assert all(p.startswith(EDGES) for p in owners[name]), (name, owners[name])
