// The job list (/jobs): every top-level job with its status, type, experiment, compute, timing
// and who created it; filtered, sorted and paged on the server, its state in the URL, refreshed
// while a shown job is still going, and a selection to compare.
import { useEffect, useMemo, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router-dom";
import { api, jobType, unwrap, type AnyJob, type Schemas } from "../../api/client";
import { DataTable, Pager, useSort, usePager, type Column } from "../../components/table";
import { Code, Empty, ErrorBox, PageHeader, StatusChip } from "../../components/ui";
import { formatDuration, formatTime } from "../../lib/format";
import { useDebounced, useLoad, useQueryParam } from "../../lib/hooks";
import { isTerminal, JobTypeBadge, ReusedMark, STATUSES } from "./common";
import "./jobs.css";

const PAGE = 50;
type Order = Schemas["JobOrder"];
const ORDERS: Order[] = ["created_at", "name", "status", "experiment", "started_at", "duration"];
const TYPES = ["command", "pipeline", "sweep"] as const;

const COLUMNS: Column<AnyJob>[] = [
  {
    id: "name",
    header: "Name",
    sort: "name",
    cell: (j) => (
      <div className="job-name-cell">
        <Link to={`/jobs/${encodeURIComponent(j.name ?? "")}`}>{j.name}</Link>
        {j.display_name && j.display_name !== j.name && <span className="muted">{j.display_name}</span>}
      </div>
    ),
  },
  {
    id: "status",
    header: "Status",
    sort: "status",
    cell: (j) => (
      <span className="job-status-cell">
        <StatusChip status={j.status} />
        <ReusedMark job={j} />
      </span>
    ),
  },
  { id: "type", header: "Type", cell: (j) => <JobTypeBadge type={jobType(j)} /> },
  { id: "experiment", header: "Experiment", sort: "experiment", cell: (j) => j.experiment_name ?? "—" },
  { id: "compute", header: "Compute", cell: (j) => ("compute" in j && j.compute ? String(j.compute) : "—") },
  { id: "created", header: "Created", sort: "created_at", cell: (j) => formatTime(j.creation_context?.created_at) },
  {
    id: "duration",
    header: "Duration",
    sort: "duration",
    className: "num",
    cell: (j) => (j.started_at ? formatDuration(j.started_at, j.ended_at) : "—"),
  },
  { id: "created_by", header: "Created by", cell: (j) => j.creation_context?.created_by ?? "—" },
];

export function JobsList() {
  const navigate = useNavigate();
  const [, setParams] = useSearchParams();
  const [status, setStatus] = useQueryParam("status");
  const [type, setType] = useQueryParam("type");
  const [experiment, setExperiment] = useQueryParam("experiment");
  const [compute, setCompute] = useQueryParam("compute");
  const [tag, setTag] = useQueryParam("tag");
  const [typedTag, setTypedTag] = useState(tag);
  const debouncedTag = useDebounced(typedTag, 300);
  useEffect(() => {
    if (debouncedTag.trim() !== tag) setTag(debouncedTag.trim());
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [debouncedTag]);
  const [search, setSearch] = useQueryParam("q");
  // the text boxes answer as one types; the URL (and the request) follows once typing pauses
  const [typed, setTyped] = useState(search);
  const [typedExperiment, setTypedExperiment] = useState(experiment);
  const debounced = useDebounced(typed, 300);
  const debouncedExperiment = useDebounced(typedExperiment, 300);
  // only a change (not the first render) resets the page: a shared link keeps its page
  useEffect(() => {
    if (debounced.trim() !== search) setSearch(debounced.trim());
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [debounced]);
  useEffect(() => {
    if (debouncedExperiment.trim() !== experiment) setExperiment(debouncedExperiment.trim());
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [debouncedExperiment]);
  const sort = useSort("created_at");
  const pager = usePager();
  const [selected, setSelected] = useState<Set<string>>(new Set());

  const computes = useLoad(() => unwrap(api.GET("/api/v1/computes", {})), []);
  const list = useLoad(
    () => {
      const orderBy = (ORDERS.includes(sort.sort as Order) ? sort.sort : "created_at") as Order;
      return unwrap(
        api.GET("/api/v1/jobs", {
          params: {
            query: {
              status: status ? [status] : undefined,
              type: type ? [type as (typeof TYPES)[number]] : undefined,
              experiment_name: experiment || undefined,
              compute: compute || undefined,
              tag: tag ? [tag] : undefined,
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
    [status, type, experiment, compute, tag, search, sort.sort, sort.order, pager.token],
    { pollMs: 3000, pollWhile: (page) => !!page?.items.some((j) => !isTerminal(j.status)) },
  );

  const rows = list.data?.items ?? [];
  const filtered = !!(status || type || experiment || compute || tag || search);
  const chosen = useMemo(() => [...selected], [selected]);
  const computeNames = (computes.data?.items ?? []).map((c) => c.name ?? "").filter(Boolean);

  const clear = () => {
    setTyped("");
    setTypedExperiment("");
    setTypedTag("");
    // one URL update: several in a row would each start from the same URL
    setParams(
      (prev) => {
        const next = new URLSearchParams(prev);
        for (const key of ["status", "type", "compute", "tag", "q", "experiment", "page"]) next.delete(key);
        return next;
      },
      { replace: true },
    );
  };

  return (
    <>
      <PageHeader
        title="Jobs"
        subtitle="Every job in the workspace: command jobs, pipelines and sweeps."
        actions={
          <>
            <button
              className="btn"
              disabled={chosen.length < 2}
              onClick={() => navigate(`/compare?jobs=${chosen.map(encodeURIComponent).join(",")}`)}
              title={chosen.length < 2 ? "Select two or more jobs to compare them" : undefined}
            >
              Compare{chosen.length ? ` (${chosen.length})` : ""}
            </button>
            <Link className="btn btn-primary" to="/submit">
              Submit job
            </Link>
          </>
        }
      />
      <div className="toolbar jobs-toolbar" role="search" aria-label="Filter jobs">
        <div className="field job-search">
          <label htmlFor="jobs-search">Search</label>
          <input
            id="jobs-search"
            type="search"
            placeholder="Name or display name"
            value={typed}
            onChange={(e) => setTyped(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="jobs-status">Status</label>
          <select id="jobs-status" value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">Any status</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s[0].toUpperCase() + s.slice(1)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="jobs-type">Type</label>
          <select id="jobs-type" value={type} onChange={(e) => setType(e.target.value)}>
            <option value="">Any type</option>
            {TYPES.map((t) => (
              <option key={t} value={t}>
                {t[0].toUpperCase() + t.slice(1)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="jobs-experiment">Experiment</label>
          <input
            id="jobs-experiment"
            type="text"
            placeholder="Any experiment"
            value={typedExperiment}
            onChange={(e) => setTypedExperiment(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="jobs-compute">Compute</label>
          <select id="jobs-compute" value={compute} onChange={(e) => setCompute(e.target.value)}>
            <option value="">Any compute</option>
            {[...new Set([...computeNames, ...(compute ? [compute] : [])])].map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="jobs-tag">Tag</label>
          <input
            id="jobs-tag"
            type="text"
            placeholder="key or key=value"
            value={typedTag}
            onChange={(e) => setTypedTag(e.target.value)}
          />
        </div>
        {filtered && (
          <button className="btn btn-ghost" onClick={clear}>
            Clear filters
          </button>
        )}
        <span className="toolbar-spacer" />
        <span className="muted job-count" aria-live="polite">
          {list.data?.total != null ? `${list.data.total.toLocaleString()} job${list.data.total === 1 ? "" : "s"}` : ""}
        </span>
      </div>
      <ErrorBox error={list.error} title="The jobs could not be listed" />
      <DataTable
        label="Jobs"
        columns={COLUMNS}
        rows={rows}
        rowKey={(j) => j.name ?? ""}
        sort={sort}
        busy={list.loading && !list.data}
        selected={selected}
        onSelect={(key, on) =>
          setSelected((prev) => {
            const next = new Set(prev);
            if (on) next.add(key);
            else next.delete(key);
            return next;
          })
        }
        empty={
          filtered ? (
            <Empty title="No jobs match these filters">
              <button className="btn" onClick={clear}>
                Clear filters
              </button>
            </Empty>
          ) : (
            <Empty title="No jobs yet">
              Submit one from a YAML file with <Code>forgeml job create -f job.yml</Code> or{" "}
              <Link to="/submit">paste its YAML here</Link>.
            </Empty>
          )
        }
      />
      <Pager pager={pager} nextToken={list.data?.next_token} count={rows.length} />
    </>
  );
}
