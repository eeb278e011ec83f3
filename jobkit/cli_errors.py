"""How the ``jobkit`` command turns a failure into one line on stderr and an exit status.

Exit statuses (documented in the README): 0 done; 1 the command ran but found nothing to act on
(an unknown jid or queue, a declined confirmation); 2 a bad command line, option value or
configuration; 3 Redis could not be reached or refused the command; 130 interrupted (Ctrl-C);
141 the output was closed early (``jobkit stats | head -1``), as for any tool SIGPIPE stops."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

import redis

from .errors import JobkitError, NotFoundError

OK, NOT_FOUND, USAGE, REDIS, INTERRUPTED, BROKEN_PIPE = 0, 1, 2, 3, 130, 141


def redacted(url: str) -> str:
    """``url`` without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    user = f"{parts.username}:" if parts.username else ":"
    return urlunsplit(parts._replace(netloc=f"{user}***@{netloc}"))


def _say(message: str) -> None:
    print(f"jobkit: error: {message}", file=sys.stderr)


def run(command: Callable[[], int], redis_url: Callable[[], str]) -> int:
    """Run ``command``; report any expected failure in one line and return its exit status.

    ``redis_url`` is called only to name the server in a Redis error (it is the URL the
    command used, so the message points at what to fix)."""
    try:
        return command()
    except NotFoundError as e:
        _say(str(e))
        return NOT_FOUND
    except JobkitError as e:
        _say(str(e))
        return USAGE
    except (redis.ConnectionError, redis.TimeoutError) as e:
        _say(f"cannot reach Redis at {redacted(redis_url())}: {_reason(e)}")
        return REDIS
    except redis.RedisError as e:
        _say(f"Redis at {redacted(redis_url())} refused the command: {_reason(e)}")
        return REDIS
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        # The reader went away: say nothing, and keep Python from failing again while it
        # flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return BROKEN_PIPE


def _reason(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
