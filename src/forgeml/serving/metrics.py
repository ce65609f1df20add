"""Per-deployment request figures the router keeps: counts and a window of recent latencies."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from forgeml.schemas.serving import DeploymentMetrics, LatencySummary

WINDOW = 10_000


@dataclass
class _Figures:
    requests: int = 0
    errors: int = 0
    client_errors: int = 0
    mirrored: int = 0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))


def _percentile(ordered: list[float], q: float) -> float:
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return round(ordered[index], 3)


class ServingMetrics:
    def __init__(self) -> None:
        self.figures: dict[tuple[str, str], _Figures] = {}

    def record(
        self,
        endpoint: str,
        deployment: str,
        status: int,
        elapsed_ms: float,
        *,
        mirrored: bool = False,
    ) -> None:
        fig = self.figures.get((endpoint, deployment))
        if fig is None:
            fig = self.figures[(endpoint, deployment)] = _Figures()
        if mirrored:
            fig.mirrored += 1
        else:
            fig.requests += 1
            fig.latencies.append(elapsed_ms)
        if status >= 500 or status == 408:  # a deployment too slow to answer is its error
            fig.errors += 1
        elif status >= 400:
            fig.client_errors += 1

    def summary(self, endpoint: str, deployment: str) -> DeploymentMetrics:
        fig = self.figures.get((endpoint, deployment)) or _Figures()
        ordered = sorted(fig.latencies)
        latency = LatencySummary()
        if ordered:
            latency = LatencySummary(
                p50_ms=_percentile(ordered, 0.5),
                p90_ms=_percentile(ordered, 0.9),
                p99_ms=_percentile(ordered, 0.99),
                mean_ms=round(sum(ordered) / len(ordered), 3),
            )
        return DeploymentMetrics(
            endpoint=endpoint,
            deployment=deployment,
            requests=fig.requests,
            errors=fig.errors,
            client_errors=fig.client_errors,
            mirrored=fig.mirrored,
            latency=latency,
            window=len(ordered),
        )
