from src.datafeed.ib.cli import entry

entry()
