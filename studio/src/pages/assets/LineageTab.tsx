// Lineage seen from one asset version: the job whose output registered it, and the jobs that
// took it as an input, each linked to its page.
import { Link } from "react-router-dom";
import { Card, Code, Empty, ErrorBox, Loading, StatusChip } from "../../components/ui";
import { useLoad } from "../../lib/hooks";
import { When } from "./bits";
import { getLineage, KINDS, type AssetKind, type LineageJob } from "./assetApi";

function JobTable({ jobs, label, portHeader }: { jobs: LineageJob[]; label: string; portHeader: string }) {
  return (
    <div className="table-wrap flat">
      <table className="table" data-lineage={label}>
        <caption className="sr-only">{label}</caption>
        <thead>
          <tr>
            <th scope="col">Job</th>
            <th scope="col">Status</th>
            <th scope="col">{portHeader}</th>
            <th scope="col">Experiment</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {jobs.map((j) => (
            <tr key={j.name} data-job={j.name}>
              <td>
                <span className="job-cell">
                  <Link to={`/jobs/${encodeURIComponent(j.name)}`}>{j.display_name || j.name}</Link>
                  {j.display_name && j.display_name !== j.name && <span className="muted mono small">{j.name}</span>}
                </span>
              </td>
              <td>
                <StatusChip status={j.status} />
              </td>
              <td>{j.port ? <span className="mono">{j.port}</span> : <span className="muted">—</span>}</td>
              <td>{j.experiment_name ?? "—"}</td>
              <td>
                <When iso={j.created_at} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function LineageTab({ kind, name, version }: { kind: AssetKind; name: string; version: string }) {
  const lineage = useLoad(() => getLineage(kind, name, version), [kind, name, version]);
  const info = KINDS[kind];
  if (lineage.error) return <ErrorBox error={lineage.error} title="The lineage could not be loaded" />;
  if (!lineage.data) return <Loading label="Loading lineage" />;
  const l = {
    produced_by: lineage.data.produced_by ?? [],
    used_by: lineage.data.used_by ?? [],
    truncated: !!lineage.data.truncated,
  };
  return (
    <div className="lineage">
      <div className="lineage-flow" aria-hidden="true">
        <span className="flow-box">{l.produced_by.length ? `${l.produced_by.length} producing job` : "uploaded"}</span>
        <span className="flow-arrow">→</span>
        <span className="flow-box flow-self">
          {name}:{version}
        </span>
        <span className="flow-arrow">→</span>
        <span className="flow-box">
          {l.used_by.length}
          {l.truncated ? "+" : ""} {l.used_by.length === 1 ? "job" : "jobs"}
        </span>
      </div>
      <Card title="Produced by">
        {l.produced_by.length ? (
          <JobTable jobs={l.produced_by} label="Produced by" portHeader="Output" />
        ) : (
          <Empty title="No job produced this version">
            It was uploaded directly, e.g. with <span className="mono">forgeml {info.cli} create</span>.
          </Empty>
        )}
      </Card>
      <Card title="Used by">
        {l.used_by.length ? (
          <>
            <JobTable jobs={l.used_by} label="Used by" portHeader="Input" />
            {l.truncated && <p className="muted small">Only the first jobs are listed.</p>}
          </>
        ) : (
          <Empty title="No job has used this version yet">
            Pass it to a job as an input:
            <Code>{`inputs:\n  ${kind === "models" ? "model" : "data"}: {type: ${kind === "models" ? "custom_model" : "uri_folder"}, path: azureml:${name}:${version}}`}</Code>
          </Empty>
        )}
      </Card>
    </div>
  );
}
