"""The results file of a sweep (CSV, one row per finished task, written as tasks finish) and the top-N table.

Columns: ``tag``, ``status`` (ok/failed), one column per parameter (``param:<key path>``), the main
metrics, ``seconds``, ``error`` and ``summary`` (the whole summary.json as JSON) and ``daily`` (the
daily net PnL as JSON). A sweep started again with the same results file skips the settings already
there with status ok (failed ones run again).
"""
from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from src.backtesting.optimization.objective import Objective
from src.backtesting.optimization.worker import TaskResult
from src.core.config.errors import UserInputError

SHOWN_METRICS = ("total_net_pnl", "sharpe_ratio", "max_ddpercent", "total_return", "trade_count",
                 "refusal_count", "hedge_trade_count")
PARAM_PREFIX = "param:"


def setting_key(tag: str, assignments: Iterable[tuple[str, Any]]) -> str:
    """The identity of a task across runs: its tag and its assignments, as canonical JSON."""
    return json.dumps([tag, sorted(([k, v] for k, v in assignments), key=lambda kv: kv[0])], sort_keys=True)


class ResultsFile:
    def __init__(self, path: Path, keys: Sequence[str]) -> None:
        self.path = path
        self.keys = tuple(keys)
        self.columns = ("tag", "status", *(PARAM_PREFIX + k for k in self.keys), *SHOWN_METRICS, "seconds",
                        "error", "summary", "daily")

    def load_done(self) -> dict[str, TaskResult]:
        """Successful results already in the file, by setting_key (for resuming)."""
        if not self.path.exists():
            return {}
        done: dict[str, TaskResult] = {}
        try:
            with self.path.open(encoding="utf-8", newline="") as stream:
                reader = csv.DictReader(stream)
                header = tuple(reader.fieldnames or ())
                if header != self.columns:
                    raise UserInputError(f"{self.path}: the results file has other columns than this sweep "
                                         f"(other parameters?); choose another --results file")
                for row in reader:
                    if row["status"] != "ok":
                        continue
                    assignments = tuple((k, json.loads(row[PARAM_PREFIX + k])) for k in self.keys)
                    result = TaskResult(-1, assignments, row["tag"], json.loads(row["summary"]),
                                        tuple(tuple(item) for item in json.loads(row["daily"] or "[]")),
                                        None, float(row["seconds"] or 0))
                    done[setting_key(row["tag"], assignments)] = result
        except (json.JSONDecodeError, KeyError, ValueError, csv.Error) as exc:
            raise UserInputError(f"{self.path}: not a results file of this sweep ({exc})") from None
        return done

    def open_for_append(self):
        new = not self.path.exists() or self.path.stat().st_size == 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        stream = self.path.open("a", encoding="utf-8", newline="")
        writer = csv.writer(stream)
        if new:
            writer.writerow(self.columns)
            stream.flush()
        return stream, writer

    def row(self, result: TaskResult) -> list[Any]:
        summary = result.summary or {}
        setting = dict(result.assignments)
        return [result.tag, "ok" if result.ok else "failed",
                *(json.dumps(setting.get(k)) for k in self.keys),
                *(_cell(summary.get(m)) for m in SHOWN_METRICS), f"{result.seconds:.2f}", result.error or "",
                json.dumps(summary, sort_keys=True) if result.summary is not None else "",
                json.dumps([list(item) for item in result.daily_net_pnl])]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def ranked(results: Iterable[TaskResult], objective: Objective) -> list[TaskResult]:
    """Best first: feasible settings by the objective, then infeasible ones, then failures."""
    def order(result: TaskResult):
        score = objective.score(result.summary)
        return (0 if math.isfinite(score) else 1 if result.ok else 2, -score if math.isfinite(score) else 0.0)
    return sorted(results, key=order)


def top_table(results: Iterable[TaskResult], objective: Objective, keys: Sequence[str], top: int) -> str:
    rows = ranked(results, objective)[:top]
    short = [key.rsplit(".", 1)[-1] for key in keys]
    metrics = [objective.metric, *(m for m in ("total_net_pnl", "max_ddpercent", "trade_count")
                                   if m != objective.metric)]
    header = ["#", *short, *metrics, "feasible"]
    lines = [header]
    for rank, result in enumerate(rows, 1):
        setting = dict(result.assignments)
        summary = result.summary or {}
        cells = [str(rank), *(str(setting.get(k)) for k in keys)]
        if result.ok:
            cells += [_fmt(summary.get(m)) for m in metrics]
            cells.append("yes" if objective.feasible(summary) else "no")
        else:
            cells += ["failed"] + [""] * (len(metrics) - 1) + [result.error or ""]
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    return "\n".join("  ".join(cell.rjust(width) for cell, width in zip(line, widths)) + "  " + line[-1]
                     for line in lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "-" if value is None else str(value)
