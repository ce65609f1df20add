"""Scheduling: the queue's dispatch loop, which runs jobs on their computes.

`forgeml up` runs one `Scheduler` thread beside the API (started by the app's lifespan); the
callback URL runners use is `FORGEML_PUBLIC_URL`, else the address `forgeml up` serves on.
"""

from __future__ import annotations

from forgeml.scheduler.dispatch import RESTART_REASON, Scheduler, SchedulerConfig
from forgeml.settings import Settings


def scheduler_config(settings: Settings) -> SchedulerConfig:
    """The scheduler settings of a workspace served as `settings` describe."""
    return SchedulerConfig(
        public_url=public_url(settings),
        home=settings.home.expanduser(),
        warm_runner=settings.warm_runner,
    )


def public_url(settings: Settings) -> str:
    """The URL a job's runner calls back: `public_url`, else the served host and port."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = settings.host
    if host in ("0.0.0.0", "", "*"):
        host = "127.0.0.1"
    elif host == "::":
        host = "[::1]"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


__all__ = ["RESTART_REASON", "Scheduler", "SchedulerConfig", "public_url", "scheduler_config"]
