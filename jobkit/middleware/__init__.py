"""Client and server middleware: hooks around enqueue and around perform."""

from .base import ClientMiddleware, ServerMiddleware
from .logging import JobLogger
from .metrics import MetricsMiddleware, MetricsSink

__all__ = ["ClientMiddleware", "JobLogger", "MetricsMiddleware", "MetricsSink", "ServerMiddleware"]
