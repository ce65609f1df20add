// A pipeline's child jobs (its steps) or a sweep's trials, listed from `GET /jobs?parent=`.
import { Link } from "react-router-dom";
import { api, unwrap, type AnyJob } from "../../api/client";
import { DataTable, Pager, usePager, type Column } from "../../components/table";
import { Empty, ErrorBox, StatusChip } from "../../components/ui";
import { formatDuration, formatTime } from "../../lib/format";
import { useLoad } from "../../lib/hooks";
import { isTerminal, JobTypeBadge, ReusedMark } from "./common";
import { jobType } from "../../api/client";

const COLUMNS: Column<AnyJob>[] = [
  { id: "step", header: "Step", cell: (j) => <span className="mono">{j.step ?? "—"}</span> },
  {
    id: "name",
    header: "Job",
    cell: (j) => <Link to={`/jobs/${encodeURIComponent(j.name ?? "")}`}>{j.name}</Link>,
  },
  {
    id: "status",
    header: "Status",
    cell: (j) => (
      <span className="job-status-cell">
        <StatusChip status={j.status} />
        <ReusedMark job={j} />
      </span>
    ),
  },
  { id: "type", header: "Type", cell: (j) => <JobTypeBadge type={jobType(j)} /> },
  { id: "created", header: "Created", cell: (j) => formatTime(j.creation_context?.created_at) },
  { id: "duration", header: "Duration", className: "num", cell: (j) => (j.started_at ? formatDuration(j.started_at, j.ended_at) : "—") },
];

export function JobChildren({ parent, running }: { parent: string; running: boolean }) {
  const pager = usePager();
  const list = useLoad(
    () =>
      unwrap(
        api.GET("/api/v1/jobs", {
          params: { query: { parent, order_by: "created_at", order: "asc", page_token: pager.token, limit: 100 } },
        }),
      ),
    [parent, pager.token],
    { pollMs: 3000, pollWhile: (page) => running || !!page?.items.some((j) => !isTerminal(j.status)) },
  );
  const rows = list.data?.items ?? [];
  return (
    <>
      <ErrorBox error={list.error} title="The child jobs could not be listed" />
      <DataTable
        label="Child jobs"
        columns={COLUMNS}
        rows={rows}
        rowKey={(j) => j.name ?? ""}
        busy={list.loading && !list.data}
        empty={<Empty title="No child jobs yet">Steps and trials appear here once they are queued.</Empty>}
      />
      <Pager pager={pager} nextToken={list.data?.next_token} count={rows.length} />
    </>
  );
}
