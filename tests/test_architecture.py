"""The core's shape: layers that import one way, no private imports across packages, no
import circles, and a command line that only renders facts."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import grimp

SRC = Path(__file__).resolve().parents[1] / "src" / "portrait"


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every module a file imports, with its line (``from portrait.x import _y`` included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, node.lineno))
            out += [(f"{node.module}.{a.name}", node.lineno) for a in node.names]
    return out


def _package(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return parts[0]


def test_the_layer_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], capture_output=True, text=True, cwd=SRC.parents[1])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_no_package_imports_another_packages_private_module():
    offences = []
    for path in SRC.rglob("*.py"):
        mine = _package(path)
        for module, line in _imports(path):
            parts = module.split(".")
            if parts[0] != "portrait" or len(parts) < 3:
                continue
            private = any(p.startswith("_") and not p.startswith("__") for p in parts[2:])
            if private and parts[1] != mine:
                offences.append(f"{path.relative_to(SRC)}:{line} imports {module}")
    assert not offences, offences


def test_no_import_circles_between_modules():
    graph = grimp.build_graph("portrait", exclude_type_checking_imports=True)
    tops = sorted({m.split(".")[1] for m in graph.modules if m.count(".") >= 1})
    circles = []
    for a in tops:
        for b in tops:
            if a < b:
                ab = graph.chain_exists(f"portrait.{a}", f"portrait.{b}", as_packages=True)
                ba = graph.chain_exists(f"portrait.{b}", f"portrait.{a}", as_packages=True)
                if ab and ba:
                    circles.append((a, b))
    assert not circles, circles


def test_the_cli_queries_nothing_and_computes_nothing():
    interfaces = {
        name: (SRC / name).read_text(encoding="utf-8") for name in ("cli.py", "terminal.py")
    }
    queries = (r"\bws\.table\(", r"\.execute\(", r"\.aggregate\(", r"\.to_pyarrow\(", r"\bibis\b",
               r"raw_sql", r"\.con\b")  # fmt: skip
    for name, text in interfaces.items():
        for pattern in queries:
            found = [line for line in text.splitlines() if re.search(pattern, line)]
            assert not found, (name, pattern, found)
    # the commands compute nothing: no arithmetic, no totals, maxima or rounding of their own
    tree = ast.parse(interfaces["cli.py"])
    arithmetic = [
        node.lineno for node in ast.walk(tree)
        if isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Div | ast.FloorDiv | ast.Mult | ast.Sub | ast.Pow)
    ]  # fmt: skip
    assert not arithmetic, f"cli.py computes on lines {arithmetic}"
    calls = [
        node.lineno for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        and node.func.id in {"sum", "max", "min", "sorted", "round", "abs"}
    ]  # fmt: skip
    assert not calls, f"cli.py aggregates on lines {calls}"
