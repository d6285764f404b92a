"""Feishu (Lark) custom-bot alerts for the strategy's domain events, never holding up trading.

``FeishuEventHandler`` subscribes to a strategy's ``MessageBus`` (``StrategyRuntime.event_handlers``).
Calling it (on the bar thread) only classifies the event and appends an alert to a bounded queue;
a background thread sends. The sender:

- stays under Feishu's limits (5 messages a second, 100 a minute per bot) with its own, lower caps
  (``per_second`` 4, ``per_minute`` 80), and merges what queued meanwhile into one message, cut to
  stay under 18 KB (what does not fit waits for the next message);
- retries with exponential backoff and jitter on network errors, HTTP 5xx and 429, and the body
  codes 9499 (bad request / too many), 11232 (frequency limited) and 2200 (internal error);
- stops for good (one error line, until the process restarts) on 19001 (bad webhook), 19021
  (signature or timestamp), 19022 (IP not allowed), 19024 (keyword missing): retrying cannot fix
  those;
- always reads the answer's ``code`` (``StatusCode`` in the legacy form): Feishu answers HTTP 200
  to a refused message.

With a signing secret the body carries ``timestamp`` and ``sign`` =
base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", message=b"")). The webhook URL and the secret are
``Secret`` values (built by ``src.core.config.env_settings.feishu_settings_from_environment``): never
in logs, reprs or exceptions.
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import logging
import random
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum, IntEnum
from typing import Any, Protocol

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 18 * 1024
RETRY_CODES = frozenset({9499, 11232, 2200})
FATAL_CODES = frozenset({19001, 19021, 19022, 19024})
MAX_LINE_CHARS = 400


class Severity(IntEnum):
    INFO = 1
    WARNING = 2
    CRITICAL = 3


CARD_COLOURS = {Severity.INFO: "blue", Severity.WARNING: "orange", Severity.CRITICAL: "red"}

# What is sent by default, and how loud. Anything else on the bus is not sent.
DEFAULT_SEVERITIES: Mapping[str, Severity] = {
    "SignalEvent": Severity.INFO,
    "HedgeOrderEvent": Severity.INFO,
    "AdvancedOrderFinishedEvent": Severity.INFO,
    "PositionSettledEvent": Severity.INFO,
    "DecisionRefusedEvent": Severity.WARNING,   # only the stages of ``refusal_stages``
    "GreeksRiskBreachEvent": Severity.WARNING,
    "RiskLimitExceededEvent": Severity.WARNING,
    "RiskReductionEvent": Severity.CRITICAL,   # a hard money limit: reducing orders were sent
    "HedgeRefusedEvent": Severity.WARNING,
    "ExpiryRiskEvent": Severity.WARNING,        # an option held into its last days in the money or pinned
    "OrderRetryExhaustedEvent": Severity.CRITICAL,
    "OrderOverfilledEvent": Severity.CRITICAL,
    "ManualOpenDetectedEvent": Severity.CRITICAL,
    "ManualCloseDetectedEvent": Severity.CRITICAL,
    "StateCorruptionDetected": Severity.CRITICAL,
    "PreTradeRefusedEvent": Severity.WARNING,     # the pre-trade gate (application/safeguards.py)
    "OrderBudgetWarningEvent": Severity.WARNING,
    "ReduceOnlyChangedEvent": Severity.WARNING,
    "HedgeRedirectedEvent": Severity.WARNING,
    "KillSwitchEvent": Severity.CRITICAL,
}
DEFAULT_REFUSAL_STAGES = frozenset({"risk", "margin", "sizing"})


def sign(timestamp: int, secret: str) -> str:
    """Feishu's custom-bot signature: HMAC-SHA256 keyed with "timestamp\\nsecret" over an empty message."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


class Revealable(Protocol):
    """A secret value (``src.core.config.secret_value.Secret``): masked when printed, read with reveal()."""

    def reveal(self) -> str: ...


@dataclass(frozen=True)
class FeishuSettings:
    webhook_url: Revealable
    secret: Revealable | None = None
    keyword: str | None = None

    def __post_init__(self) -> None:
        if not self.webhook_url.reveal().startswith(("http://", "https://")):
            raise ValueError("FEISHU_WEBHOOK_URL must start with http:// or https://")


@dataclass(frozen=True)
class Alert:
    title: str
    severity: Severity
    lines: tuple[str, ...]
    at: str


@dataclass(frozen=True)
class FeishuStats:
    queued: int
    accepted: int            # alerts queued since start
    sent_messages: int       # messages Feishu accepted (code 0)
    sent_alerts: int         # alerts inside them
    dropped_overflow: int    # alerts dropped because the queue was full (reported in the next message)
    failed_alerts: int       # alerts given up after the retries, refused for good, or queued when disabled
    retries: int
    disabled: bool
    last_error: str | None = field(default=None)


class FeishuEventHandler:
    """A bus handler: ``handler(event)`` queues an alert; a background thread sends merged messages."""

    def __init__(self, settings: FeishuSettings, strategy_name: str = "", *,
                 severities: Mapping[str, Severity] | None = None, min_severity: Severity = Severity.INFO,
                 refusal_stages: Iterable[str] = DEFAULT_REFUSAL_STAGES, message_format: str = "card",
                 max_queue: int = 1_000, per_second: int = 4, per_minute: int = 80, max_retries: int = 5,
                 retry_initial_seconds: float = 1.0, retry_max_seconds: float = 30.0,
                 request_timeout: float = 5.0, clock: Callable[[], float] = time.time) -> None:
        if message_format not in ("card", "text"):
            raise ValueError(f"message_format must be 'card' or 'text', got {message_format!r}")
        if not 1 <= per_second <= 5 or not 1 <= per_minute <= 100 or max_queue < 1:
            raise ValueError("per_second must be 1-5, per_minute 1-100 and max_queue >= 1")
        self._settings = settings
        self.strategy_name = strategy_name
        self._severities = dict(DEFAULT_SEVERITIES if severities is None else severities)
        self._min_severity = min_severity
        self._refusal_stages = frozenset(refusal_stages)
        self._format = message_format
        self._max_queue = max_queue
        self._per_second = per_second
        self._per_minute = per_minute
        self._max_retries = max_retries
        self._retry_initial = retry_initial_seconds
        self._retry_max = retry_max_seconds
        self._timeout = request_timeout
        self._clock = clock
        self._condition = threading.Condition()
        self._queue: deque[Alert] = deque()
        self._sent_times: deque[float] = deque()
        self._accepted = self._sent_messages = self._sent_alerts = 0
        self._dropped = self._unreported_drops = self._failed = self._retries = 0
        self._disabled = False
        self._closing = False
        self._last_error: str | None = None
        self._busy = False
        self._thread = threading.Thread(target=self._run, name="feishu-sender", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"FeishuEventHandler(strategy={self.strategy_name!r}, webhook=***, disabled={self._disabled})"

    # ------------------------------------------------------------------ bus side (caller's thread)
    def __call__(self, event: Any) -> None:
        try:
            alert = self.alert_for(event)
        except Exception as error:  # a strange event must never reach the trading loop
            logger.warning("feishu: event %s not turned into an alert: %s", type(event).__name__,
                           type(error).__name__)
            return
        if alert is not None:
            self._enqueue(alert)

    def notify(self, title: str, severity: Severity, lines: Iterable[str] = (), at: datetime | None = None) -> None:
        """An alert that is not a bus event (a daemon restart, a give-up)."""
        stamp = (at or datetime.now()).isoformat(sep=" ", timespec="seconds")
        self._enqueue(Alert(title[:200], severity, tuple(_clip(line) for line in lines), stamp))

    def notify_daemon(self, kind: str, message: str) -> None:
        """The daemon's ``notify`` callback: a restart is a warning, giving up is critical."""
        severity = Severity.CRITICAL if kind == "gave_up" else Severity.WARNING
        if severity >= self._min_severity:
            what = "gave up" if kind == "gave_up" else "restarted its child"
            self.notify(f"{self.strategy_name or 'daemon'} {what}", severity, [message])

    def alert_for(self, event: Any) -> Alert | None:
        """The alert for an event, or None when the rules say it is not sent."""
        name = getattr(event, "event_type", type(event).__name__)
        severity = self._severities.get(name)
        if severity is None or severity < self._min_severity:
            return None
        fields = _fields(event)
        if name == "DecisionRefusedEvent" and str(fields.get("stage")) not in self._refusal_stages:
            return None
        occurred = fields.pop("occurred_at", None)
        at = occurred.isoformat(sep=" ", timespec="seconds") if isinstance(occurred, datetime) else ""
        title = f"{self.strategy_name}: {name}" if self.strategy_name else name
        lines = tuple(_clip(f"{key}: {_text(value)}") for key, value in fields.items()
                      if key not in ("indicators",))
        return Alert(title, severity, lines, at)

    def _enqueue(self, alert: Alert) -> None:
        with self._condition:
            if self._disabled or self._closing:
                self._failed += 1
                return
            if len(self._queue) >= self._max_queue:
                self._queue.popleft()
                self._dropped += 1
                self._unreported_drops += 1
            self._queue.append(alert)
            self._accepted += 1
            self._condition.notify_all()

    # ------------------------------------------------------------------ control
    def stats(self) -> FeishuStats:
        with self._condition:
            return FeishuStats(len(self._queue), self._accepted, self._sent_messages, self._sent_alerts,
                               self._dropped, self._failed, self._retries, self._disabled, self._last_error)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until the queue is empty (sent, or given up); False when ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._queue or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(min(remaining, 0.1))
            return True

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued within ``timeout`` seconds, then stop."""
        self.flush(timeout)
        with self._condition:
            self._closing = True
            self._condition.notify_all()
        self._thread.join(timeout)

    # ------------------------------------------------------------------ sender thread
    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._queue and not self._closing:
                    self._condition.wait()
                if self._closing and not self._queue:
                    return
                wait = self._throttle_wait()
                if wait > 0:
                    self._condition.wait(wait)
                    continue
                batch = self._take_batch()
                self._busy = True
            try:
                self._deliver(batch)
            finally:
                with self._condition:
                    self._busy = False
                    self._condition.notify_all()

    def _throttle_wait(self) -> float:
        now = time.monotonic()
        while self._sent_times and now - self._sent_times[0] >= 60.0:
            self._sent_times.popleft()
        waits = [0.0]
        if len(self._sent_times) >= self._per_minute:
            waits.append(60.0 - (now - self._sent_times[-self._per_minute]))
        if len(self._sent_times) >= self._per_second:
            waits.append(1.0 - (now - self._sent_times[-self._per_second]))
        return max(waits)

    def _take_batch(self) -> tuple[list[Alert], int]:
        """As many queued alerts as fit one message (at least one); the drops not yet reported."""
        batch: list[Alert] = []
        drops, self._unreported_drops = self._unreported_drops, 0
        while self._queue:
            candidate = batch + [self._queue[0]]
            if batch and len(self._body(candidate, drops)) > MAX_BODY_BYTES:
                break
            batch.append(self._queue.popleft())
        return batch, drops

    def _deliver(self, taken: tuple[list[Alert], int]) -> None:
        batch, drops = taken
        body = self._body(batch, drops)
        attempt = 0
        while True:
            with self._condition:
                self._sent_times.append(time.monotonic())
            outcome, detail = self._post(body)
            if outcome == "ok":
                with self._condition:
                    self._sent_messages += 1
                    self._sent_alerts += len(batch)
                return
            if outcome == "fatal":
                with self._condition:
                    self._disabled = True
                    self._failed += len(batch) + len(self._queue)
                    self._queue.clear()
                    self._last_error = detail
                logger.error("feishu: the webhook refused the bot for good (%s); alerts are off until the process "
                             "restarts: check FEISHU_WEBHOOK_URL, FEISHU_WEBHOOK_SECRET, the keyword and the IP "
                             "allow-list", detail)
                return
            attempt += 1
            with self._condition:
                self._last_error = detail
                if outcome == "drop" or attempt > self._max_retries or self._closing:
                    self._failed += len(batch)
                    logger.warning("feishu: %d alert(s) not sent: %s", len(batch), detail)
                    return
                self._retries += 1
            delay = min(self._retry_max, self._retry_initial * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
            logger.info("feishu: %s; retry %d of %d in %.1f s", detail, attempt, self._max_retries, delay)
            with self._condition:
                self._condition.wait_for(lambda: self._closing, delay)
            if self._settings.secret is not None:  # a fresh timestamp and signature
                body = self._body(batch, drops)

    def _post(self, body: bytes) -> tuple[str, str]:
        """("ok" | "retry" | "fatal" | "drop", detail without the URL or secret)."""
        request = urllib.request.Request(self._settings.webhook_url.reveal(), data=body, method="POST",
                                         headers={"Content-Type": "application/json; charset=utf-8"})
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                status, text = response.status, response.read(64 * 1024)
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read(64 * 1024) if error.fp else b""
        except (urllib.error.URLError, OSError, TimeoutError) as error:
            reason = getattr(error, "reason", error)
            return "retry", self._masked(f"network error: {type(reason).__name__}: {reason}")
        if status == 429 or status >= 500:
            return "retry", f"HTTP {status}"
        try:
            answer = json.loads(text or b"{}")
        except ValueError:
            return ("retry" if status != 200 else "drop"), f"HTTP {status}, unreadable answer"
        code = answer.get("code", answer.get("StatusCode")) if isinstance(answer, dict) else None
        message = self._masked(str(answer.get("msg", answer.get("StatusMessage", "")))[:200]) \
            if isinstance(answer, dict) else ""
        if status == 200 and code == 0:
            return "ok", ""
        if code in FATAL_CODES:
            return "fatal", f"code {code} {message}".strip()
        if code in RETRY_CODES:
            return "retry", f"code {code} {message}".strip()
        return "drop", f"HTTP {status}, code {code} {message}".strip()

    def _masked(self, text: str) -> str:
        for secret in (self._settings.webhook_url, self._settings.secret):
            if secret is not None and secret.reveal():
                text = text.replace(secret.reveal(), "***")
        return text

    # ------------------------------------------------------------------ message bodies
    def _body(self, batch: list[Alert], drops: int) -> bytes:
        severity = max(alert.severity for alert in batch)
        if len(batch) == 1:
            title = batch[0].title
        else:
            title = f"{self.strategy_name + ': ' if self.strategy_name else ''}{len(batch)} alerts"
        if self._settings.keyword and self._settings.keyword not in title:
            title = f"{self._settings.keyword} {title}"
        sections = []
        for alert in batch:
            head = alert.title if len(batch) > 1 else ""
            text = "\n".join(filter(None, [f"[{alert.severity.name}] {alert.at} {head}".strip(), *alert.lines]))
            sections.append(text)
        if drops:
            sections.append(f"{drops} alert(s) were dropped: the queue of {self._max_queue} was full")
        if self._format == "text":
            message: dict[str, Any] = {"msg_type": "text", "content": {"text": title + "\n" + "\n\n".join(sections)}}
        else:
            elements: list[dict] = []
            for index, section in enumerate(sections):
                if index:
                    elements.append({"tag": "hr"})
                elements.append({"tag": "div", "text": {"tag": "plain_text", "content": section}})
            message = {"msg_type": "interactive",
                       "card": {"config": {"wide_screen_mode": True},
                                "header": {"title": {"tag": "plain_text", "content": title},
                                           "template": CARD_COLOURS[severity]},
                                "elements": elements}}
        if self._settings.secret is not None:
            timestamp = int(self._clock())
            message = {"timestamp": str(timestamp), "sign": sign(timestamp, self._settings.secret.reveal()),
                       **message}
        return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()


def _fields(event: Any) -> dict:
    if dataclasses.is_dataclass(event) and not isinstance(event, type):
        return {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    return dict(vars(event)) if hasattr(event, "__dict__") else {"value": event}


def _text(value: Any) -> str:
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _clip(line: str) -> str:
    return line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS - 1] + "…"
