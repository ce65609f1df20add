// Metric charts of one or several runs: each metric key gets a chart with one line per run,
// its series read downsampled from the server (`/api/v1/metrics/series`).
import { useEffect, useMemo, useState } from "react";
import { api, unwrap, type Schemas } from "../../api/client";
import { LineChart, type Line } from "../../components/LineChart";
import { Empty, ErrorBox, Loading } from "../../components/ui";
import { useLoad } from "../../lib/hooks";

export type RunSummary = Schemas["RunSummary"];

/** A job's run summary, or null when the job has logged nothing yet (the server answers 404). */
export async function loadRun(job: string): Promise<RunSummary | null> {
  try {
    return await unwrap(api.GET("/api/v1/jobs/{name}/run", { params: { path: { name: job } } }));
  } catch (e) {
    if ((e as { status?: number }).status === 404) return null;
    throw e;
  }
}

export async function loadSeries(key: string, jobs: string[]): Promise<Line[]> {
  const found = await unwrap(
    api.GET("/api/v1/metrics/series", { params: { query: { key, job: jobs, max_points: 1000 } } }),
  );
  return found.items.map((s) => ({
    label: s.job,
    x: s.points.map((p) => p.step),
    y: s.points.map((p) => p.value),
  }));
}

/** The theme in use: uPlot paints its axes with the theme's colors once, so a switch redraws. */
function useThemeName(): string {
  const root = document.documentElement;
  const [theme, setTheme] = useState(root.dataset.theme ?? "light");
  useEffect(() => {
    const observer = new MutationObserver(() => setTheme(root.dataset.theme ?? "light"));
    observer.observe(root, { attributes: true, attributeFilter: ["data-theme"] });
    return () => observer.disconnect();
  }, [root]);
  return theme;
}

/** One chart per metric key in `keys`, the runs in `jobs` overlaid. */
export function MetricCharts(props: { jobs: string[]; keys: string[]; refresh?: unknown; columns?: boolean }) {
  const { jobs, keys } = props;
  const loaded = useLoad(
    async () => Promise.all(keys.map(async (k) => [k, await loadSeries(k, jobs)] as const)),
    [jobs.join(","), keys.join(","), props.refresh],
  );
  const charts = useMemo(() => loaded.data ?? [], [loaded.data]);
  const theme = useThemeName();
  if (loaded.error) return <ErrorBox error={loaded.error} title="The metric series could not be read" />;
  if (!loaded.data) return <Loading label="Loading metrics" />;
  if (keys.length === 0) return <Empty title="No metrics logged">Log with <code>mlflow.log_metric</code> in the job's code.</Empty>;
  return (
    <div className={props.columns === false ? "metric-stack" : "grid-2"}>
      {charts.map(([key, lines]) => (
        <div className="card chart-card" key={key}>
          <LineChart key={theme} title={key} lines={lines} />
        </div>
      ))}
    </div>
  );
}
