"""The local TWS in a process of its own (as TWS is), for benchmarks: ``python -m tests...fake_tws_process``.

Reads ``--data DIR --chain spx|spy [--knobs JSON]``, prints ``port <n>`` once listening, then obeys
lines on stdin: ``stats`` prints one JSON line of its counters, ``knobs JSON`` changes fault knobs,
``quit`` (or end of input) stops it.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from tests.integration.datafeed.ib.cboe_chain import load_spx_2022_06_10, load_spy_2025_08_29
from tests.integration.datafeed.ib.fake_tws import FakeTws, FaultKnobs

LOADERS = {"spx": load_spx_2022_06_10, "spy": load_spy_2025_08_29}


def stats_json(tws: FakeTws) -> str:
    stats = tws.stats
    return json.dumps({"received": {str(k): v for k, v in stats.received.items()},
                       "errors_sent": {str(k): v for k, v in stats.errors_sent.items()},
                       "snapshots_by_con_id": {str(k): v for k, v in stats.snapshots_by_con_id.items()},
                       "contract_details_requests": stats.contract_details_requests,
                       "secdef_requests": stats.secdef_requests, "connections": stats.connections})


async def serve(args) -> None:
    chains = [LOADERS[name](args.data) for name in args.chain]
    knobs = FaultKnobs(**json.loads(args.knobs)) if args.knobs else FaultKnobs()
    async with FakeTws(chains, knobs) as tws:
        print(f"port {tws.port}", flush=True)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while True:
            line = (await reader.readline()).decode().strip()
            if not line or line == "quit":
                return
            if line == "stats":
                print(stats_json(tws), flush=True)
            elif line.startswith("knobs "):
                for name, value in json.loads(line[6:]).items():
                    setattr(tws.knobs, name, value)
                print("ok", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--chain", action="append", choices=sorted(LOADERS), required=True)
    parser.add_argument("--knobs", default="")
    asyncio.run(serve(parser.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
