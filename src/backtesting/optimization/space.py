"""The parameter space of a sweep, read from a YAML file.

```yaml
parameters:
  strategies[0].setting.strike_level: [2, 3, 4]                            # a list of values
  hedging.delta_hedging.hedging_band: {start: 0.5, stop: 1.5, step: 0.5}    # a range, stop included
```

Keys are key paths of ``config/strategy_config.yaml``; every combination is checked through the
project's typed builder before any backtest starts, so a bad key or value is one line naming this
file and the key.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from src.core.config.config_loader import load_strategy_config, parse_key_path
from src.core.config.errors import ConfigError

MAX_GRID = 100_000


@dataclass(frozen=True)
class ParameterSpace:
    source: str
    parameters: tuple[tuple[str, tuple[Any, ...]], ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(key for key, _ in self.parameters)

    @property
    def size(self) -> int:
        size = 1
        for _, values in self.parameters:
            size *= len(values)
        return size

    def grid(self) -> list[tuple[tuple[str, Any], ...]]:
        combos = itertools.product(*(values for _, values in self.parameters))
        return [tuple(zip(self.keys, combo)) for combo in combos]

    def check(self, config_file: Path, override_file: Path | None, whole_grid_up_to: int = 2_000) -> None:
        """Build the typed configuration of every combination (of each value alone for a large space);
        raises ConfigError naming this file and the key."""
        if self.size <= whole_grid_up_to:
            for setting in self.grid():
                load_strategy_config(config_file, override_file, dict(setting), self.source)
            return
        for key, values in self.parameters:
            for value in values:
                load_strategy_config(config_file, override_file, {key: value}, self.source)


def load_parameter_space(path: Path) -> ParameterSpace:
    source = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found") from None
    except OSError as exc:
        raise ConfigError(path, "", f"cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ConfigError(path, "", f"not valid YAML: {where}{getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, dict) or set(data) != {"parameters"}:
        raise ConfigError(path, "", "expected one top-level key, parameters: a mapping of key path -> values")
    parameters = data["parameters"]
    if not isinstance(parameters, dict) or not parameters:
        raise ConfigError(path, "parameters", "expected a non-empty mapping of key path -> list or range")
    space: list[tuple[str, tuple[Any, ...]]] = []
    for key, spec in parameters.items():
        if not isinstance(key, str):
            raise ConfigError(path, f"parameters.{key}", "expected a key path such as strategies[0].setting.strike_level")
        parse_key_path(key, source)
        space.append((key, _values(path, key, spec)))
    result = ParameterSpace(source, tuple(space))
    if result.size > MAX_GRID:
        raise ConfigError(path, "parameters", f"{result.size:,} combinations; at most {MAX_GRID:,} "
                                              "(use --search genetic for larger spaces)")
    return result


def _values(path: Path, key: str, spec: Any) -> tuple[Any, ...]:
    where = f"parameters.{key}"
    if isinstance(spec, list):
        if not spec:
            raise ConfigError(path, where, "the list of values is empty")
        if len(set(map(repr, spec))) != len(spec):
            raise ConfigError(path, where, "a value is listed twice")
        return tuple(spec)
    if isinstance(spec, dict):
        if set(spec) != {"start", "stop", "step"}:
            raise ConfigError(path, where, "a range needs exactly start, stop and step")
        numbers = [spec[name] for name in ("start", "stop", "step")]
        if any(isinstance(n, bool) or not isinstance(n, (int, float)) for n in numbers):
            raise ConfigError(path, where, "start, stop and step must be numbers")
        start, stop, step = (Decimal(str(n)) for n in numbers)
        if step <= 0 or stop < start:
            raise ConfigError(path, where, "a range needs step > 0 and stop >= start")
        count = int((stop - start) / step) + 1
        if count > MAX_GRID:
            raise ConfigError(path, where, f"the range has {count:,} values")
        integral = all(isinstance(n, int) for n in numbers)
        return tuple(int(start + i * step) if integral else float(start + i * step) for i in range(count))
    raise ConfigError(path, where, f"expected a list of values or {{start, stop, step}}, got {spec!r}")
