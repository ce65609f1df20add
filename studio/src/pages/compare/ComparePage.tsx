// Compare runs (/compare?jobs=a,b,c): their parameters and latest metrics side by side (the
// values that differ highlighted), and one chart per metric with the runs overlaid.
import { useMemo, useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { api, unwrap, type AnyJob } from "../../api/client";
import { PALETTE } from "../../components/LineChart";
import { Card, Empty, ErrorBox, Loading, PageHeader, StatusChip } from "../../components/ui";
import { formatNumber } from "../../lib/format";
import { useLoad, useQueryParam } from "../../lib/hooks";
import { MetricCharts, loadRun, type RunSummary } from "./metrics";
import "./compare.css";

type Entry = { name: string; job?: AnyJob; run: RunSummary | null; error?: string };

async function loadEntry(name: string): Promise<Entry> {
  try {
    const [job, run] = await Promise.all([
      unwrap(api.GET("/api/v1/jobs/{name}", { params: { path: { name } } })),
      loadRun(name),
    ]);
    return { name, job, run };
  } catch (e) {
    return { name, run: null, error: e instanceof Error ? e.message : String(e) };
  }
}

function parseJobs(v: string): string[] {
  return Array.from(new Set(v.split(",").map((s) => s.trim()).filter(Boolean)));
}

function RunHead({ entry, index }: { entry: Entry; index: number }) {
  return (
    <div className="run-head">
      <span className="run-swatch" style={{ background: PALETTE[index % PALETTE.length] }} aria-hidden="true" />
      <Link to={`/jobs/${entry.name}`} className="mono">
        {entry.name}
      </Link>
      {entry.job && <StatusChip status={entry.job.status} />}
    </div>
  );
}

export function ComparePage() {
  const [raw, setRaw] = useQueryParam("jobs");
  const jobs = useMemo(() => parseJobs(raw), [raw]);
  const [diffParam, setDiffParam] = useQueryParam("diff");
  // the checkbox answers at once; the URL (which a link shares) follows
  const [onlyDiff, setOnlyDiff] = useState(diffParam === "1");
  const [adding, setAdding] = useState("");
  const setJobs = (next: string[]) => setRaw(next.join(","));

  const loaded = useLoad(() => Promise.all(jobs.map(loadEntry)), [jobs.join(",")], {
    pollMs: 3000,
    pollWhile: (d) => !!d?.some((e) => e.job && !["completed", "failed", "canceled"].includes(e.job.status)),
  });
  const entries = loaded.data ?? [];

  const add = (e: FormEvent) => {
    e.preventDefault();
    const more = parseJobs(adding);
    if (more.length) setJobs([...jobs, ...more.filter((m) => !jobs.includes(m))]);
    setAdding("");
  };

  const paramKeys = useMemo(
    () => Array.from(new Set(entries.flatMap((e) => Object.keys(e.run?.params ?? {})))).sort(),
    [entries],
  );
  const metricKeys = useMemo(
    () => Array.from(new Set(entries.flatMap((e) => (e.run?.metrics ?? []).map((m) => m.key)))).sort(),
    [entries],
  );
  const differs = (values: (string | undefined)[]) => new Set(values.map((v) => v ?? "\u0000")).size > 1;
  const shownParams = paramKeys.filter(
    (k) => !onlyDiff || differs(entries.map((e) => e.run?.params?.[k])),
  );
  const withRun = entries.filter((e) => e.run).map((e) => e.name);
  const statusKey = entries.map((e) => `${e.job?.status}:${e.run?.metrics?.length ?? 0}`).join(",");

  return (
    <>
      <PageHeader
        title="Compare runs"
        crumbs={[{ label: "Jobs", to: "/jobs" }]}
        subtitle="Parameters and metrics of several jobs side by side, their charts overlaid."
      />
      <Card title="Runs" className="compare-runs">
        <form className="toolbar" onSubmit={add}>
          <div className="field">
            <label htmlFor="cmp-add">Add a run by job name</label>
            <input
              id="cmp-add"
              type="text"
              placeholder="job name (or several, comma separated)"
              value={adding}
              onChange={(e) => setAdding(e.target.value)}
              size={40}
            />
          </div>
          <button className="btn btn-primary" type="submit" disabled={!adding.trim()}>
            Add
          </button>
          {jobs.length > 0 && (
            <button className="btn btn-ghost" type="button" onClick={() => setJobs([])}>
              Remove all
            </button>
          )}
        </form>
        {jobs.length > 0 && (
          <ul className="run-list" aria-label="Runs compared">
            {jobs.map((j, i) => (
              <li key={j} className="run-pill">
                <span className="run-swatch" style={{ background: PALETTE[i % PALETTE.length] }} aria-hidden="true" />
                <span className="mono">{j}</span>
                <button
                  className="btn btn-ghost run-remove"
                  type="button"
                  aria-label={`Remove ${j}`}
                  title={`Remove ${j}`}
                  onClick={() => setJobs(jobs.filter((x) => x !== j))}
                >
                  ✕
                </button>
              </li>
            ))}
          </ul>
        )}
      </Card>

      {jobs.length === 0 ? (
        <Empty title="No runs to compare yet">
          Add job names above, or open <Link to="/jobs">Jobs</Link>, select several and choose Compare. A link like{" "}
          <code>/compare?jobs=run-a,run-b</code> opens the same comparison.
        </Empty>
      ) : loaded.error ? (
        <ErrorBox error={loaded.error} />
      ) : !loaded.data ? (
        <Loading label="Loading the runs" />
      ) : (
        <>
          {entries
            .filter((e) => e.error)
            .map((e) => (
              <ErrorBox key={e.name} error={e.error} title={`Job ${e.name} could not be read`} />
            ))}
          <Card
            title="Parameters"
            actions={
              <label className="inline-check">
                <input type="checkbox" checked={onlyDiff} onChange={(e) => {
                    setOnlyDiff(e.target.checked);
                    setDiffParam(e.target.checked ? "1" : "");
                  }} />
                Only the differing values
              </label>
            }
          >
            {paramKeys.length === 0 ? (
              <p className="muted">These runs logged no parameters.</p>
            ) : (
              <SideBySide
                label="Parameters of the compared runs"
                entries={entries}
                keys={shownParams}
                value={(e, k) => e.run?.params?.[k]}
                differs={differs}
              />
            )}
          </Card>
          <Card title="Metrics (latest values)">
            {metricKeys.length === 0 ? (
              <p className="muted">These runs logged no metrics yet.</p>
            ) : (
              <SideBySide
                label="Latest metrics of the compared runs"
                entries={entries}
                keys={metricKeys}
                numeric
                value={(e, k) => {
                  const m = e.run?.metrics?.find((x) => x.key === k);
                  return m === undefined ? undefined : formatNumber(m.value);
                }}
                differs={differs}
              />
            )}
          </Card>
          {metricKeys.length > 0 && withRun.length > 0 && (
            <section aria-labelledby="cmp-charts">
              <h2 id="cmp-charts" className="section-title">
                Charts
              </h2>
              <MetricCharts jobs={withRun} keys={metricKeys} refresh={statusKey} />
            </section>
          )}
        </>
      )}
    </>
  );
}

function SideBySide(props: {
  label: string;
  entries: Entry[];
  keys: string[];
  value: (e: Entry, key: string) => string | undefined;
  differs: (values: (string | undefined)[]) => boolean;
  numeric?: boolean;
}) {
  const { entries, keys } = props;
  return (
    <div className="table-wrap">
      <table className="table compare-table">
        <caption className="sr-only">{props.label}</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            {entries.map((e, i) => (
              <th scope="col" key={e.name}>
                <RunHead entry={e} index={i} />
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {keys.map((k) => {
            const values = entries.map((e) => props.value(e, k));
            const diff = props.differs(values);
            return (
              <tr key={k} className={diff ? "differs" : undefined} data-key={k}>
                <th scope="row" className="mono key-cell">
                  {k}
                  {diff && <span className="sr-only"> (differs)</span>}
                  {diff && (
                    <span className="diff-mark" aria-hidden="true" title="The runs differ here">
                      ≠
                    </span>
                  )}
                </th>
                {values.map((v, i) => (
                  <td key={entries[i].name} className={props.numeric ? "mono tabular" : "mono"}>
                    {v ?? <span className="muted">—</span>}
                  </td>
                ))}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
