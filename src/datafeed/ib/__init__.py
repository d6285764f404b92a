"""Interactive Brokers option chains on ``ib_async``: chain cache, session plans, snapshot runs, surfaces.

The production plan this follows is the seed ``000_*`` (ib_insync). Where the seed cannot work with
the maintained client or with TWS as it is, the code differs, and here is why:

- **Client**: ``ib_async`` (PyPI ``ib-async``), the maintained fork of ib_insync with the same call
  names. ``qualifyContracts`` returns a list in input order with ``None`` for unknown or ambiguous
  contracts (ib_insync returned only the qualified ones).
- **Throughput**: the client throttles itself to 45 requests per second (``Client.MaxRequests``) and
  TWS answers error 100 over 50 messages per second, so the seed's "50-100 snapshot requests/s" is
  impossible on one connection: about 40-42 snapshots/s is the ceiling. One governor
  (``governor.RateGovernor``) paces every message at 45/s, caps the market-data lines in flight
  (90), keeps the historical budget (60 per 10 min, no identical request within 15 s, 6 per contract
  in 2 s) and backs off on pacing errors (100, 162) instead of failing.
- **Chain build**: ``qualifyContracts`` sends one ``reqContractDetails`` per contract, the very
  traffic the seed forbids (48,686 requests for the SPX chain of 2022-06-10, most for combinations
  that do not exist). ``chain.ChainBuilder`` uses ``reqSecDefOptParams`` (``futFopExchange=""``,
  ``exchange == "SMART"`` kept) and then one ``reqContractDetails`` per expiry with an incomplete
  ``Option(symbol, expiry, "SMART")``, keeping the details whose ``underConId`` matches: 46 requests
  for the same chain. Never a request without an expiry.
- **Generic ticks**: snapshots cannot carry generic ticks (TWS error 321) and ``reqTickers`` has no
  ``genericTickList``. Open interest (101 → ticks 27/28), option volume (100 → 29/30) and IV
  (106 → 24) need a short streaming request cancelled when the value arrives
  (``SnapshotRunner.open_interest_pass``). Tick 104 is historical volatility, not Greeks; option
  Greeks arrive by default as ``tickOptionComputation`` on every snapshot.
- **Scanner**: the seed's ``HIGH_OPT_VOLUME`` is not an IB scan code; the configured code (default
  ``OPT_VOLUME_MOST_ACTIVE``) is checked against ``reqScannerParameters()`` before it is used.
- **Placeholders**: TWS sends -1 (and ib_async ``nan``) for an empty side or a closed market, -2
  for Greeks it did not compute (ib_async passes vega/theta -2 through): stored as missing, never
  as values. Frozen data (market data type 2) is stored with its type and valued at the last close.
- **Disconnects**: TWS restarts daily and drops its clients; 1100/1101/1102 report a lost IB link.
  A snapshot run keeps its rows, reconnects (bounded) and asks only for the contracts still missing.

Modules: ``contracts`` (typed records), ``chain`` (structure, per-expiry details, incremental cache
updates), ``store`` (tables and migrations), ``governor``, ``connection``, ``snapshot`` (runs),
``sessions`` (calendar-driven plans), ``pipeline`` (a plan's tasks), ``scheduler`` (the run loop),
``surface`` (OptionChainSnapshot and VolSurface), ``vnpy_contracts`` (ContractData), ``cli``.
"""
