// Live figures of one deployment, from the metrics API the CLI's `online-deployment metrics`
// reads: requests, errors, latency percentiles, polled every 3 s; the request rate and the p50
// latency drawn over the time this page has been open.
import { useRef } from "react";
import { api, unwrap } from "../../api/client";
import { LineChart, type Line } from "../../components/LineChart";
import { Card, ErrorBox } from "../../components/ui";
import { formatNumber } from "../../lib/format";
import { useLoad } from "../../lib/hooks";

type Sample = { t: number; requests: number; p50: number | null };

function ms(v?: number | null): string {
  return v === null || v === undefined ? "—" : `${formatNumber(v)} ms`;
}

export function DeploymentFigures({ endpoint, deployment }: { endpoint: string; deployment: string }) {
  const started = useRef(Date.now());
  const samples = useRef<Sample[]>([]);
  const figures = useLoad(
    async () => {
      const m = await unwrap(
        api.GET("/api/v1/online-endpoints/{name}/deployments/{deployment}/metrics", {
          params: { path: { name: endpoint, deployment } },
        }),
      );
      const t = Math.round((Date.now() - started.current) / 1000);
      samples.current = [...samples.current, { t, requests: m.requests, p50: m.latency?.p50_ms ?? null }].slice(-200);
      return m;
    },
    [endpoint, deployment],
    { pollMs: 3000 },
  );
  const m = figures.data;
  const s = samples.current;
  const rate: Line = {
    label: "requests/s",
    x: s.slice(1).map((p) => p.t),
    y: s.slice(1).map((p, i) => Math.max(0, (p.requests - s[i].requests) / Math.max(1, p.t - s[i].t))),
  };
  return (
    <Card title={`Deployment ${deployment}`} actions={<span className="muted">live · every 3 s</span>}>
      <ErrorBox error={figures.error} title="Could not read the figures" />
      <div className="figures" aria-label={`Figures of ${deployment}`} role="group">
        {(
          [
            ["Requests", formatNumber(m?.requests ?? 0)],
            ["Errors (5xx)", formatNumber(m?.errors ?? 0)],
            ["Client errors", formatNumber(m?.client_errors ?? 0)],
            ["Mirrored", formatNumber(m?.mirrored ?? 0)],
            ["p50", ms(m?.latency?.p50_ms)],
            ["p90", ms(m?.latency?.p90_ms)],
            ["p99", ms(m?.latency?.p99_ms)],
          ] as const
        ).map(([label, value]) => (
          <div className={`figure stat ${label.startsWith("p") ? "latency" : ""}`} key={label} title={label === "Client errors" ? "answers with status 400 to 499" : undefined}>
            <span className="stat-label">{label}</span>
            <span className="stat-value" data-figure={label}>
              {value}
            </span>
          </div>
        ))}
      </div>
      {rate.x.length > 1 && (
        <div style={{ marginTop: 14 }}>
          <LineChart title="Requests per second" lines={[rate]} height={160} xLabel="seconds" />
        </div>
      )}
    </Card>
  );
}
