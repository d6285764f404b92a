"""``import-bars --main-contract-roll``: the spliced IF main-contract series stored under dated contracts."""
from __future__ import annotations

import sqlite3
from datetime import date

import pytest

from tests.e2e.cli import run_command

IF_HOT_5M = "cn_index_futures_bars/CFFEX.IF.HOT_m5_2014_2019.csv.gz"
LAYOUT = "config/examples/import_bars/wondertrader_5m.yaml"


@pytest.mark.slow
def test_each_day_goes_to_the_front_month_until_five_days_before_its_expiry(shared_data, tmp_path):
    from src.core.contract.expiry_calculator import ExpiryCalculator
    from src.strategy.infrastructure.calendar.holiday_loader import load_cn_calendar
    from src.core.contract.contract_helper import ContractMonth

    database = tmp_path / "bars.db"
    result = run_command(["-m", "src.main.data", "import-bars", "--file", str(shared_data / IF_HOT_5M),
                          "--symbol", "IF", "--exchange", "CFFEX", "--layout", LAYOUT, "--main-contract-roll", "5",
                          "--no-progress"], database=database)
    assert result.returncode == 0, result.stderr
    assert "68145 bars written under 71 contracts (IF1401 .. IF1911) on 1421 days" in result.stdout
    with sqlite3.connect(database) as connection:
        days = connection.execute("select symbol, date(datetime), count(*) from dbbardata "
                                  "group by symbol, date(datetime)").fetchall()
        overview = connection.execute("select symbol, count from dbbaroverview").fetchall()
    expiry = ExpiryCalculator(load_cn_calendar())
    for symbol, day_text, _count in days:
        day = date.fromisoformat(day_text)
        month = ContractMonth(2000 + int(symbol[2:4]), int(symbol[4:6]))
        days_left = (expiry.expiry_date("IF", month) - day).days
        assert days_left > 5, (symbol, day)
        previous = ContractMonth(month.year - (month.month == 1), (month.month - 2) % 12 + 1)
        assert (expiry.expiry_date("IF", previous) - day).days <= 5, (symbol, day)
    assert sum(count for _day, _d, count in days) == 68145
    # one bar overview per contract (vnpy's drivers update it from the first bar of each save)
    assert len(overview) == 71 and sum(count for _s, count in overview) == 68145


def test_only_cffex_index_futures_are_split(tmp_path):
    bars = tmp_path / "bars.csv"
    bars.write_text("datetime,open,high,low,close,volume\n", encoding="utf-8")
    result = run_command(["-m", "src.main.data", "import-bars", "--file", str(bars), "--symbol", "rb888",
                          "--exchange", "SHFE", "--main-contract-roll", "5"], database=tmp_path / "bars.db")
    assert result.returncode == 2
    assert "--main-contract-roll: only CFFEX index futures (IF, IH, IC, IM) are split, not rb888.SHFE" in result.stderr
