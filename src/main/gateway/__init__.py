"""Gateways of our own: ``ReplayGateway`` replays stored market data into vnpy's MainEngine."""
# vnpy must find its working folder under data/ before any module here imports it.
from src.strategy.infrastructure.vnpy_home import ensure_vnpy_home

ensure_vnpy_home()

from src.main.gateway.replay_gateway import (  # noqa: E402
    EVENT_REPLAY,
    ReplayGateway,
    ReplayPhase,
    ReplayPlan,
    ReplayProgress,
)

__all__ = ["EVENT_REPLAY", "ReplayGateway", "ReplayPhase", "ReplayPlan", "ReplayProgress"]
