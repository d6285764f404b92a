from datetime import date, datetime

import pytest
from vnpy.trader.constant import Interval

from src.backtesting.config import (
    DEFAULT_PRODUCT_SPECS,
    BacktestConfig,
    BacktestConfigError,
    ProductSpec,
)
from src.core.config.errors import UserInputError


def test_default_product_specs_are_the_cffex_terms():
    terms = {p: (s.multiplier, s.pricetick) for p, s in DEFAULT_PRODUCT_SPECS.items()}
    assert terms == {"IF": (300, 0.2), "IH": (300, 0.2), "IC": (200, 0.2), "IM": (200, 0.2),
                     "IO": (100, 0.2), "HO": (100, 0.2), "MO": (100, 0.2)}
    assert all(0 < s.margin_ratio < 0.3 and 0 <= s.commission_rate < 0.01 for s in DEFAULT_PRODUCT_SPECS.values())


def test_config_defaults_and_per_product_overrides():
    config = BacktestConfig(date(2026, 1, 5), date(2026, 2, 6), rates={"IO": 0.001}, slippages={"IF": 0.4})
    assert config.rate("IO") == 0.001
    assert config.rate("IF") == DEFAULT_PRODUCT_SPECS["IF"].commission_rate
    assert config.slippage("IF") == 0.4
    assert config.slippage("MO") == 0.2  # one tick by default
    assert config.interval is Interval.MINUTE
    assert config.start_datetime.isoformat() == "2026-01-05T00:00:00+08:00"
    assert config.end_datetime.isoformat() == "2026-02-06T23:59:59+08:00"
    assert BacktestConfig(date(2026, 1, 5), date(2026, 1, 5), interval="1m").interval is Interval.MINUTE


def test_config_is_frozen_including_its_mappings():
    rates = {"IF": 0.0001}
    config = BacktestConfig(date(2026, 1, 5), date(2026, 1, 9), rates=rates)
    rates["IF"] = 0.5
    assert config.rate("IF") == 0.0001
    with pytest.raises(AttributeError):
        config.capital = 1.0
    with pytest.raises(TypeError):
        config.rates["IF"] = 0.2


@pytest.mark.parametrize("changes, message", [
    ({"start": date(2026, 2, 7)}, "start 2026-02-07 is after end 2026-02-06"),
    ({"capital": 0}, "capital must be a positive number"),
    ({"capital": -5.0}, "capital must be a positive number"),
    ({"capital": "1e6"}, "capital must be a number"),
    ({"start": datetime(2026, 1, 5, 9, 30)}, "start must be a date"),
    ({"end": "2026-02-06"}, "end must be a date"),
    ({"rates": {"IF": -0.1}}, r"rates\[IF\] must be in \[0, 0.01\)"),
    ({"rates": {"XX": 0.0001}}, "rates has products without a spec: XX"),
    ({"slippages": {"IF": float("nan")}}, r"slippages\[IF\] must be zero or positive"),
    ({"interval": "1h"}, "interval must be 1m"),
    ({"interval": "2m"}, "not a vnpy interval"),
    ({"annual_days": 0}, "annual_days"),
    ({"product_specs": {}}, "product_specs"),
])
def test_invalid_settings_are_user_errors_naming_the_setting(changes, message):
    arguments = {"start": date(2026, 1, 5), "end": date(2026, 2, 6)} | changes
    with pytest.raises(BacktestConfigError, match=message) as caught:
        BacktestConfig(**arguments)
    assert isinstance(caught.value, UserInputError)


def test_unknown_product_lookup_names_the_product():
    config = BacktestConfig(date(2026, 1, 5), date(2026, 1, 9))
    with pytest.raises(BacktestConfigError, match="'rb'"):
        config.spec("rb")


@pytest.mark.parametrize("fields, message", [
    (("IF", 0, 0.2, 0.12, 0.0), "multiplier"),
    (("IF", 300, -0.2, 0.12, 0.0), "pricetick"),
    (("IF", 300, 0.2, 1.5, 0.0), "margin_ratio must be at most 1"),
    (("IF", 300, 0.2, 0.12, 0.05), "commission_rate"),
    (("I F", 300, 0.2, 0.12, 0.0), "product"),
])
def test_product_spec_validation(fields, message):
    with pytest.raises(BacktestConfigError, match=message):
        ProductSpec(*fields)
