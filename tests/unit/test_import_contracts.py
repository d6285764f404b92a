"""The import contracts of pyproject.toml ([tool.importlinter]) hold for the whole source tree.

lint-imports builds the real import graph (grimp), so a new cycle or an import
against the layers fails here with the chain of imports that breaks the rule.
"""
from __future__ import annotations

import subprocess
import sys
import tomllib

from src.paths import PROJECT_ROOT

EXPECTED_CONTRACT_TYPES = {"layers", "forbidden", "acyclic_siblings"}


def configured_contracts() -> list[dict]:
    with open(PROJECT_ROOT / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)["tool"]["importlinter"]["contracts"]


def test_every_kind_of_contract_is_configured():
    contracts = configured_contracts()
    assert {contract["type"] for contract in contracts} == EXPECTED_CONTRACT_TYPES
    layers = next(contract for contract in contracts if contract["type"] == "layers")["layers"]
    assert layers[0] == "src.main | src.backtesting", "the processes and the backtester must stay independent"
    assert layers[-1] == "src.strategy.domain"


def test_the_source_tree_keeps_the_import_contracts():
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
                               "sys.exit(lint_imports_command())"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
    report = result.stdout + result.stderr
    kept = report.count(" KEPT")
    assert result.returncode == 0, report
    assert kept == len(configured_contracts()), report
