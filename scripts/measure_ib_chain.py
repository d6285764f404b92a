"""Figures of the IB chain pipeline on the local TWS serving the real SPX 2022-06-10 Cboe chain.

Prints, each beside its reference, measured in this process:

1. chain build requests: the cheap way (underlying + reqSecDefOptParams + one reqContractDetails per
   expiry) against the seed's way (qualifyContracts on every expiry x strike x right combination the
   secdef lists: one request each); the seed's way is also run for ``--qualify-expiries`` expiries;
2. a full-chain snapshot run: contracts/s, messages/s against the 45 msg/s ceiling (goal >= 90 %),
   error-100 count (goal 0);
3. a disconnect mid-run (the fake closes the socket): contracts missing or duplicated afterwards;
4. the surface built from the snapshot against Cboe's IVs in the file: median |IV_mid - IV_cboe| of
   out-of-the-money quotes within 10 % log-moneyness.

Usage: python scripts/measure_ib_chain.py [--data DIR] [--max-contracts N] [--disconnect-contracts N]
       [--qualify-expiries N]
Needs ../shared/data (or --data); uses 127.0.0.1 only; the local TWS runs as a process of its own. The full chain takes about 8 minutes at 45/s.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from ib_async import Option  # noqa: E402
from tqdm import tqdm  # noqa: E402

from src.datafeed.ib.chain import ChainBuilder  # noqa: E402
from src.datafeed.ib.connection import ConnectionSettings, IbConnection  # noqa: E402
from src.datafeed.ib.governor import GovernorLimits, RateGovernor  # noqa: E402
from src.datafeed.ib.snapshot import RunItem, SnapshotRunner, SnapshotSettings  # noqa: E402
from src.datafeed.ib.store import IbStore  # noqa: E402
from src.datafeed.ib.surface import store_surface  # noqa: E402
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation  # noqa: E402
from tests.integration.datafeed.ib.cboe_chain import SPX_2022_06_10, load_spx_2022_06_10  # noqa: E402

CEILING = 45.0
RUN_STARTED = datetime(2022, 6, 10, 19, 55, tzinfo=timezone.utc)


class ExternalTws:
    """The local TWS in its own process (``fake_tws_process``), as TWS is: it does not share our CPU time."""

    def __init__(self, data: Path, knobs: dict | None = None) -> None:
        self.data = data
        self.knobs = knobs or {}
        self.process: asyncio.subprocess.Process | None = None
        self.port = 0

    async def __aenter__(self) -> ExternalTws:
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.integration.datafeed.ib.fake_tws_process", "--data", str(self.data),
            "--chain", "spx", "--knobs", json.dumps(self.knobs), cwd=PROJECT_ROOT, env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 26)
        line = (await asyncio.wait_for(self.process.stdout.readline(), 120)).decode().split()
        if len(line) != 2 or line[0] != "port":
            raise RuntimeError(f"the local TWS did not start: {line}")
        self.port = int(line[1])
        return self

    async def stats(self) -> dict:
        self.process.stdin.write(b"stats\n")
        await self.process.stdin.drain()
        return json.loads(await asyncio.wait_for(self.process.stdout.readline(), 30))

    async def __aexit__(self, *exc) -> None:
        if self.process.returncode is None:
            self.process.stdin.write(b"quit\n")
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except asyncio.TimeoutError:
                self.process.kill()
                await self.process.wait()


def treasury_rate(data: Path) -> float:
    for line in (data / "us_treasury_rates" / "DGS3MO.csv").read_text().splitlines():
        if line.startswith("2022-06-10,"):
            return float(line.split(",")[1]) / 100
    return 0.0


def progress_bar(total: int, label: str):
    bar = tqdm(total=total, desc=label, unit="contract", disable=not sys.stderr.isatty(), mininterval=1)
    state = {"done": 0, "last_log": time.monotonic()}

    def update(done: int, _total: int) -> None:
        bar.update(done - state["done"])
        state["done"] = done
        if not sys.stderr.isatty() and time.monotonic() - state["last_log"] > 30:
            print(f"  {label}: {done}/{total}", file=sys.stderr, flush=True)
            state["last_log"] = time.monotonic()
    return bar, update


async def measure(args) -> None:
    chain = load_spx_2022_06_10(args.data)
    rate = treasury_rate(args.data)
    folder = Path(tempfile.mkdtemp(prefix="ib-measure-"))
    store = IbStore.open(DatabaseLocation.sqlite(folder / "ib.db"))
    print(f"SPX 2022-06-10 Cboe chain: {len(chain.options)} options, {len(chain.expiries())} expiries, "
          f"spot {chain.spot}; load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")

    # 1. chain build ------------------------------------------------------------------------------
    async with ExternalTws(args.data) as tws:
        governor = RateGovernor()
        connection = IbConnection(ConnectionSettings(port=tws.port, client_id=21), governor)
        await connection.ensure(10)
        builder = ChainBuilder(connection.ib, governor)
        started = time.perf_counter()
        build = await builder.build("SPX")
        build_seconds = time.perf_counter() - started
        store.upsert_contracts(build.records, seen_at=RUN_STARTED)
        # the seed: every (expiry, strike, right) the secdef lists, per trading class, qualified one by one
        smart_chains = await connection.ib.reqSecDefOptParamsAsync("SPX", "", "IND", build.structure.underlying_con_id)
        seed_requests = sum(len(c.expirations) * len(c.strikes) * 2 for c in smart_chains if c.exchange == "SMART")
        qualify_expiries = build.structure.expiries[: args.qualify_expiries]
        trial = [Option("SPX", e, k, r, "SMART", tradingClass=c.tradingClass)
                 for c in smart_chains if c.exchange == "SMART" for e in c.expirations if e in qualify_expiries
                 for k in c.strikes for r in ("C", "P")]
        before = (await tws.stats())["contract_details_requests"]
        started = time.perf_counter()
        qualified = []
        for start in range(0, len(trial), 300):
            await governor.message(len(trial[start:start + 300]))
            qualified += await asyncio.wait_for(connection.ib.qualifyContractsAsync(*trial[start:start + 300]), 120)
        qualify_seconds = time.perf_counter() - started
        qualify_requests = (await tws.stats())["contract_details_requests"] - before
        found = sum(1 for q in qualified if q is not None)
        connection.disconnect()
    listed_in_trial = sum(1 for r in build.records if r.expiry_text in qualify_expiries)
    print("\n1. Chain build requests")
    print(f"   per-expiry details : {build.requests} requests, {len(build.records)} contracts, "
          f"{build_seconds:.1f} s")
    print(f"   per-contract qualify (seed): {seed_requests} requests for the whole chain (one per secdef "
          f"combination), {seed_requests / build.requests:.0f}x more")
    print(f"   qualify run on {len(qualify_expiries)} expiry: {qualify_requests} requests, {found} contracts found "
          f"({listed_in_trial} listed), {len(trial) - found} combinations that do not exist, "
          f"{qualify_seconds:.1f} s")

    # 2. full snapshot run -------------------------------------------------------------------------
    records = [r for r in build.records if r.expiry >= RUN_STARTED.date()]
    if args.max_contracts:   # a quicker look: the contracts nearest the money
        records = sorted(records, key=lambda r: (abs(math.log(r.strike / chain.spot)), r.con_id))[: args.max_contracts]
    items = [RunItem(chain.underlying_con_id, "SPX", "IND", "CBOE"), *(RunItem.of(r) for r in records)]
    async with ExternalTws(args.data) as tws:
        governor = RateGovernor(GovernorLimits())
        connection = IbConnection(ConnectionSettings(port=tws.port, client_id=22), governor)
        bar, update = progress_bar(len(items), "snapshot run")
        runner = SnapshotRunner(connection, store, SnapshotSettings(), now=lambda: RUN_STARTED, progress=update)
        await connection.ensure(10)
        messages_before = sum((await tws.stats())["received"].values())
        started = time.perf_counter()
        result = await runner.run(items, session="open", market_data_type=1)
        seconds = time.perf_counter() - started
        bar.close()
        after = await tws.stats()
        messages = sum(after["received"].values()) - messages_before
        errors_100 = after["errors_sent"].get("100", 0)
        connection.disconnect()
    rate_msgs = messages / seconds
    print("\n2. Full snapshot run")
    print(f"   {result.filled}/{result.requested} contracts filled in {seconds:.1f} s: "
          f"{result.requested / seconds:.1f} contracts/s, {rate_msgs:.1f} msg/s = "
          f"{rate_msgs / CEILING:.1%} of the {CEILING:.0f} msg/s ceiling (goal >= 90 %); "
          f"error 100: {errors_100} (goal 0); errors {result.errors or 'none'}")

    # 3. disconnect mid-run -----------------------------------------------------------------------
    subset = items[: args.disconnect_contracts]
    async with ExternalTws(args.data, {"drop_after_snapshots": len(subset) // 2}) as tws:
        governor = RateGovernor(GovernorLimits())
        connection = IbConnection(ConnectionSettings(port=tws.port, client_id=23), governor)
        runner = SnapshotRunner(connection, store, SnapshotSettings(reconnect_within=30), now=lambda: RUN_STARTED)
        started = time.perf_counter()
        dropped = await runner.run(subset, session="open", market_data_type=1)
        seconds = time.perf_counter() - started
        connection.disconnect()
        fake_stats = await tws.stats()
        asked_twice = sum(1 for n in fake_stats["snapshots_by_con_id"].values() if n > 1)
    stored = [row["con_id"] for row in store.quotes(dropped.run_id)]
    missing = len({i.con_id for i in subset} - set(stored))
    duplicated = len(stored) - len(set(stored))
    print("\n3. Disconnect mid-run (socket closed after half the snapshots)")
    print(f"   {len(subset)} contracts, connections {fake_stats['connections']}, disconnects seen "
          f"{runner.disconnects}, status {dropped.status}, filled {dropped.filled}: missing {missing}, "
          f"duplicated {duplicated} (goal 0 and 0); {asked_twice} lost in flight and asked again; {seconds:.1f} s")

    # 4. surface vs Cboe IVs ----------------------------------------------------------------------
    started = time.perf_counter()
    snapshot, surface = store_surface(store, result.run_id, "SPX", rate=rate, built_at=RUN_STARTED)
    surface_seconds = time.perf_counter() - started
    cboe = {(o.expiry_text, o.strike, o.right): o.iv for o in chain.options}
    differences = []
    for vol in surface.quotes:
        key = (vol.quote.expiry.strftime("%Y%m%d"), vol.quote.strike, vol.quote.option_type.value[0])
        if vol.out_of_the_money and abs(vol.log_moneyness) <= 0.10 and math.isfinite(vol.iv_mid) \
                and cboe.get(key, 0) > 0:
            differences.append(abs(vol.iv_mid - cboe[key]))
    differences.sort() if differences else differences.append(math.nan)
    print("\n4. Surface from the snapshot vs Cboe IVs (OTM, |log-moneyness| <= 10 %)")
    print(f"   {len(differences)} quotes over {len(surface.forwards)} expiries (forwards from parity, rate "
          f"{rate:.4f}): median |dIV| {statistics.median(differences):.4f}, 90th pct "
          f"{differences[int(0.9 * (len(differences) - 1))]:.4f} (reference: the data README's own Black-76 "
          f"check, 0.0008 / 0.0019); built in {surface_seconds:.1f} s")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("SHARED_DATA_DIR",
                                                                         PROJECT_ROOT.parent / "shared" / "data")))
    parser.add_argument("--max-contracts", type=int, default=0, help="snapshot only the first N contracts (0: all)")
    parser.add_argument("--disconnect-contracts", type=int, default=2000)
    parser.add_argument("--qualify-expiries", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("ib_async").setLevel(logging.CRITICAL)   # it warns once per non-existent combination
    if not (args.data / SPX_2022_06_10).exists():
        print(f"error: {args.data / SPX_2022_06_10} not found (use --data)", file=sys.stderr)
        return 2
    asyncio.run(measure(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
