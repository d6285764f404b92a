# vnpy must find its working folder under data/ before any module here imports it.
from src.strategy.infrastructure.vnpy_home import ensure_vnpy_home

ensure_vnpy_home()
