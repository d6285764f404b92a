"""Exchange calendars loaded from files shipped with the project."""
from src.strategy.infrastructure.calendar.holiday_loader import CN_HOLIDAYS_FILE, load_cn_calendar, read_holidays

__all__ = ["CN_HOLIDAYS_FILE", "load_cn_calendar", "read_holidays"]
