"""Exit codes shared by the child and the daemon, so the daemon knows what a child's exit means."""
from src.core.cli import EXIT_BAD_INPUT

EXIT_OK = 0                  # stopped on request, or the work is done (a replay reached the end of its data)
EXIT_FAILED = 1              # the strategy raised, or an unexpected error: restart with backoff
EXIT_USER_INPUT = EXIT_BAD_INPUT  # 2: bad flags, configuration or data: restarting cannot help
EXIT_GATEWAY_UNAVAILABLE = 3  # could not log in to CTP/SOPT in time: a fresh process retries the connection
