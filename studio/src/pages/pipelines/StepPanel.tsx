// The side panel of a pipeline step: its job's status, logs, metrics and outputs, and a link to
// the step's full job page.
import { useEffect, useRef, type ReactNode } from "react";
import { Link } from "react-router-dom";
import { api, unwrap } from "../../api/client";
import { Empty, ErrorBox, KeyValues, Loading, StatusChip } from "../../components/ui";
import { formatDuration, formatTime } from "../../lib/format";
import { useLoad, useQueryParam } from "../../lib/hooks";
import { MetricCharts, loadRun } from "../compare/metrics";
import type { StepInfo } from "./graph";

const TERMINAL = new Set(["completed", "failed", "canceled", "skipped"]);
const SECTIONS = [
  { id: "logs", label: "Logs" },
  { id: "metrics", label: "Metrics" },
  { id: "outputs", label: "Outputs" },
];

function StepLogs({ job }: { job: string }) {
  const logs = useLoad(
    () => unwrap(api.GET("/api/v1/jobs/{name}/logs", { params: { path: { name: job }, query: { limit: 10000 } } })),
    [job],
    { pollMs: 2000, pollWhile: (d) => !d?.done },
  );
  const box = useRef<HTMLPreElement>(null);
  const count = logs.data?.items.length ?? 0;
  useEffect(() => {
    // follow the newest lines while the step runs, as `tail -f` does
    const el = box.current;
    if (el && !logs.data?.done) el.scrollTop = el.scrollHeight;
  }, [count, logs.data?.done]);
  if (logs.error) return <ErrorBox error={logs.error} title="The logs could not be read" />;
  if (!logs.data) return <Loading label="Loading logs" />;
  if (logs.data.items.length === 0) return <Empty title="No log lines yet">The step writes its logs once it runs.</Empty>;
  return (
    <pre ref={box} className="code step-logs" tabIndex={0} aria-label={`Logs of ${job}`}>
      {logs.data.items.map((c) => (
        <span key={c.seq} className={c.stream === "std_err" || c.stream === "stderr" ? "log-err" : undefined}>
          {c.text}
        </span>
      ))}
    </pre>
  );
}

function StepMetrics({ job, status }: { job: string; status: string }) {
  const run = useLoad(() => loadRun(job), [job, status]);
  if (run.error) return <ErrorBox error={run.error} title="The run could not be read" />;
  if (run.data === undefined) return <Loading label="Loading metrics" />;
  const keys = (run.data?.metrics ?? []).map((m) => m.key).sort();
  return (
    <>
      {run.data && Object.keys(run.data.params ?? {}).length > 0 && (
        <KeyValues items={Object.entries(run.data.params ?? {}).map(([k, v]) => [k, <span className="mono">{v}</span>])} />
      )}
      <MetricCharts jobs={[job]} keys={keys} refresh={status} columns={false} />
    </>
  );
}

function StepOutputs({ job, status }: { job: string; status: string }) {
  const outs = useLoad(
    () => unwrap(api.GET("/api/v1/jobs/{name}/outputs", { params: { path: { name: job } } })),
    [job, status],
  );
  if (outs.error) return <ErrorBox error={outs.error} title="The outputs could not be read" />;
  if (!outs.data) return <Loading label="Loading outputs" />;
  if (outs.data.items.length === 0) return <Empty title="No outputs yet">Outputs appear once the step completes.</Empty>;
  return (
    <ul className="output-list">
      {outs.data.items.map((o) => (
        <li key={o.name}>
          <div className="output-head">
            <strong>{o.name}</strong> <span className="tag">{o.type}</span>
            {o.asset && <span className="tag">{o.asset}</span>}
          </div>
          <div className="mono muted output-uri">{o.uri}</div>
        </li>
      ))}
    </ul>
  );
}

export function StepPanel(props: { step: StepInfo; onClose: () => void }) {
  const { step } = props;
  const [section, setSection] = useQueryParam("step_view", "logs");
  const job = useLoad(
    () =>
      step.job
        ? unwrap(api.GET("/api/v1/jobs/{name}", { params: { path: { name: step.job } } }))
        : Promise.resolve(undefined),
    [step.job, step.status],
  );
  const j = job.data;
  return (
    <aside className="card step-panel" aria-label={`Step ${step.name}`}>
      <div className="card-head">
        <h2>
          Step <span className="mono">{step.name}</span>
        </h2>
        <button className="btn btn-ghost" onClick={props.onClose} aria-label="Close the step panel">
          ✕
        </button>
      </div>
      <div className="step-panel-status">
        <StatusChip status={step.status} />
        {step.reused_from && (
          <span className="chip chip-info">
            reused from&nbsp;<Link to={`/jobs/${step.reused_from}`}>{step.reused_from}</Link>
          </span>
        )}
      </div>
      {!step.job ? (
        <Empty title={step.status === "skipped" ? "This step was skipped" : "This step has not started"}>
          {step.status === "skipped"
            ? "A step it depends on failed, so it did not run."
            : "It starts once the steps it depends on have completed."}
        </Empty>
      ) : (
        <div className="step-body">
          <div>
            <KeyValues
              items={[
                ["Job", <Link to={`/jobs/${step.job}`}>{step.job}</Link>],
                ["Type", step.type],
                ["Started", formatTime(j?.started_at)],
                ["Duration", formatDuration(j?.started_at, j?.ended_at)],
                ...(j?.error ? ([["Error", <span className="step-error">{j.error}</span>]] as [string, ReactNode][]) : []),
              ]}
            />
            <Link className="btn" to={`/jobs/${step.job}`}>
              Open the step's job page
            </Link>
          </div>
          <div>
            <div className="seg" role="group" aria-label="Step details">
              {SECTIONS.map((s) => (
                <button
                  key={s.id}
                  className={section === s.id ? "seg-btn active" : "seg-btn"}
                  aria-pressed={section === s.id}
                  onClick={() => setSection(s.id)}
                >
                  {s.label}
                </button>
              ))}
            </div>
            <h3 className="sr-only">{SECTIONS.find((s) => s.id === section)?.label}</h3>
            {section === "logs" && <StepLogs job={step.job} />}
            {section === "metrics" && <StepMetrics job={step.job} status={step.status} />}
            {section === "outputs" && <StepOutputs job={step.job} status={step.status} />}
          </div>
        </div>
      )}
      {TERMINAL.has(step.status) ? null : <span className="sr-only" aria-live="polite">{step.status}</span>}
    </aside>
  );
}
