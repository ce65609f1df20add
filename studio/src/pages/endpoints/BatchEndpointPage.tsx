// One batch endpoint: its details, its deployments (the default marked) with their settings,
// the jobs its invocations started, and an Invoke form that scores a data asset.
import { useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { api, unwrap, type AnyJob, type Schemas } from "../../api/client";
import { DataTable, type Column } from "../../components/table";
import { Card, Empty, ErrorBox, KeyValues, Loading, PageHeader, StatusChip } from "../../components/ui";
import { formatDuration, formatTime } from "../../lib/format";
import { useLoad } from "../../lib/hooks";
import { ModelRef, stateOf, type BatchDeployment } from "./common";
import "./endpoints.css";

const ACTIVE = new Set(["queued", "preparing", "starting", "running", "finalizing", "not_started", "provisioning"]);

function InvokeForm({ endpoint, deployments, fallback }: { endpoint: string; deployments: string[]; fallback?: string }) {
  const navigate = useNavigate();
  const [input, setInput] = useState("");
  const [type, setType] = useState("uri_folder");
  const [deployment, setDeployment] = useState("");
  const [jobName, setJobName] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const job = await unwrap(
        api.POST("/api/v1/batch-endpoints/{name}/jobs", {
          params: { path: { name: endpoint } },
          body: {
            input: { type, path: input.trim() },
            deployment_name: deployment || null,
            job_name: jobName.trim() || null,
          } as Schemas["BatchInvoke"],
        }),
      );
      navigate(`/jobs/${job.name}`);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }
  return (
    <form onSubmit={submit}>
      <ErrorBox error={error} title="Could not start the scoring job" />
      <div className="field">
        <label htmlFor="bi-input">Input data</label>
        <input
          id="bi-input"
          type="text"
          required
          placeholder="azureml:<data>:<version>"
          value={input}
          onChange={(e) => setInput(e.target.value)}
        />
        <span className="hint">A registered data asset (azureml:name:version) or a URI the workspace can read.</span>
      </div>
      <div className="toolbar">
        <div className="field">
          <label htmlFor="bi-type">Input type</label>
          <select id="bi-type" value={type} onChange={(e) => setType(e.target.value)}>
            <option value="uri_folder">uri_folder</option>
            <option value="uri_file">uri_file</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="bi-dep">Deployment</label>
          <select id="bi-dep" value={deployment} onChange={(e) => setDeployment(e.target.value)}>
            <option value="">Default{fallback ? ` (${fallback})` : ""}</option>
            {deployments.map((d) => (
              <option key={d}>{d}</option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="bi-job">Job name (optional)</label>
          <input id="bi-job" type="text" value={jobName} onChange={(e) => setJobName(e.target.value)} />
        </div>
      </div>
      <button type="submit" className="btn btn-primary" disabled={busy || !deployments.length}>
        {busy ? "Starting…" : "Invoke"}
      </button>
    </form>
  );
}

function settingsOf(d: BatchDeployment): [string, string][] {
  if (d.type !== "model") return [["component", typeof d.component === "string" ? d.component : "inline"]];
  const s = d.settings;
  if (!s) return [];
  return [
    ["mini_batch_size", String(s.mini_batch_size)],
    ["max_concurrency_per_instance", String(s.max_concurrency_per_instance)],
    ["output_action", s.output_action],
    ["error_threshold", String(s.error_threshold)],
    ["retries", `${s.retry_settings?.max_retries ?? 3} × ${s.retry_settings?.timeout ?? 30}s`],
  ];
}

export function BatchEndpointPage() {
  const { name = "" } = useParams();
  const endpoint = useLoad(() => unwrap(api.GET("/api/v1/batch-endpoints/{name}", { params: { path: { name } } })), [name]);
  const deployments = useLoad(
    async () => (await unwrap(api.GET("/api/v1/batch-endpoints/{name}/deployments", { params: { path: { name } } }))).items,
    [name],
  );
  const jobs = useLoad(
    async () => (await unwrap(api.GET("/api/v1/batch-endpoints/{name}/jobs", { params: { path: { name } } }))).items,
    [name],
    { pollMs: 3000, pollWhile: (js) => !!js?.some((j) => ACTIVE.has(String(j.status).toLowerCase())) },
  );

  if (endpoint.error && !endpoint.data)
    return (
      <>
        <PageHeader title={name} crumbs={[{ label: "Batch endpoints", to: "/batch-endpoints" }]} />
        <ErrorBox error={endpoint.error} title={`Could not open batch endpoint ${name}`} />
      </>
    );
  const ep = endpoint.data;
  if (!ep) return <Loading label="Loading the endpoint" />;
  const fallback = ep.defaults?.deployment_name;
  const deps = (deployments.data ?? []) as BatchDeployment[];

  const depColumns: Column<BatchDeployment>[] = [
    {
      id: "name",
      header: "Deployment",
      cell: (d) => (
        <>
          <b>{d.name}</b>
          {d.name === fallback && <span className="chip chip-info default-mark">default</span>}
        </>
      ),
    },
    { id: "type", header: "Type", cell: (d) => d.type },
    { id: "model", header: "Model", cell: (d) => (d.type === "model" ? <ModelRef model={d.model} /> : "—") },
    { id: "compute", header: "Compute", cell: (d) => ("compute" in d ? d.compute : null) ?? "local" },
    {
      id: "settings",
      header: "Settings",
      className: "wrap",
      cell: (d) =>
        settingsOf(d).map(([k, v]) => (
          <span className="tag" key={k}>
            {k}=<b>{v}</b>
          </span>
        )),
    },
  ];
  const jobColumns: Column<AnyJob>[] = [
    { id: "name", header: "Job", cell: (j) => <Link to={`/jobs/${j.name}`}>{j.name}</Link> },
    { id: "status", header: "Status", cell: (j) => <StatusChip status={j.status} /> },
    { id: "deployment", header: "Deployment", cell: (j) => j.tags?.deployment ?? "—" },
    { id: "created", header: "Created", cell: (j) => formatTime(j.creation_context?.created_at) },
    {
      id: "duration",
      header: "Duration",
      cell: (j) => formatDuration((j as Schemas["Job"]).started_at, (j as Schemas["Job"]).ended_at),
    },
  ];

  return (
    <>
      <PageHeader
        title={name}
        crumbs={[{ label: "Batch endpoints", to: "/batch-endpoints" }]}
        subtitle="Batch endpoint · each invocation is a scoring job"
        actions={<StatusChip status={stateOf(ep.provisioning_state)} />}
      />
      <div className="grid-2">
        <Card title="Endpoint">
          <KeyValues
            items={[
              ["Invocation URI", <span className="mono">{ep.scoring_uri}</span>],
              ["Auth mode", <span className="tag">{ep.auth_mode}</span>],
              ["Default deployment", fallback ?? <span className="muted">none</span>],
              ["Description", ep.description],
              ["Created", formatTime(ep.creation_context?.created_at)],
            ]}
          />
        </Card>
        <Card title="Invoke">
          <InvokeForm endpoint={name} deployments={deps.map((d) => d.name!)} fallback={fallback} />
        </Card>
      </div>
      <h2 className="section-title">Deployments</h2>
      <ErrorBox error={deployments.error} title="Could not list the deployments" />
      <DataTable
        label="Deployments"
        columns={depColumns}
        rows={deps}
        rowKey={(d) => d.name!}
        busy={deployments.loading && !deployments.data}
        empty={
          <Empty title="No deployments yet">
            <code className="mono">forgeml batch-deployment create -f deployment.yml --set-default</code>
          </Empty>
        }
      />
      <h2 className="section-title" style={{ marginTop: 20 }}>
        Jobs
      </h2>
      <ErrorBox error={jobs.error} title="Could not list the jobs" />
      <DataTable
        label="Jobs of this endpoint"
        columns={jobColumns}
        rows={jobs.data ?? []}
        rowKey={(j) => j.name!}
        busy={jobs.loading && !jobs.data}
        empty={
          <Empty title="No jobs yet">
            Invoke the endpoint above, or <code className="mono">forgeml batch-endpoint invoke --name {name} --input ./data</code>
          </Empty>
        }
      />
    </>
  );
}
