"""``jobkit web``: serve the dashboard with uvicorn. Safe by default: it binds to 127.0.0.1,
and any other address needs ``--auth`` (HTTP basic, credentials from an environment variable).

Nothing of the ``web`` extra is imported until the command runs.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
from collections.abc import Callable
from typing import Any

from .errors import ConfigError

AUTH_ENV = "JOBKIT_WEB_AUTH"


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def credentials(environ: dict[str, str] | os._Environ[str], variable: str) -> tuple[str, str]:
    """``USER:PASSWORD`` from ``environ[variable]``; ConfigError naming what is wrong."""
    value = environ.get(variable, "")
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ConfigError(f"--auth reads USER:PASSWORD from ${variable}, which is "
                          f"{'unset' if variable not in environ else 'not USER:PASSWORD'}")
    return user, password


def _cmd_web(args: argparse.Namespace) -> int:
    if not 0 < args.port < 65536:
        raise ConfigError(f"--port={args.port} must be between 1 and 65535")
    if not args.live_interval > 0:
        raise ConfigError(f"--live-interval={args.live_interval} must be a positive number")
    if not is_loopback(args.host) and not args.auth:
        raise ConfigError(f"--host={args.host} is reachable from other machines: pass --auth "
                          f"(HTTP basic, USER:PASSWORD from ${args.auth_env})")
    try:
        import uvicorn

        from .web import basic_auth, create_app
    except ImportError as e:
        raise ConfigError(f'jobkit web needs the web extra: pip install "jobkit[web]" ({e})'
                          ) from e
    from .config import get_settings

    overrides = {k: v for k, v in (("redis_url", args.redis_url),
                                    ("namespace", args.namespace)) if v is not None}
    auth = basic_auth(*credentials(os.environ, args.auth_env)) if args.auth else None
    app = create_app(get_settings().replace(**overrides), read_only=args.read_only, auth=auth,
                     live_interval=args.live_interval)
    print(f"jobkit web on http://{args.host}:{args.port}/"
          f"{' (read-only)' if args.read_only else ''}{' (basic auth)' if auth else ''}",
          flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def add_command(
    sub: Any,
    add_redis_options: Callable[[argparse.ArgumentParser], None],
    make_parser: Callable[..., argparse.ArgumentParser],
) -> None:
    """Register ``jobkit web`` on the ``jobkit`` parser."""
    p = make_parser(
        sub, "web", "serve the dashboard (needs the web extra)",
        "Serve the web dashboard: queues, busy processes, scheduled, retry and dead jobs,\n"
        "with actions. Binds to 127.0.0.1 unless --host is given with --auth.",
        "examples:\n  jobkit web --redis-url redis://localhost:6379/0\n"
        f"  {AUTH_ENV}=ops:s3cret jobkit web --host 0.0.0.0 --auth\n"
        "  jobkit web --read-only --port 8080")
    add_redis_options(p)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default: 127.0.0.1; others need --auth)")
    p.add_argument("--port", type=int, default=7777, help="port (default: 7777)")
    p.add_argument("--auth", action="store_true",
                   help=f"require HTTP basic auth, USER:PASSWORD from ${AUTH_ENV}")
    p.add_argument("--auth-env", default=AUTH_ENV, metavar="VAR",
                   help=f"environment variable holding USER:PASSWORD (default: {AUTH_ENV})")
    p.add_argument("--read-only", action="store_true", help="hide every action, refuse POSTs")
    p.add_argument("--live-interval", type=float, default=5.0, metavar="SECONDS",
                   help="seconds between the live chart's polls (default: 5)")
    p.set_defaults(func=_cmd_web)
