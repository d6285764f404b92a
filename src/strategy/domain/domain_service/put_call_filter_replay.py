"""What the put/call filter would have done: replayed over a list of decision moments."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from src.strategy.domain.interface.put_call_sentiment_source import PutCallSentimentSource
from src.strategy.domain.value_object.put_call_sentiment import PutCallFilter


@dataclass(frozen=True)
class RefusalEpisode:
    first: date
    last: date
    days: int
    peak_ratio: float


@dataclass
class FilterReplay:
    decisions: int = 0
    without_sentiment: int = 0
    refused: int = 0
    refused_by_year: dict[int, int] = field(default_factory=dict)
    decisions_by_year: dict[int, int] = field(default_factory=dict)
    episodes: list[RefusalEpisode] = field(default_factory=list)
    lagged_days: int = 0  # decisions whose ratio was of an earlier day than the decision's (never the same-day one)

    @property
    def refused_share(self) -> float:
        return self.refused / self.decisions if self.decisions else 0.0


def replay_put_filter(source: PutCallSentimentSource, put_filter: PutCallFilter,
                      moments: Sequence[datetime]) -> FilterReplay:
    """At each moment (aware, ascending), would selling a put have been refused?"""
    replay = FilterReplay()
    enabled = put_filter if put_filter.enabled else PutCallFilter(**{**put_filter.__dict__, "enabled": True})
    run: list[tuple[date, float]] = []

    def close_run() -> None:
        if run:
            replay.episodes.append(RefusalEpisode(run[0][0], run[-1][0], len(run), max(r for _, r in run)))
            run.clear()

    for moment in moments:
        replay.decisions += 1
        year = moment.year
        replay.decisions_by_year[year] = replay.decisions_by_year.get(year, 0) + 1
        sentiment = source.sentiment(put_filter.market, put_filter.data_type, moment, put_filter.window,
                                     put_filter.min_observations)
        if sentiment is None:
            replay.without_sentiment += 1
            close_run()
            continue
        if sentiment.trade_date < moment.date():
            replay.lagged_days += 1
        if enabled.refusal(sentiment) is not None:
            replay.refused += 1
            replay.refused_by_year[year] = replay.refused_by_year.get(year, 0) + 1
            run.append((moment.date(), sentiment.ratio))
        else:
            close_run()
    close_run()
    return replay
