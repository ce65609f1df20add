// One compute target: its settings, its live state (nodes and their free resources for Ray,
// this machine's for local), and the jobs that run or wait on it.
import { Link, useParams } from "react-router-dom";
import { api, unwrap, type AnyJob } from "../../api/client";
import { DataTable, type Column } from "../../components/table";
import { Card, Empty, ErrorBox, KeyValues, Loading, PageHeader, StatusChip } from "../../components/ui";
import { formatDuration, formatTime } from "../../lib/format";
import { useLoad } from "../../lib/hooks";
import { Meters, formatResource, orderedKeys } from "./resources";
import "./compute.css";

type Node = { node_id: string; address: string; alive?: boolean; head?: boolean; total?: Record<string, number>; available?: Record<string, number> };

function computeOf(job: AnyJob): string {
  const c = (job as { compute?: string | null }).compute;
  return (c ?? "local").replace(/^azureml:/, "");
}

export function ComputePage() {
  const { name = "" } = useParams();
  const compute = useLoad(() => unwrap(api.GET("/api/v1/computes/{name}", { params: { path: { name } } })), [name]);
  const status = useLoad(
    () => unwrap(api.GET("/api/v1/computes/{name}/status", { params: { path: { name } } })),
    [name],
    { pollMs: 5000 },
  );
  const jobs = useLoad(
    async () => {
      const page = await unwrap(api.GET("/api/v1/jobs", { params: { query: { compute: name, limit: 50 } } }));
      return page.items.filter((j) => computeOf(j) === name);
    },
    [name],
    { pollMs: 5000 },
  );

  if (compute.error && !compute.data)
    return (
      <>
        <PageHeader title={name} crumbs={[{ label: "Compute", to: "/compute" }]} />
        <ErrorBox error={compute.error} title={`Could not open compute ${name}`} />
      </>
    );
  const c = compute.data;
  if (!c) return <Loading label="Loading the compute target" />;
  const s = status.data;

  const nodeColumns: Column<Node>[] = [
    {
      id: "node",
      header: "Node",
      cell: (n) => (
        <>
          <span className="mono">{n.node_id.slice(0, 16)}</span>
          {n.head && <span className="chip chip-info" style={{ marginLeft: 6 }}>head</span>}
        </>
      ),
    },
    { id: "address", header: "Address", cell: (n) => <span className="mono">{n.address}</span> },
    { id: "alive", header: "State", cell: (n) => <StatusChip status={n.alive === false ? "failed" : "ready"} /> },
    {
      id: "res",
      header: "Free / total",
      className: "wrap",
      cell: (n) => (
        <span className="res-list">
          {orderedKeys(n.total ?? {}).map((k) => (
            <span className="tag" key={k}>
              {k} <b>{formatResource(k, n.available?.[k] ?? 0)}</b> / {formatResource(k, n.total?.[k] ?? 0)}
            </span>
          ))}
        </span>
      ),
    },
  ];
  const jobColumns: Column<AnyJob>[] = [
    { id: "name", header: "Job", cell: (j) => <Link to={`/jobs/${j.name}`}>{j.display_name || j.name}</Link> },
    { id: "status", header: "Status", cell: (j) => <StatusChip status={j.status} /> },
    { id: "experiment", header: "Experiment", cell: (j) => j.experiment_name ?? "—" },
    { id: "created", header: "Created", cell: (j) => formatTime(j.creation_context?.created_at) },
    {
      id: "duration",
      header: "Duration",
      cell: (j) => {
        const t = j as { started_at?: string | null; ended_at?: string | null };
        return formatDuration(t.started_at, t.ended_at);
      },
    },
  ];

  return (
    <>
      <PageHeader
        title={name}
        crumbs={[{ label: "Compute", to: "/compute" }]}
        subtitle={c.description ?? (c.type === "ray" ? "A Ray cluster" : "This machine")}
        actions={
          <>
            {s && <StatusChip status={s.state === "ready" ? "ready" : "failed"} />}
            <button className="btn" onClick={() => { status.reload(); jobs.reload(); }}>
              Refresh
            </button>
          </>
        }
      />
      <ErrorBox error={status.error} title="Could not read the compute's status" />
      {s?.state === "unreachable" && <ErrorBox error={s.message ?? "unreachable"} title="The cluster does not answer" />}
      <div className="grid-2">
        <Card title="Overview">
          <KeyValues
            items={[
              ["Type", <span className="tag">{c.type}</span>],
              ["State", s ? <StatusChip status={s.state === "ready" ? "ready" : "failed"} /> : "…"],
              ["Address", <span className="mono">{s?.address ?? (c.type === "ray" ? c.address : "this machine")}</span>],
              ["Dashboard", s?.dashboard_url ? <a href={s.dashboard_url}>{s.dashboard_url}</a> : null],
              ["Max concurrent jobs", String(s?.max_concurrent_jobs ?? c.max_concurrent_jobs ?? 1)],
              ["Running jobs", s ? String(s.active_jobs) : "…"],
              ["Queued jobs", s ? String(s.queued_jobs) : "…"],
              ["Created", formatTime(c.creation_context?.created_at)],
            ]}
          />
        </Card>
        <Card title="Resources">
          {s ? <Meters total={s.total ?? {}} available={s.available ?? {}} /> : <Loading label="Reading the status" />}
        </Card>
      </div>
      <h2 className="section-title">Nodes</h2>
      <DataTable
        label="Nodes"
        columns={nodeColumns}
        rows={(s?.nodes ?? []) as Node[]}
        rowKey={(n) => n.node_id}
        busy={!s}
        empty={<Empty title="No nodes">The cluster reports no nodes.</Empty>}
      />
      <h2 className="section-title" style={{ marginTop: 20 }}>
        Jobs on {name}
      </h2>
      <ErrorBox error={jobs.error} title="Could not list the jobs" />
      <DataTable
        label={`Jobs on ${name}`}
        columns={jobColumns}
        rows={jobs.data ?? []}
        rowKey={(j) => j.name!}
        busy={jobs.loading && !jobs.data}
        empty={
          <Empty title="No jobs on this compute">
            Submit one with <code className="mono">compute: azureml:{name}</code> in its YAML, or from <Link to="/submit">Submit job</Link>.
          </Empty>
        }
      />
    </>
  );
}
