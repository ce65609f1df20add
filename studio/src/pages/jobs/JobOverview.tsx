// A job's overview tab: its details and timing, command and environment, inputs and outputs
// (linked to their assets), parameters and latest metrics from its run, tags, and lineage.
import { Link } from "react-router-dom";
import { api, jobType, unwrap, type AnyJob, type Schemas } from "../../api/client";
import { Card, Code, KeyValues, Tag } from "../../components/ui";
import { formatDuration, formatNumber, formatTime } from "../../lib/format";
import { useLoad } from "../../lib/hooks";
import { AssetLink, isTerminal } from "./common";

type Env = Schemas["Environment"];

function EnvironmentView({ env }: { env: string | Env | null | undefined }) {
  if (!env) return <>—</>;
  if (typeof env === "string") return <AssetLink value={env} kind="environments" />;
  return (
    <div>
      {env.image && (
        <div>
          Image <span className="mono">{env.image}</span>
        </div>
      )}
      {env.conda_file && (
        <details>
          <summary>Conda file</summary>
          <Code>{typeof env.conda_file === "string" ? env.conda_file : JSON.stringify(env.conda_file, null, 2)}</Code>
        </details>
      )}
    </div>
  );
}

type Port = { type?: string | null; path?: string | null; mode?: string | null; name?: string | null; version?: string | null };

function portValue(value: unknown): { type: string; shown: React.ReactNode } {
  if (value !== null && typeof value === "object") {
    const p = value as Port;
    if (p.path) {
      const kind = (p.type ?? "").endsWith("_model") ? "models" : "data";
      if (p.path.startsWith("azureml://jobs/")) {
        const job = p.path.split("/")[3];
        return {
          type: p.type ?? "uri_folder",
          shown: (
            <>
              output of <Link to={`/jobs/${encodeURIComponent(job)}`}>{job}</Link> <span className="mono muted">{p.path}</span>
            </>
          ),
        };
      }
      return { type: p.type ?? "uri_folder", shown: <AssetLink value={p.path} kind={kind} /> };
    }
    if ("value" in (value as object)) return portValue((value as { value: unknown }).value);
    return { type: p.type ?? "", shown: <span className="muted">{p.mode ?? "not set"}</span> };
  }
  return { type: typeof value === "number" ? "number" : typeof value, shown: <span className="mono">{String(value)}</span> };
}

function PortsTable({ ports, label }: { ports: Record<string, unknown>; label: string }) {
  const names = Object.keys(ports);
  if (!names.length) return <p className="job-section-empty">None.</p>;
  return (
    <div className="table-wrap">
      <table className="table">
        <caption className="sr-only">{label}</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Type</th>
            <th scope="col">Value</th>
          </tr>
        </thead>
        <tbody>
          {names.map((n) => {
            const v = portValue(ports[n]);
            return (
              <tr key={n}>
                <td className="mono">{n}</td>
                <td>{v.type}</td>
                <td className="wrap">{v.shown}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

export function JobOverview({ job }: { job: AnyJob }) {
  const name = job.name ?? "";
  const running = !isTerminal(job.status);
  const run = useLoad(
    () => unwrap(api.GET("/api/v1/jobs/{name}/run", { params: { path: { name } } })).catch(() => undefined),
    [name],
    { pollMs: 5000, pollWhile: () => running },
  );
  const outputs = useLoad(() => unwrap(api.GET("/api/v1/jobs/{name}/outputs", { params: { path: { name } } })), [name], {
    pollMs: 5000,
    pollWhile: () => running,
  });
  const type = jobType(job);
  const command = "command" in job ? (job.command as string | undefined) : undefined;
  const environment = "environment" in job ? (job.environment as string | Env | undefined) : undefined;
  const compute = "compute" in job ? (job.compute as string | null | undefined) : undefined;
  const code = "code" in job ? (job.code as string | null | undefined) : undefined;
  const tags = Object.entries(job.tags ?? {});
  const params = Object.entries(run.data?.params ?? {});
  const metrics = run.data?.metrics ?? [];
  const lineage = outputs.data?.lineage ?? [];
  const rerunOf = job.tags?.["forgeml.rerun_of"];

  return (
    <div className="job-overview">
      <div className="grid-2">
        <Card title="Details">
          <KeyValues
            items={[
              ["Name", <span className="mono">{name}</span>],
              ["Type", type],
              ["Experiment", job.experiment_name ?? "—"],
              ["Compute", compute ? <Link to={`/compute/${encodeURIComponent(compute)}`}>{compute}</Link> : "—"],
              ["Created by", job.creation_context?.created_by ?? "—"],
              ["Created", formatTime(job.creation_context?.created_at)],
              ["Started", formatTime(job.started_at)],
              ["Ended", formatTime(job.ended_at)],
              ["Duration", job.started_at ? formatDuration(job.started_at, job.ended_at) : "—"],
              ...(job.parent_job_name
                ? ([["Parent job", <Link to={`/jobs/${encodeURIComponent(job.parent_job_name)}`}>{job.parent_job_name}</Link>]] as [string, React.ReactNode][])
                : []),
              ...(job.step ? ([["Step", job.step]] as [string, React.ReactNode][]) : []),
              ...(job.reused_from
                ? ([["Reused from", <Link to={`/jobs/${encodeURIComponent(job.reused_from)}`}>{job.reused_from}</Link>]] as [string, React.ReactNode][])
                : []),
              ...(rerunOf ? ([["Rerun of", <Link to={`/jobs/${encodeURIComponent(rerunOf)}`}>{rerunOf}</Link>]] as [string, React.ReactNode][]) : []),
              ...(job.exit_code != null ? ([["Exit code", String(job.exit_code)]] as [string, React.ReactNode][]) : []),
              ...(job.attempts > 1 ? ([["Attempts", String(job.attempts)]] as [string, React.ReactNode][]) : []),
            ]}
          />
          {job.description && <p className="subtitle">{job.description}</p>}
        </Card>
        <div>
          {command !== undefined && (
            <Card title="Command">
              <Code>{command}</Code>
              <div style={{ marginTop: 12 }}>
                <KeyValues
                  items={[
                    ["Environment", <EnvironmentView env={environment} />],
                    ["Code", code ? <span className="mono uri">{code}</span> : "—"],
                  ]}
                />
              </div>
            </Card>
          )}
          <Card title="Tags">
            {tags.length ? tags.map(([k, v]) => <Tag key={k} k={k} v={v} />) : <p className="job-section-empty">No tags.</p>}
          </Card>
          {(job.warnings ?? []).length > 0 && (
            <Card title="Warnings" className="job-warnings">
              <ul>
                {(job.warnings ?? []).map((w) => (
                  <li key={w}>{w}</li>
                ))}
              </ul>
            </Card>
          )}
        </div>
      </div>
      <div className="grid-2">
        <Card title="Inputs">
          <PortsTable ports={(job.inputs ?? {}) as Record<string, unknown>} label="Inputs" />
        </Card>
        <Card title="Outputs">
          <PortsTable ports={(job.outputs ?? {}) as Record<string, unknown>} label="Outputs" />
        </Card>
      </div>
      <div className="grid-2">
        <Card title="Parameters">
          {params.length ? (
            <KeyValues items={params.map(([k, v]) => [k, <span className="mono">{v}</span>])} />
          ) : (
            <p className="job-section-empty">
              No parameters logged. A job logs them with <span className="mono">mlflow.log_param</span>.
            </p>
          )}
        </Card>
        <Card title="Latest metrics">
          {metrics.length ? (
            <KeyValues
              items={metrics.map((m) => [m.key, <span className="mono">{formatNumber(m.value)} <span className="muted">(step {m.step})</span></span>])}
            />
          ) : (
            <p className="job-section-empty">
              No metrics logged. A job logs them with <span className="mono">mlflow.log_metric</span>.
            </p>
          )}
        </Card>
      </div>
      <Card title="Lineage">
        {lineage.length ? (
          <div className="lineage" aria-label="Assets this job read and produced">
            <div className="lineage-col">
              {lineage.filter((e) => e.direction === "input").map((e) => (
                <div className="lineage-node" key={`i-${e.port}`}>
                  <small>input {e.port}</small>
                  <AssetLink value={e.asset} kind={e.asset_kind} />
                </div>
              ))}
              {!lineage.some((e) => e.direction === "input") && <span className="muted">No registered inputs</span>}
            </div>
            <span className="lineage-arrow" aria-hidden="true">→</span>
            <div className="lineage-col">
              <div className="lineage-node lineage-job">
                <small>job</small>
                {name}
              </div>
            </div>
            <span className="lineage-arrow" aria-hidden="true">→</span>
            <div className="lineage-col">
              {lineage.filter((e) => e.direction === "output").map((e) => (
                <div className="lineage-node" key={`o-${e.port}`}>
                  <small>output {e.port}</small>
                  <AssetLink value={e.asset} kind={e.asset_kind} />
                </div>
              ))}
              {!lineage.some((e) => e.direction === "output") && <span className="muted">No registered outputs</span>}
            </div>
          </div>
        ) : (
          <p className="job-section-empty">This job read and produced no registered asset.</p>
        )}
      </Card>
    </div>
  );
}
