// A job's metrics: one line chart per metric key over steps, from series the server
// downsamples (a chart never holds more than `max_points` buckets, however long the run).
import { useMemo } from "react";
import { api, unwrap } from "../../api/client";
import { LineChart, type Line } from "../../components/LineChart";
import { Card, Code, Empty, ErrorBox, Loading } from "../../components/ui";
import { formatNumber } from "../../lib/format";
import { useLoad } from "../../lib/hooks";

function MetricChart({ job, metric, running }: { job: string; metric: string; running: boolean }) {
  const series = useLoad(
    () => unwrap(api.GET("/api/v1/metrics/series", { params: { query: { key: metric, job: [job], max_points: 1000 } } })),
    [job, metric],
    { pollMs: 5000, pollWhile: () => running },
  );
  const lines: Line[] = useMemo(
    () =>
      (series.data?.items ?? []).map((s) => ({
        label: s.job,
        x: s.points.map((p) => p.step),
        y: s.points.map((p) => p.value),
      })),
    [series.data],
  );
  const item = series.data?.items[0];
  return (
    <Card>
      <ErrorBox error={series.error} title={`${metric} could not be read`} />
      {series.data ? <LineChart title={metric} lines={lines} height={200} /> : !series.error && <Loading label="Reading the series" />}
      {item && (
        <p className="muted metric-foot">
          {item.total.toLocaleString()} values{item.downsampled ? ` · averaged into ${item.points.length} buckets` : ""}
        </p>
      )}
    </Card>
  );
}

export function JobMetrics({ name, running }: { name: string; running: boolean }) {
  const run = useLoad(
    () => unwrap(api.GET("/api/v1/jobs/{name}/run", { params: { path: { name } } })),
    [name],
    { pollMs: 4000, pollWhile: () => running },
  );
  const metrics = run.data?.metrics ?? [];
  if (!run.data && !run.error) return <Loading label="Reading the metrics" />;
  if (!metrics.length) {
    return (
      <Empty title={running ? "No metrics yet" : "This job logged no metrics"}>
        A job logs metrics through MLflow, for example <Code>mlflow.log_metric("loss", 0.25, step=3)</Code>
      </Empty>
    );
  }
  return (
    <>
      <p className="muted" style={{ marginTop: 0 }}>
        Latest:{" "}
        {metrics.map((m, i) => (
          <span key={m.key}>
            {i > 0 && " · "}
            {m.key} <b className="mono">{formatNumber(m.value)}</b>
          </span>
        ))}
      </p>
      <div className="metric-grid">
        {metrics.map((m) => (
          <MetricChart key={m.key} job={name} metric={m.key} running={running} />
        ))}
      </div>
    </>
  );
}
