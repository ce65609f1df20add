// A job's metrics: one line chart per metric key over steps, from series the server
// downsamples (a chart never holds more than `max_points` buckets, however long the run).
import { useMemo } from "react";
import { api, unwrap } from "../../api/client";
import { LineChart, type Line } from "../../components/LineChart";
import { Card, Code, Empty, ErrorBox, Loading } from "../../components/ui";
import { formatNumber } from "../../lib/format";
import { useLoad, useQueryParam, useSeen } from "../../lib/hooks";

function MetricChart({ job, metric, running }: { job: string; metric: string; running: boolean }) {
  // a chart reads its series only once it comes near the screen: a run with fifty metrics must
  // not queue fifty requests behind the browser's six connections before the first chart draws
  const [box, seen] = useSeen<HTMLDivElement>();
  const series = useLoad(
    () =>
      seen
        ? unwrap(api.GET("/api/v1/metrics/series", { params: { query: { key: metric, job: [job], max_points: 1000 } } }))
        : Promise.resolve(undefined),
    [job, metric, seen],
    { pollMs: 5000, pollWhile: () => running && seen },
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
    <div ref={box}>
    <Card>
      <ErrorBox error={series.error} title={`${metric} could not be read`} />
      {series.data ? <LineChart title={metric} lines={lines} height={200} /> : !series.error && <Loading label="Reading the series" />}
      {item && (
        <p className="muted metric-foot">
          {item.total.toLocaleString()} values{item.downsampled ? ` · averaged into ${item.points.length} buckets` : ""}
        </p>
      )}
    </Card>
    </div>
  );
}

export function JobMetrics({ name, running }: { name: string; running: boolean }) {
  const run = useLoad(
    () => unwrap(api.GET("/api/v1/jobs/{name}/run", { params: { path: { name } } })),
    [name],
    { pollMs: 4000, pollWhile: () => running },
  );
  const [filter, setFilter] = useQueryParam("metric");
  const all = run.data?.metrics ?? [];
  const needle = filter.trim().toLowerCase();
  const metrics = needle ? all.filter((m) => m.key.toLowerCase().includes(needle)) : all;
  if (!run.data && !run.error) return <Loading label="Reading the metrics" />;
  if (!all.length) {
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
      <div className="toolbar">
        <div className="field">
          <label htmlFor="metric-filter">Filter metrics</label>
          <input
            id="metric-filter"
            type="search"
            placeholder="Metric name"
            value={filter}
            onChange={(e) => setFilter(e.target.value)}
          />
        </div>
        <span className="muted">
          {metrics.length} of {all.length} metrics
        </span>
      </div>
      {metrics.length === 0 && <Empty title={`No metric name contains "${filter}"`} />}
      <div className="metric-grid">
        {metrics.map((m) => (
          <MetricChart key={m.key} job={name} metric={m.key} running={running} />
        ))}
      </div>
    </>
  );
}
