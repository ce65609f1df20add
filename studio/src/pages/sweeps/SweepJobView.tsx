// The sweep job's trials on its job page (/jobs/<name>): the objective and best trial, a
// parallel-coordinates view of parameters against the objective, and the trials table.
import { useEffect, useMemo } from "react";
import { Link } from "react-router-dom";
import type { Schemas, SweepJob } from "../../api/client";
import { Card, Empty, KeyValues, StatusChip } from "../../components/ui";
import { formatNumber } from "../../lib/format";
import { ParallelCoordinates } from "./ParallelCoordinates";
import "./sweeps.css";

type Trial = Schemas["TrialInfo"];
const TERMINAL = new Set(["completed", "failed", "canceled"]);

function trialNumber(job: string): string {
  const n = job.split("--").pop();
  return n && /^\d+$/.test(n) ? `#${n}` : job;
}

function show(v: unknown): string {
  if (typeof v === "number") return formatNumber(v);
  if (v === undefined || v === null) return "—";
  return typeof v === "string" ? v : JSON.stringify(v);
}

function algorithm(s: SweepJob["sampling_algorithm"]): string {
  if (typeof s === "string") return s;
  const t = (s as { type?: string }).type;
  return t ?? JSON.stringify(s);
}

export function SweepJobView({ job, onChange }: { job: SweepJob; onChange: () => void }) {
  useEffect(() => {
    if (TERMINAL.has(job.status)) return;
    const t = window.setTimeout(onChange, 2000);
    return () => window.clearTimeout(t);
  }, [job, onChange]);

  const objective = job.objective as { primary_metric?: string; goal?: string };
  const metric = objective.primary_metric ?? "metric";
  const goal = (objective.goal ?? "maximize").toLowerCase();
  const trials = useMemo(
    () =>
      [...(job.trials ?? [])].sort((a, b) => {
        const na = Number(a.job.split("--").pop());
        const nb = Number(b.job.split("--").pop());
        return Number.isNaN(na) || Number.isNaN(nb) ? a.job.localeCompare(b.job) : na - nb;
      }),
    [job.trials],
  );
  const params = useMemo(
    () => Array.from(new Set([...Object.keys(job.search_space ?? {}), ...trials.flatMap((t) => Object.keys(t.parameters))])),
    [job.search_space, trials],
  );
  const best = job.best_trial ?? undefined;
  const finished = trials.filter((t) => TERMINAL.has(t.status)).length;

  return (
    <>
      <div className="grid-2 sweep-top">
        <Card title="Objective">
          <KeyValues
            items={[
              ["Primary metric", <span className="mono">{metric}</span>],
              ["Goal", goal === "minimize" ? "Minimize ↓" : "Maximize ↑"],
              ["Sampling", algorithm(job.sampling_algorithm)],
              ["Trials", `${finished} finished of ${trials.length} started · at most ${job.limits?.max_total_trials ?? "—"}`],
              ...(job.limits?.max_concurrent_trials
                ? ([["At once", String(job.limits.max_concurrent_trials)]] as [string, string][])
                : []),
            ]}
          />
        </Card>
        <Card title="Best trial" className="best-card">
          {best ? (
            <div className="best" data-testid="best-trial">
              <div className="best-head">
                <Link to={`/jobs/${best.job}`} className="best-name">
                  {trialNumber(best.job)} <span className="mono muted">{best.job}</span>
                </Link>
                <StatusChip status={best.status} />
              </div>
              <div className="best-metric">
                <span className="stat-value">{show(best.metric)}</span>
                <span className="stat-label">{metric}</span>
              </div>
              <div>
                {Object.entries(best.parameters).map(([k, v]) => (
                  <span key={k} className="tag">
                    {k}=<b>{show(v)}</b>
                  </span>
                ))}
              </div>
            </div>
          ) : (
            <p className="muted">No trial has reported {metric} yet.</p>
          )}
        </Card>
      </div>
      <Card title="Parameters against the objective">
        {trials.length === 0 ? (
          <Empty title="No trials yet">The sweep starts its trials once its compute has room.</Empty>
        ) : (
          <ParallelCoordinates trials={trials} metric={metric} goal={goal} best={best?.job} />
        )}
      </Card>
      <Card
        title={`Trials (${trials.length})`}
        actions={
          trials.length > 1 && (
            <Link className="btn" to={`/compare?jobs=${trials.slice(0, 20).map((t) => t.job).join(",")}`}>
              Compare the trials
            </Link>
          )
        }
      >
        <TrialsTable trials={trials} params={params} metric={metric} best={best?.job} />
      </Card>
    </>
  );
}

function TrialsTable(props: { trials: Trial[]; params: string[]; metric: string; best?: string }) {
  const { trials, params, metric, best } = props;
  if (trials.length === 0) return <p className="muted">No trials have started yet.</p>;
  return (
    <div className="table-wrap">
      <table className="table trials-table">
        <caption className="sr-only">Trials of the sweep</caption>
        <thead>
          <tr>
            <th scope="col">Trial</th>
            <th scope="col">Status</th>
            {params.map((p) => (
              <th scope="col" key={p} className="mono">
                {p}
              </th>
            ))}
            <th scope="col" className="num">
              {metric}
            </th>
          </tr>
        </thead>
        <tbody>
          {trials.map((t) => (
            <tr key={t.job} data-row={t.job} className={t.job === best ? "best-row" : undefined} aria-current={t.job === best ? "true" : undefined}>
              <td>
                <Link to={`/jobs/${t.job}`}>{trialNumber(t.job)}</Link>
                {t.job === best && <span className="chip chip-ok best-chip">best</span>}
              </td>
              <td>
                <StatusChip status={t.status} />
              </td>
              {params.map((p) => (
                <td key={p} className={typeof t.parameters[p] === "number" ? "num" : undefined}>
                  {show(t.parameters[p])}
                </td>
              ))}
              <td className="num">{show(t.metric)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
