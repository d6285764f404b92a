"""From a push to storage: validate, detect gaps, hand to the store and to listeners (gateway, analytics)."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from src.datafeed.hk import protocol as p
from src.datafeed.hk.storage import TickStore
from src.datafeed.hk.validation import Depth, Trade, Validator

logger = logging.getLogger("datafeed.hk.pipeline")

TradeListener = Callable[[Trade], None]
DepthListener = Callable[[Depth], None]


class FeedProcessor:
    """``on_push`` is the client's push handler; it never raises and never waits for the database."""

    def __init__(self, codes: Iterable[str], store: TickStore | None, *, resume: bool = True) -> None:
        self.store = store
        checkpoint = store.load_checkpoint() if (store is not None and resume) else None
        self.validator = Validator(codes, checkpoint=checkpoint)
        self.trade_listeners: list[TradeListener] = []
        self.depth_listeners: list[DepthListener] = []
        self.listener_errors = 0
        self.gaps_found = 0

    def set_codes(self, codes: Iterable[str]) -> None:
        self.validator.set_codes(codes)

    def on_push(self, cmd_id: int, data: dict, received_at: float) -> None:
        validator = self.validator
        if cmd_id == p.CMD_PUSH_TRADE:
            trade = validator.trade(data, received_at)
            if trade is None:
                return
            if validator.gaps:
                for gap in validator.take_gaps():
                    self.gaps_found += 1
                    logger.warning("%s: seq %d-%d missing (%d trades)", gap.code, gap.first_missing,
                                   gap.last_missing, gap.size)
                    if self.store is not None:
                        self.store.put_gap(gap)
            if self.store is not None:
                self.store.put_trade(trade)
            for listener in self.trade_listeners:
                try:
                    listener(trade)
                except Exception:  # a listener must not stop the feed
                    self.listener_errors += 1
                    logger.exception("trade listener failed")
        else:
            depth = validator.depth(data, received_at)
            if depth is None:
                return
            if self.store is not None:
                self.store.put_depth(depth)
            for listener in self.depth_listeners:
                try:
                    listener(depth)
                except Exception:
                    self.listener_errors += 1
                    logger.exception("depth listener failed")
