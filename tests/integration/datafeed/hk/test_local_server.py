"""The local AllTick server speaks the documented protocol (checked with a bare websockets client)."""
from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from src.datafeed.hk import protocol as p
from tests.integration.datafeed.hk.alltick_server import Faults, LocalAllTickServer

TIMEOUT = 10


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


async def with_server(server: LocalAllTickServer, body, token: str = "test-token"):
    await server.start()
    try:
        async with connect(f"{server.url}?token={token}", proxy=None, compression=None) as ws:
            return await body(ws)
    finally:
        await server.stop()


async def recv_json(ws) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))


async def recv_until(ws, cmd_id: int) -> dict:
    for _ in range(10_000):
        message = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if message.get("cmd_id") == cmd_id:
            return message
    raise AssertionError(f"no {cmd_id}")


def test_bad_token_gets_401_then_the_connection_closes():
    async def body(ws):
        message = await recv_json(ws)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), TIMEOUT)
        return message

    message = run(with_server(LocalAllTickServer(), body, token="wrong"))
    assert message["ret"] == p.RET_TOKEN_INVALID


def test_heartbeat_is_answered_with_22001_echoing_seq_and_trace():
    async def body(ws):
        await ws.send(p.request(p.CMD_HEARTBEAT, 7, {}, trace="abc"))
        return await recv_json(ws)

    message = run(with_server(LocalAllTickServer(), body))
    assert (message["cmd_id"], message["ret"], message["seq_id"], message["trace"]) == (p.CMD_HEARTBEAT_ACK, 200, 7,
                                                                                        "abc")


def test_trades_are_pushed_as_strings_with_a_per_code_seq_and_depth_every_nth_trade():
    server = LocalAllTickServer(trades_per_code=10, depth_every=5)

    async def body(ws):
        await ws.send(p.subscribe_trades(1, ["700.HK"]))
        await ws.send(p.subscribe_depth(2, ["700.HK"]))
        trades, depth = [], []
        while len(trades) < 10 or len(depth) < 1:
            message = await recv_json(ws)
            if message["cmd_id"] == p.CMD_PUSH_TRADE:
                trades.append(message["data"])
            elif message["cmd_id"] == p.CMD_PUSH_DEPTH:
                depth.append(message["data"])
        return trades, depth

    trades, depth = run(with_server(server, body))
    assert [int(t["seq"]) for t in trades] == list(range(1, 11))
    assert all(isinstance(t[k], str) for t in trades for k in ("seq", "tick_time", "price", "volume", "turnover"))
    assert len(trades[0]["tick_time"]) == 13
    assert depth[0]["code"] == "700.HK" and len(depth[0]["bids"]) == 5
    assert float(depth[0]["bids"][0]["price"]) < float(depth[0]["asks"][0]["price"])


def test_each_subscribe_replaces_the_list_and_extra_codes_are_silently_ignored():
    server = LocalAllTickServer(max_codes_per_connection=1, trades_per_code=5)

    async def body(ws):
        await ws.send(p.subscribe_trades(1, ["700.HK", "9988.HK"]))
        assert (await recv_until(ws, p.CMD_SUBSCRIBE_TRADES_ACK))["ret"] == 200
        codes = set()
        for _ in range(5):
            codes.add((await recv_until(ws, p.CMD_PUSH_TRADE))["data"]["code"])
        return codes

    assert run(with_server(server, body)) == {"700.HK"}
    assert server.stats.subscribes == [(p.CMD_SUBSCRIBE_TRADES, ("700.HK",))]


@pytest.mark.parametrize("data, ret", [
    ({"symbol_list": [{"code": "not a code"}]}, p.RET_CODE_INVALID),
    ({}, p.RET_BODY_EMPTY),
    ({"symbol_list": [{"code": "5.HK"}]}, p.RET_CODE_UNAUTHORIZED),
])
def test_subscribe_errors(data, ret):
    server = LocalAllTickServer(unauthorized_codes=("5.HK",))

    async def body(ws):
        await ws.send(p.request(p.CMD_SUBSCRIBE_TRADES, 1, data))
        return await recv_json(ws)

    assert run(with_server(server, body))["ret"] == ret


def test_a_second_request_within_the_interval_gets_429():
    server = LocalAllTickServer(min_request_interval=5.0)

    async def body(ws):
        await ws.send(p.subscribe_trades(1, ["700.HK"]))
        first = await recv_until(ws, p.CMD_SUBSCRIBE_TRADES_ACK)
        await ws.send(p.subscribe_depth(2, ["700.HK"]))
        second = await recv_until(ws, p.CMD_SUBSCRIBE_DEPTH_ACK)
        return first["ret"], second["ret"]

    assert run(with_server(server, body)) == (200, p.RET_RATE_LIMITED)


def test_a_silent_connection_is_closed_after_the_heartbeat_timeout():
    server = LocalAllTickServer(heartbeat_timeout=0.2)

    async def body(ws):
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), TIMEOUT)

    run(with_server(server, body))
    assert server.stats.heartbeat_timeouts == 1


def test_faults_truncate_skip_seqs_and_drop():
    server = LocalAllTickServer(trades_per_code=100, depth_every=0,
                                faults=Faults(truncate_every=3, gap_every=4, drop_after_pushes=9))

    async def body(ws):
        await ws.send(p.subscribe_trades(1, ["700.HK"]))
        raws = []
        with pytest.raises(ConnectionClosed):
            while True:
                raws.append(await asyncio.wait_for(ws.recv(), TIMEOUT))
        return raws[1:]

    raws = run(with_server(server, body))
    assert len(raws) == 9
    broken = [raw for raw in raws if not raw.endswith("}")]
    assert len(broken) == 3
    seqs = [int(json.loads(raw)["data"]["seq"]) for raw in raws if raw.endswith("}")]
    assert all(seq % 4 for seq in seqs)


def test_stall_keeps_the_socket_open_and_answers_heartbeats():
    server = LocalAllTickServer(trades_per_code=100, faults=Faults(stall_after_pushes=2))

    async def body(ws):
        await ws.send(p.subscribe_trades(1, ["700.HK"]))
        await recv_until(ws, p.CMD_SUBSCRIBE_TRADES_ACK)
        pushes = [await recv_json(ws), await recv_json(ws)]
        await ws.send(p.heartbeat(3))
        answer = await recv_json(ws)
        return pushes, answer

    pushes, answer = run(with_server(server, body))
    assert [m["cmd_id"] for m in pushes] == [p.CMD_PUSH_TRADE] * 2
    assert answer["cmd_id"] == p.CMD_HEARTBEAT_ACK
    assert server.stats.trades_sent == 2
