"""The AllTick client against the local server: every fault knob has a test."""
from __future__ import annotations

import asyncio
import random

import pytest

from src.datafeed.hk import protocol as p
from src.datafeed.hk.client import AllTickClient, ClientSettings, FatalFeedError, FeedSettingsError
from tests.integration.datafeed.hk.alltick_server import Faults, LocalAllTickServer
from tests.integration.datafeed.hk.support import TOKEN, Token

TIMEOUT = 20


def fast_settings(server: LocalAllTickServer, **overrides) -> ClientSettings:
    values = dict(url=server.url, heartbeat_interval=0.1, stall_timeout=0.5, open_timeout=2, close_timeout=1,
                  protocol_ping_interval=None, backoff_initial=0.01, backoff_max=0.08, healthy_after=0.5,
                  request_interval=0.0, compression=None)
    values.update(overrides)
    return ClientSettings(**values)


class Received:
    def __init__(self) -> None:
        self.trades: dict[str, list[int]] = {}
        self.depth = 0

    def __call__(self, cmd_id: int, data: dict, received_at: float) -> None:
        if cmd_id == p.CMD_PUSH_TRADE:
            self.trades.setdefault(data["code"], []).append(int(data["seq"]))
        else:
            self.depth += 1

    def complete(self, codes, n: int) -> bool:
        return all(sorted(set(self.trades.get(code, []))) == list(range(1, n + 1)) for code in codes)


async def run_until(server: LocalAllTickServer, client: AllTickClient, done, timeout: float = TIMEOUT):
    await server.start()
    task = asyncio.create_task(client.run())
    try:
        async with asyncio.timeout(timeout):
            while not done() and not task.done():
                await asyncio.sleep(0.01)
        client.stop()
        return await asyncio.wait_for(task, 5)
    finally:
        if not task.done():
            task.cancel()
        await server.stop()


def go(coro):
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT + 10))


def make_client(server, received, codes=("700.HK", "9988.HK"), **overrides) -> AllTickClient:
    return AllTickClient(Token(TOKEN), codes, received, fast_settings(server, **overrides), rng=random.Random(1))


def test_all_trades_of_all_codes_arrive_and_heartbeats_are_answered():
    server = LocalAllTickServer(trades_per_code=200, push_rate=2000)
    received = Received()
    client = make_client(server, received)
    result = go(run_until(server, client, lambda: received.complete(client.codes, 200)
                          and client.counters.heartbeat_acks >= 1))
    assert result is None and received.complete(client.codes, 200)
    assert received.depth > 0
    assert client.counters.connects == 1 and client.counters.reconnects == 0


def test_dropped_connections_reconnect_and_resend_the_whole_list_without_loss():
    server = LocalAllTickServer(trades_per_code=100, push_rate=2000, faults=Faults(drop_after_pushes=30))
    received = Received()
    client = make_client(server, received)
    go(run_until(server, client, lambda: received.complete(client.codes, 100)))
    assert received.complete(client.codes, 100)
    assert client.counters.reconnects >= 3
    trade_subscribes = [codes for cmd, codes in server.stats.subscribes if cmd == p.CMD_SUBSCRIBE_TRADES]
    assert len(trade_subscribes) == client.counters.connects
    assert all(codes == ("700.HK", "9988.HK") for codes in trade_subscribes)


def test_a_stalled_stream_is_detected_by_the_watchdog_and_reopened():
    server = LocalAllTickServer(trades_per_code=60, push_rate=2000, faults=Faults(stall_after_pushes=25))
    received = Received()
    client = make_client(server, received, codes=("700.HK",))
    go(run_until(server, client, lambda: received.complete(client.codes, 60)))
    assert received.complete(client.codes, 60)
    assert client.counters.stalls >= 2
    assert client.counters.disconnects["stalled"] == client.counters.stalls


def test_no_stall_reconnect_while_the_market_is_closed():
    server = LocalAllTickServer(trades_per_code=5, push_rate=2000)
    received = Received()
    client = AllTickClient(Token(TOKEN), ("700.HK",), received, fast_settings(server, stall_timeout=0.2),
                           market_open=lambda: False)
    go(run_until(server, client, lambda: received.complete(client.codes, 5) and client.counters.heartbeat_acks >= 8))
    assert client.counters.stalls == 0 and client.counters.connects == 1


def test_truncated_json_is_counted_and_the_stream_goes_on():
    server = LocalAllTickServer(trades_per_code=100, push_rate=2000, depth_every=0,
                                faults=Faults(truncate_every=10))
    received = Received()
    client = make_client(server, received, codes=("700.HK",))
    go(run_until(server, client, lambda: server.finished() and client.counters.malformed >= 10))
    assert client.counters.malformed == server.stats.truncated_sent == 10
    assert len(received.trades["700.HK"]) == 90


def test_heartbeats_keep_the_connection_and_missing_heartbeats_get_it_dropped():
    server = LocalAllTickServer(trades_per_code=0, heartbeat_timeout=0.3)
    received = Received()
    client = make_client(server, received, codes=("700.HK",), heartbeat_interval=0.05, stall_timeout=60)
    go(run_until(server, client, lambda: client.counters.heartbeat_acks >= 15))
    assert server.stats.heartbeat_timeouts == 0 and client.counters.connects == 1

    server = LocalAllTickServer(trades_per_code=0, heartbeat_timeout=0.2)
    client = make_client(server, received, codes=("700.HK",), heartbeat_interval=30, stall_timeout=60)
    go(run_until(server, client, lambda: client.counters.reconnects >= 2))
    assert server.stats.heartbeat_timeouts >= 2
    assert client.counters.disconnects["closed by server"] >= 2


@pytest.mark.parametrize("fatal", [p.RET_CODE_UNAUTHORIZED, p.RET_TOO_MANY_CODES])
def test_fatal_plan_errors_stop_the_client(fatal):
    server = LocalAllTickServer(faults=Faults(fatal_ret=fatal))
    received = Received()
    seen = []
    client = AllTickClient(Token(TOKEN), ("700.HK",), received, fast_settings(server), on_fatal=seen.append)
    result = go(run_until(server, client, lambda: False))
    assert isinstance(result, FatalFeedError) and result.ret == fatal
    assert seen == [result] and client.counters.connects == 1


def test_a_bad_token_is_fatal_after_one_connect_and_never_shown():
    server = LocalAllTickServer()
    received = Received()
    client = AllTickClient(Token("wrong-secret-token"), ("700.HK",), received, fast_settings(server))
    result = go(run_until(server, client, lambda: False))
    assert isinstance(result, FatalFeedError) and result.ret == p.RET_TOKEN_INVALID
    assert server.stats.connections == 1
    assert "wrong-secret-token" not in str(result) + repr(client)


def test_flapping_server_gets_growing_bounded_delays():
    server = LocalAllTickServer(trades_per_code=1000, push_rate=2000, depth_every=0,
                                faults=Faults(drop_after_pushes=1))
    received = Received()
    client = make_client(server, received, codes=("700.HK",), backoff_initial=0.005, backoff_max=0.04,
                         healthy_after=60)
    go(run_until(server, client, lambda: client.counters.reconnects >= 8))
    delays = list(client.counters.delays)[:8]
    for attempt, delay in enumerate(delays):
        base = min(0.04, 0.005 * 2 ** attempt)
        assert base / 2 <= delay <= base
    assert delays[-1] > delays[0]


def test_the_request_interval_keeps_the_client_under_the_servers_rate_limit():
    server = LocalAllTickServer(trades_per_code=10, min_request_interval=0.1)
    received = Received()
    client = make_client(server, received, request_interval=0.12, heartbeat_interval=0.05)
    go(run_until(server, client, lambda: received.complete(client.codes, 10) and client.counters.heartbeats_sent >= 4))
    assert server.stats.rate_limited == 0 and client.counters.errors == {}


def test_a_rate_limited_subscribe_is_sent_again():
    server = LocalAllTickServer(trades_per_code=5000, push_rate=1000, min_request_interval=0.05)
    received = Received()
    client = make_client(server, received, request_interval=0.0)
    go(run_until(server, client, lambda: received.depth > 0))
    assert client.counters.errors[p.RET_RATE_LIMITED] >= 1
    depth_lists = [codes for cmd, codes in server.stats.subscribes if cmd == p.CMD_SUBSCRIBE_DEPTH]
    assert depth_lists == [("700.HK", "9988.HK")]


def test_adding_a_code_sends_the_whole_list_again():
    server = LocalAllTickServer(trades_per_code=20, push_rate=500)
    received = Received()
    client = make_client(server, received, codes=("700.HK",))

    def done():
        if received.trades.get("700.HK") and "9988.HK" not in client.codes:
            client.set_codes(["700.HK", "9988.HK"])
        return received.complete(("700.HK", "9988.HK"), 20)

    go(run_until(server, client, done))
    trade_lists = [codes for cmd, codes in server.stats.subscribes if cmd == p.CMD_SUBSCRIBE_TRADES]
    assert trade_lists[0] == ("700.HK",) and ("700.HK", "9988.HK") in trade_lists


def test_more_codes_than_the_plan_allows_are_refused_before_sending():
    with pytest.raises(FeedSettingsError, match="plan allows 1"):
        AllTickClient(Token(TOKEN), ("700.HK", "9988.HK"), Received(), ClientSettings(max_codes_per_connection=1))
    with pytest.raises(FeedSettingsError, match="Hong Kong code"):
        AllTickClient(Token(TOKEN), ("AAPL",), Received())


def test_a_bad_url_is_refused_before_connecting():
    for url in ("http://quote.alltick.io", "ws://127.0.0.1:notaport/x", "wss://quote.alltick.io/x?token=abc"):
        with pytest.raises(FeedSettingsError, match="url"):
            ClientSettings(url=url)
