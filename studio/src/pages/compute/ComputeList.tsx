// Compute targets: the built-in `local` one and the registered ones (Ray clusters), with their
// live state and slots. A workspace has a handful, so the list is filtered and sorted here; the
// filter and the order live in the URL.
import { Link } from "react-router-dom";
import { api, unwrap, type Schemas } from "../../api/client";
import { DataTable, useSort, type Column } from "../../components/table";
import { Empty, ErrorBox, PageHeader, StatusChip } from "../../components/ui";
import { formatTime } from "../../lib/format";
import { useLoad, useQueryParam } from "../../lib/hooks";
import "./compute.css";

type Compute = Schemas["LocalCompute"] | Schemas["RayCompute"];

function LiveState({ name }: { name: string }) {
  const status = useLoad(
    () => unwrap(api.GET("/api/v1/computes/{name}/status", { params: { path: { name } } })),
    [name],
    { pollMs: 5000 },
  );
  if (status.error) return <StatusChip status="failed" />;
  if (!status.data) return <span className="muted">…</span>;
  const s = status.data;
  return (
    <>
      <StatusChip status={s.state === "ready" ? "ready" : "failed"} />{" "}
      <span className="muted">
        {s.active_jobs} running · {s.queued_jobs} queued
      </span>
    </>
  );
}

export function ComputeList() {
  const [q, setQ] = useQueryParam("q");
  const [type, setType] = useQueryParam("type");
  const sort = useSort("name", "asc");
  const list = useLoad(async () => (await unwrap(api.GET("/api/v1/computes"))).items, []);
  const needle = q.toLowerCase();
  const rows = (list.data ?? [])
    .filter((c) => (!needle || (c.name ?? "").toLowerCase().includes(needle)) && (!type || c.type === type))
    .sort((a, b) => {
      const key = (c: Compute) => (sort.sort === "created_at" ? (c.creation_context?.created_at ?? "") : (c.name ?? ""));
      const d = key(a).localeCompare(key(b));
      return sort.order === "asc" ? d : -d;
    });

  const columns: Column<Compute>[] = [
    { id: "name", header: "Name", sort: "name", cell: (c) => <Link to={`/compute/${c.name}`}>{c.name}</Link> },
    { id: "type", header: "Type", cell: (c) => <span className="tag">{c.type}</span> },
    { id: "state", header: "State", cell: (c) => <LiveState name={c.name!} /> },
    { id: "slots", header: "Max concurrent jobs", className: "num", cell: (c) => c.max_concurrent_jobs ?? 1 },
    {
      id: "address",
      header: "Address",
      cell: (c) => (c.type === "ray" ? <span className="mono">{c.address}</span> : <span className="muted">this machine</span>),
    },
    { id: "created", header: "Created", sort: "created_at", cell: (c) => formatTime(c.creation_context?.created_at) },
  ];

  return (
    <>
      <PageHeader title="Compute" subtitle="Where jobs and deployments run: this machine, or a Ray cluster." />
      <div className="toolbar">
        <div className="field">
          <label htmlFor="compute-search">Name</label>
          <input id="compute-search" type="search" placeholder="Search by name" value={q} onChange={(e) => setQ(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="compute-type">Type</label>
          <select id="compute-type" value={type} onChange={(e) => setType(e.target.value)}>
            <option value="">All types</option>
            <option value="local">local</option>
            <option value="ray">ray</option>
          </select>
        </div>
      </div>
      <ErrorBox error={list.error} title="Could not list the compute targets" />
      <DataTable
        label="Compute targets"
        columns={columns}
        rows={rows}
        rowKey={(c) => c.name!}
        sort={sort}
        busy={list.loading && !list.data}
        empty={
          <Empty title={q || type ? "No compute target matches" : "No compute targets"}>
            Register a Ray cluster: <code className="mono">forgeml compute create -f ray.yml</code>
          </Empty>
        }
      />
    </>
  );
}
