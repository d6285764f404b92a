"""``python -m src.datafeed.futu stats backfill|update|show|import-cboe`` (see cli.py)."""
from src.datafeed.futu.cli import run

run()
