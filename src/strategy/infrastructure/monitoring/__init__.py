"""Monitor snapshots and domain events written to the database for the dashboard."""
from src.strategy.infrastructure.monitoring.strategy_monitor import MonitorStats, StrategyMonitor

__all__ = ["MonitorStats", "StrategyMonitor"]
