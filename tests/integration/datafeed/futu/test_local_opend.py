"""The unmodified futu-api client against the local OpenD: framing, paging, the rate window and faults."""
from __future__ import annotations

import hashlib
import socket
import struct
import threading
import time
from datetime import date

import pytest
from futu.common.pb import KeepAlive_pb2

from src.datafeed.futu.client import FutuConnectionError, FutuConnectionSettings, FutuStatisticsClient
from tests.integration.datafeed.futu.local_opend import HEADER_FORMAT, HEADER_SIZE, LocalOpenD, frame


def settings(port: int, **overrides) -> FutuConnectionSettings:
    values = {"port": port, "connect_timeout_seconds": 5.0, "request_timeout_seconds": 2.0}
    values.update(overrides)
    return FutuConnectionSettings(**values)


def walk(client: FutuStatisticsClient, market: str, data_type: str, begin: date, end: date):
    pages, key = [], None
    for _ in range(100):
        page = client.fetch_page(market, data_type, begin, end, key)
        assert page.ok, page.message
        pages.append(page)
        key = page.next_page_key
        if key is None:
            return pages
    raise AssertionError("paging did not end")


def test_the_real_client_walks_descending_pages_to_exhaustion(local_opend, futu_series):
    begin, end = date(2017, 1, 1), date(2017, 12, 31)
    with FutuStatisticsClient(settings(local_opend.port)) as client:
        pages = walk(client, "HK_INDEX", "VOLUME", begin, end)
    expected = [p for p in futu_series[(4, 0)] if begin <= p.trade_date <= end]
    rows = [row for page in pages for row in page.rows]
    assert len(pages) == -(-len(expected) // 60) and all(len(page.rows) <= 60 for page in pages)
    assert [row.time for row in rows] == sorted((p.trade_date.isoformat() for p in expected), reverse=True)
    assert all(row.total_value == row.call_value + row.put_value for row in rows)
    assert local_opend.stats.first_pages == 1 and local_opend.stats.continuation_pages == len(pages) - 1
    assert local_opend.stats.init_connects == 1 and local_opend.stats.bad_checksums == 0


def test_a_frame_whose_sha1_does_not_match_its_body_closes_the_connection(local_opend):
    body = KeepAlive_pb2.Request(c2s=KeepAlive_pb2.C2S(time=1)).SerializeToString()
    good = frame(1004, 7, body)
    bad = good[:HEADER_SIZE - 28] + hashlib.sha1(b"other").digest() + good[HEADER_SIZE - 8:]
    with socket.create_connection(("127.0.0.1", local_opend.port), timeout=5) as sock:
        sock.sendall(good)
        header = sock.recv(HEADER_SIZE, socket.MSG_WAITALL)
        fields = struct.unpack(HEADER_FORMAT, header)
        assert fields[2] == 1004 and fields[5] == 7  # proto id and serial echoed
        reply = sock.recv(fields[6], socket.MSG_WAITALL)
        assert hashlib.sha1(reply).digest() == fields[7]
        sock.sendall(bad)
        assert sock.recv(1) == b""  # closed by the server
    assert local_opend.stats.bad_checksums == 1


def test_first_pages_beyond_the_window_are_refused_and_later_pages_are_free(futu_series):
    with LocalOpenD(futu_series, page_size=50, rate_limit=3, rate_window_seconds=600) as opend, \
            FutuStatisticsClient(settings(opend.port)) as client:
        for year in (2015, 2016, 2017):
            walk(client, "US_INDEX", "VOLUME", date(year, 1, 1), date(year, 12, 31))
        refused = client.fetch_page("US_INDEX", "VOLUME", date(2018, 1, 1), date(2018, 12, 31), None)
    assert not refused.ok and refused.message
    assert opend.stats.limit_errors == 1 and opend.stats.first_pages == 3
    assert opend.stats.continuation_pages == 3 * 5  # 251-252 rows a year in pages of 50: all answered


def test_a_span_over_one_year_is_refused_as_the_seed_says(local_opend):
    with FutuStatisticsClient(settings(local_opend.port)) as client:
        page = client.fetch_page("US_SECURITY", "VOLUME", date(2016, 1, 1), date(2017, 6, 30), None)
    assert not page.ok and "one year" in page.message


def test_a_silent_server_times_out_after_the_configured_request_timeout(local_opend):
    local_opend.knobs.silent = True
    with FutuStatisticsClient(settings(local_opend.port, request_timeout_seconds=1.0)) as client:
        page = client.fetch_page("US_SECURITY", "VOLUME", date(2016, 1, 1), date(2016, 12, 31), None)
    assert not page.ok and "Timeout" in page.message
    assert local_opend.stats.unanswered == 1


def test_a_connection_dropped_half_way_through_a_page_fails_that_page_and_the_next_call_reconnects(local_opend):
    local_opend.knobs.drop_on_continuation_page = 1
    begin, end = date(2016, 1, 1), date(2016, 12, 31)
    with FutuStatisticsClient(settings(local_opend.port)) as client:
        first = client.fetch_page("HK_SECURITY", "OPEN_INTEREST", begin, end, None)
        broken = client.fetch_page("HK_SECURITY", "OPEN_INTEREST", begin, end, first.next_page_key)
        pages = walk(client, "HK_SECURITY", "OPEN_INTEREST", begin, end)
        assert client.reconnections == 1
    assert first.ok and not broken.ok and "Disconnect" in broken.message
    assert local_opend.stats.dropped_mid_page == 1 and local_opend.stats.init_connects == 2
    assert sum(len(page.rows) for page in pages) > 200


def test_keep_alives_flow_at_four_fifths_of_the_interval_the_server_gives(futu_series):
    with LocalOpenD(futu_series, keep_alive_interval=1) as opend, FutuStatisticsClient(settings(opend.port)):
        deadline = time.monotonic() + 10
        while opend.stats.keep_alives < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    assert opend.stats.keep_alives >= 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_no_opend_is_one_clear_error_within_the_connect_timeout_and_leaves_no_thread_behind():
    port = free_port()
    started = time.monotonic()
    with pytest.raises(FutuConnectionError, match=f"127.0.0.1:{port} within 1.5 s"):
        FutuStatisticsClient(settings(port, connect_timeout_seconds=1.5)).open()
    assert time.monotonic() - started < 10
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(not t.daemon for t in threading.enumerate()
                                              if t is not threading.main_thread()):
        time.sleep(0.1)
    assert [t.name for t in threading.enumerate() if not t.daemon and t is not threading.main_thread()] == []


@pytest.mark.slow
def test_a_silent_server_times_out_after_futus_own_twelve_seconds(local_opend):
    local_opend.knobs.silent = True
    started = time.monotonic()
    with FutuStatisticsClient(FutuConnectionSettings(port=local_opend.port, connect_timeout_seconds=5)) as client:
        page = client.fetch_page("US_INDEX", "VOLUME", date(2016, 1, 1), date(2016, 12, 31), None)
    assert not page.ok and "Timeout" in page.message and 12 <= time.monotonic() - started < 30


def test_the_encrypted_protocol_rsa_init_connect_then_aes(futu_series, tmp_path):
    from Crypto.PublicKey import RSA

    key = RSA.generate(1024)
    key_file = tmp_path / "opend_key.pem"
    key_file.write_bytes(key.export_key(format="PEM", pkcs=1))
    try:
        with LocalOpenD(futu_series, rsa_key_pem=key_file.read_bytes()) as opend:
            with FutuStatisticsClient(settings(opend.port, rsa_key_file=key_file)) as client:
                pages = walk(client, "HK_INDEX", "OPEN_INTEREST", date(2018, 1, 1), date(2018, 12, 31))
            assert sum(len(page.rows) for page in pages) == 246
            assert opend.stats.init_connects == 1 and opend.stats.bad_checksums == 0
        with LocalOpenD(futu_series) as plain, FutuStatisticsClient(settings(plain.port)) as client:
            assert client.fetch_page("HK_INDEX", "VOLUME", date(2018, 1, 1), date(2018, 1, 31), None).ok
    finally:
        from futu import SysConfig

        SysConfig.enable_proto_encrypt(False)
        SysConfig.set_init_rsa_file("")
