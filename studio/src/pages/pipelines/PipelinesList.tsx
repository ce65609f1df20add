// The pipeline jobs (/pipelines): status, experiment, steps and timing, filtered by status and
// name, sorted and paged on the server, with the page's state in the URL.
import { useEffect, useState } from "react";
import { Link } from "react-router-dom";
import { api, unwrap, type PipelineJob, type Schemas } from "../../api/client";
import { DataTable, Pager, useSort, usePager, type Column } from "../../components/table";
import { Code, Empty, ErrorBox, PageHeader, StatusChip } from "../../components/ui";
import { formatDuration, formatTime } from "../../lib/format";
import { useDebounced, useLoad, useQueryParam } from "../../lib/hooks";
import "./pipelines.css";

const STATUSES = ["queued", "preparing", "running", "completed", "failed", "canceled"];
const PAGE = 50;
type Order = Schemas["JobOrder"];
const ORDERS: Order[] = ["created_at", "name", "status", "experiment", "started_at", "duration"];

const COLUMNS: Column<PipelineJob>[] = [
  {
    id: "name",
    header: "Name",
    sort: "name",
    cell: (j) => (
      <div className="name-cell">
        <Link to={`/jobs/${j.name}`}>{j.name}</Link>
        {j.display_name && j.display_name !== j.name && <span className="muted">{j.display_name}</span>}
      </div>
    ),
  },
  { id: "status", header: "Status", sort: "status", cell: (j) => <StatusChip status={j.status} /> },
  { id: "experiment", header: "Experiment", sort: "experiment", cell: (j) => j.experiment_name ?? "—" },
  {
    id: "steps",
    header: "Steps",
    className: "num",
    cell: (j) => {
      const steps = j.steps ?? [];
      const done = steps.filter((s) => s.status === "completed").length;
      const reused = steps.filter((s) => s.reused_from).length;
      return (
        <span title={reused ? `${reused} reused` : undefined}>
          {steps.length ? `${done}/${steps.length}` : Object.keys(j.jobs ?? {}).length}
          {reused > 0 && <span className="tag reused-tag"> {reused} reused</span>}
        </span>
      );
    },
  },
  { id: "created", header: "Created", sort: "created_at", cell: (j) => formatTime(j.creation_context?.created_at) },
  { id: "duration", header: "Duration", sort: "duration", className: "num", cell: (j) => formatDuration(j.started_at, j.ended_at) },
];

export function PipelinesList() {
  const [status, setStatus] = useQueryParam("status");
  const [search, setSearch] = useQueryParam("q");
  const [typed, setTyped] = useState(search);
  const debounced = useDebounced(typed, 300);
  useEffect(() => setSearch(debounced.trim()), [debounced, setSearch]);
  const sort = useSort("created_at");
  const pager = usePager();

  const list = useLoad(
    () => {
      const orderBy = (ORDERS.includes(sort.sort as Order) ? sort.sort : "created_at") as Order;
      return unwrap(
        api.GET("/api/v1/jobs", {
          params: {
            query: {
              type: ["pipeline"],
              status: status ? [status] : undefined,
              search: search || undefined,
              order_by: orderBy,
              order: sort.order,
              page_token: pager.token,
              limit: PAGE,
              total: true,
            },
          },
        }),
      );
    },
    [status, search, sort.sort, sort.order, pager.token],
    { pollMs: 5000, pollWhile: (d) => !!d?.items.some((j) => !["completed", "failed", "canceled"].includes(j.status)) },
  );
  const rows = (list.data?.items ?? []).filter((j): j is PipelineJob => j.type === "pipeline");
  const filtered = !!(status || search);

  return (
    <>
      <PageHeader
        title="Pipelines"
        subtitle="Pipeline jobs: graphs of steps whose completed work is reused when nothing changed."
        actions={
          <Link className="btn btn-primary" to="/submit">
            Submit a pipeline
          </Link>
        }
      />
      <div className="toolbar" role="search" aria-label="Filter pipelines">
        <div className="field">
          <label htmlFor="pl-search">Name</label>
          <input
            id="pl-search"
            type="search"
            placeholder="Search by name"
            value={typed}
            onChange={(e) => setTyped(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="pl-status">Status</label>
          <select id="pl-status" value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">Any status</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        {filtered && (
          <button
            className="btn btn-ghost"
            onClick={() => {
              setTyped("");
              setSearch("");
              setStatus("");
            }}
          >
            Clear filters
          </button>
        )}
        {typeof list.data?.total === "number" && (
          <span className="muted list-total" aria-live="polite">
            {list.data.total} pipeline job{list.data.total === 1 ? "" : "s"}
          </span>
        )}
      </div>
      <ErrorBox error={list.error} title="The pipelines could not be listed" />
      <DataTable
        label="Pipeline jobs"
        columns={COLUMNS}
        rows={rows}
        rowKey={(j) => j.name ?? ""}
        sort={sort}
        busy={list.loading && !list.data}
        empty={
          filtered ? (
            <Empty title="No pipeline matches these filters">Clear the filters to see every pipeline job.</Empty>
          ) : (
            <Empty title="No pipeline jobs yet">
              <p>Submit one from a pipeline YAML:</p>
              <Code>forgeml job create -f pipeline.yml</Code>
            </Empty>
          )
        }
      />
      <Pager pager={pager} nextToken={list.data?.next_token} count={rows.length} />
    </>
  );
}
