"""Reads the configuration files once into frozen typed objects.

``load_strategy_config(global, override)`` reads the global YAML, deep-merges the
override over it and checks every key. Merge rules: mappings merge key by key;
the ``strategies`` list merges item by item (the override's first item over the
global's first, and so on: a timeframe file names only what it changes); every
other list in the override replaces the global one.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from src.core.config.errors import ConfigError
from src.core.config.schema import StrategyConfig
from src.core.config.typed_builder import OriginMap, build
from src.paths import CONFIG_DIR

DEFAULT_STRATEGY_CONFIG = CONFIG_DIR / "strategy_config.yaml"
DEFAULT_TRADING_TARGET = CONFIG_DIR / "general" / "trading_target.yaml"
DEFAULT_RECORDER_SETTING = CONFIG_DIR / "general" / "data_recorder_setting.json"

LISTS_MERGED_BY_POSITION = frozenset({"strategies"})


def load_strategy_config(path: str | Path = DEFAULT_STRATEGY_CONFIG,
                         override_path: str | Path | None = None,
                         assignments: Mapping[str, Any] | None = None,
                         assignments_source: str | Path = "<assignments>") -> StrategyConfig:
    """``assignments``: key path -> value set over the merged files (``strategies[0].setting.strike_level``),
    checked like any key; an error names ``assignments_source`` (e.g. the sweep file) and the key."""
    path = Path(path)
    merged = _read_yaml_mapping(path)
    origins = OriginMap(str(path))
    if override_path is not None:
        override_path = Path(override_path)
        override = _read_yaml_mapping(override_path)
        merged = _deep_merge(merged, override, origins, str(override_path), "")
    for key_path, value in (assignments or {}).items():
        created: list[str] = []
        merged = assign_key_path(merged, key_path, value, str(assignments_source), created)
        for step in (*created, key_path):
            origins.record(step, str(assignments_source))
    return build(StrategyConfig, merged, origins)


_KEY_TOKEN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def parse_key_path(key_path: str, source: str = "<assignments>") -> tuple[str | int, ...]:
    """``strategies[0].setting.strike_level`` -> ("strategies", 0, "setting", "strike_level")."""
    tokens: list[str | int] = []
    position = 0
    text = key_path.strip()
    while position < len(text):
        if tokens and text[position] == ".":
            position += 1
        match = _KEY_TOKEN.match(text, position)
        if match is None or (match.group(1) and tokens and text[position - 1] not in ".") \
                or (match.group(2) is not None and not tokens):
            raise ConfigError(source, key_path, "not a key path such as strategies[0].setting.strike_level")
        tokens.append(match.group(1) if match.group(1) else int(match.group(2)))
        position = match.end()
    if not tokens or not isinstance(tokens[-1], (str, int)):
        raise ConfigError(source, key_path, "not a key path such as strategies[0].setting.strike_level")
    return tuple(tokens)


def assign_key_path(data: dict[str, Any], key_path: str, value: Any, source: str = "<assignments>",
                    created: list[str] | None = None) -> dict:
    """A copy of ``data`` with ``value`` at ``key_path``; the parents must exist (the builder names unknown keys)."""
    tokens = parse_key_path(key_path, source)
    root = _copy_tree(data)
    node: Any = root
    walked = ""
    for index, token in enumerate(tokens):
        last = index == len(tokens) - 1
        step = f"{walked}[{token}]" if isinstance(token, int) else (f"{walked}.{token}" if walked else token)
        if isinstance(token, int):
            if not isinstance(node, list):
                raise ConfigError(source, step, f"{walked or '<root>'} is not a list")
            if token >= len(node):
                raise ConfigError(source, step, f"index out of range ({walked} has {len(node)} items)")
        elif not isinstance(node, dict):
            raise ConfigError(source, step, f"{walked or '<root>'} is not a mapping of keys")
        if last:
            node[token] = value
        else:
            if isinstance(token, str) and token not in node:
                node[token] = {}  # the builder reports the unknown key with its path
                if created is not None:
                    created.append(step)
            node = node[token]
        walked = step
    return root


def _copy_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy_tree(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_tree(item) for item in value]
    return value


def _read_yaml_mapping(path: Path) -> dict[str, Any]:
    data = _read_yaml(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(path, "", f"expected a mapping of keys at the top level, got {type(data).__name__}")
    return data


def _read_yaml(path: Path) -> Any:
    text = _read_text(path)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(path, "", f"not valid YAML: {where}{problem}") from None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found") from None
    except IsADirectoryError:
        raise ConfigError(path, "", "is a folder, expected a file") from None
    except UnicodeDecodeError:
        raise ConfigError(path, "", "is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(path, "", f"cannot be read ({exc.strerror})") from None


def _deep_merge(base: Any, override: Any, origins: OriginMap, override_file: str, key_path: str) -> Any:
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        merged = dict(base)
        for key, value in override.items():
            child = f"{key_path}.{key}" if key_path else str(key)
            merged[key] = _deep_merge(base[key], value, origins, override_file, child) if key in base else value
            if key not in base or not isinstance(value, (Mapping, list)):
                origins.record(child, override_file)
        return merged
    if isinstance(base, list) and isinstance(override, list) and key_path in LISTS_MERGED_BY_POSITION:
        merged_list = list(base)
        for index, item in enumerate(override):
            child = f"{key_path}[{index}]"
            if index < len(merged_list):
                merged_list[index] = _deep_merge(merged_list[index], item, origins, override_file, child)
            else:
                merged_list.append(item)
                origins.record(child, override_file)
        return merged_list
    origins.record(key_path, override_file)
    return override


_PRODUCT_CODE = re.compile(r"^[A-Za-z]{1,3}$")


def load_trading_targets(path: str | Path = DEFAULT_TRADING_TARGET) -> tuple[str, ...]:
    """The futures products to trade, e.g. ``("IF", "IM")``: codes as exchanges write them."""
    path = Path(path)
    data = _read_yaml(path)
    if not isinstance(data, list) or not data:
        raise ConfigError(path, "", "expected a non-empty list of product codes such as - IF")
    products: list[str] = []
    for index, item in enumerate(data):
        if not isinstance(item, str) or not _PRODUCT_CODE.match(item):
            raise ConfigError(path, f"[{index}]", f"expected a product code of 1-3 letters, got {item!r}")
        if item in products:
            raise ConfigError(path, f"[{index}]", f"product {item} is listed twice")
        products.append(item)
    return tuple(products)


EXCHANGE_CODES = frozenset({"CFFEX", "SHFE", "DCE", "CZCE", "INE", "GFEX", "SSE", "SZSE"})


@dataclass(frozen=True)
class RecordedContract:
    symbol: str
    exchange: str
    gateway_name: str

    @property
    def vt_symbol(self) -> str:
        return f"{self.symbol}.{self.exchange}"


@dataclass(frozen=True)
class RecorderSetting:
    """What the data recorder records: ticks and 1-minute bars, per contract."""

    tick: tuple[RecordedContract, ...]
    bar: tuple[RecordedContract, ...]


def load_recorder_setting(path: str | Path = DEFAULT_RECORDER_SETTING) -> RecorderSetting:
    """Reads vnpy_datarecorder's format: ``{"tick": {vt_symbol: {...}}, "bar": {...}}``."""
    path = Path(path)
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise ConfigError(path, "", f"not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ConfigError(path, "", "expected an object with keys tick and bar")
    unknown = sorted(set(data) - {"tick", "bar"})
    if unknown:
        raise ConfigError(path, unknown[0], "unknown key (allowed: bar, tick)")
    sections: dict[str, tuple[RecordedContract, ...]] = {}
    for section in ("tick", "bar"):
        entries = data.get(section, {})
        if not isinstance(entries, dict):
            raise ConfigError(path, section, "expected an object of vt_symbol: {symbol, exchange, gateway_name}")
        sections[section] = tuple(_recorded_contract(path, f"{section}.{vt}", vt, entry) for vt, entry in entries.items())
    return RecorderSetting(**sections)


def _recorded_contract(path: Path, key: str, vt_symbol: str, entry: Any) -> RecordedContract:
    if not isinstance(entry, dict):
        raise ConfigError(path, key, "expected an object with symbol, exchange, gateway_name")
    expected = {"symbol", "exchange", "gateway_name"}
    missing = sorted(expected - set(entry))
    if missing:
        raise ConfigError(path, f"{key}.{missing[0]}", "missing key")
    unknown = sorted(set(entry) - expected)
    if unknown:
        raise ConfigError(path, f"{key}.{unknown[0]}", "unknown key (allowed: exchange, gateway_name, symbol)")
    for field_name in sorted(expected):
        if not isinstance(entry[field_name], str) or not entry[field_name]:
            raise ConfigError(path, f"{key}.{field_name}", f"expected a non-empty string, got {entry[field_name]!r}")
    if entry["exchange"] not in EXCHANGE_CODES:
        raise ConfigError(path, f"{key}.exchange",
                          f"unknown exchange {entry['exchange']!r} (known: {', '.join(sorted(EXCHANGE_CODES))})")
    contract = RecordedContract(entry["symbol"], entry["exchange"], entry["gateway_name"])
    if contract.vt_symbol != vt_symbol:
        raise ConfigError(path, key, f"the key should be {contract.vt_symbol} for symbol {contract.symbol} on {contract.exchange}")
    return contract
