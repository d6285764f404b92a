"""The direction of imports of DESIGN.md, checked on the source text (AST), so a wrong import fails CI.

- the domain imports only the standard library, numpy, scipy, TA-Lib and itself
  (never vnpy, peewee, pymysql, flask, requests, websocket, ib_async or futu);
- infrastructure never imports the processes (src.main), the backtester or the entry;
- web and datafeed never import the entry, the application layer, main or the backtester.

The package layers and the absence of cycles are import-linter contracts
(pyproject.toml, tests/unit/test_import_contracts.py); this scan also sees
imports by name (importlib, __import__) that a graph of import statements misses.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from src.paths import PROJECT_ROOT

SRC = PROJECT_ROOT / "src"
DOMAIN_ALLOWED_THIRD_PARTY = {"numpy", "scipy", "talib"}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Absolute names of every module a file imports, including importlib/__import__ calls with literal names."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts[:-1])
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in {"import_module", "__import__"}:
                found.append((node.lineno, node.args[0].value))
    return found


def domain_violations(path: Path) -> list[str]:
    problems = []
    for line, module in imported_modules(path):
        top = module.split(".")[0]
        if module == "src.strategy.domain" or module.startswith("src.strategy.domain."):
            continue
        if top in sys.stdlib_module_names or top in DOMAIN_ALLOWED_THIRD_PARTY or top == "__future__":
            continue
        problems.append(f"{path.relative_to(PROJECT_ROOT)}:{line} imports {module}")
    return problems


def forbidden_prefix_violations(path: Path, prefixes: tuple[str, ...]) -> list[str]:
    return [f"{path.relative_to(PROJECT_ROOT)}:{line} imports {module}"
            for line, module in imported_modules(path)
            if any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)]


def python_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py")) if folder.exists() else []


def test_domain_is_pure():
    files = python_files(SRC / "strategy" / "domain")
    assert files, "the domain package should exist"
    problems = [problem for path in files for problem in domain_violations(path)]
    assert not problems, "the domain must import only stdlib, numpy, scipy, talib:\n" + "\n".join(problems)


def test_infrastructure_does_not_import_processes_or_entry():
    prefixes = ("src.main", "src.backtesting", "src.web", "src.datafeed", "src.core", "src.strategy.strategy_entry",
                "src.strategy.application")
    problems = [p for path in python_files(SRC / "strategy" / "infrastructure")
                for p in forbidden_prefix_violations(path, prefixes)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("layer", ["web", "datafeed"])
def test_web_and_datafeed_do_not_import_entry_or_main(layer):
    prefixes = ("src.main", "src.backtesting", "src.strategy.strategy_entry", "src.strategy.application")
    problems = [p for path in python_files(SRC / layer) for p in forbidden_prefix_violations(path, prefixes)]
    assert not problems, "\n".join(problems)


def test_the_scanner_catches_each_kind_of_import(tmp_path, monkeypatch):
    domain = tmp_path / "src" / "strategy" / "domain" / "domain_service"
    domain.mkdir(parents=True)
    bad = domain / "bad.py"
    bad.write_text(
        "import os\nimport numpy as np\nfrom ..value_object import x\n"
        "import vnpy.trader.object\nfrom peewee import Model\nimport importlib\n"
        "importlib.import_module('requests')\nfrom src.strategy.infrastructure import bar_pipeline\n"
        "from flask import Flask\n__import__('futu')\n",
        encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "PROJECT_ROOT", tmp_path)
    problems = domain_violations(bad)
    flagged = {problem.split(" imports ")[1] for problem in problems}
    assert flagged == {"vnpy.trader.object", "peewee", "requests", "src.strategy.infrastructure", "flask", "futu"}
