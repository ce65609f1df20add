// The names of one asset kind (/data, /models, /environments, /components) with their latest
// version: searched by name, archived ones on request, sorted and paged on the server, the
// page's state in the URL.
import { useEffect, useState } from "react";
import { Link } from "react-router-dom";
import { DataTable, Pager, usePager, useSort, type Column } from "../../components/table";
import { Code, Empty, ErrorBox, PageHeader } from "../../components/ui";
import { useDebounced, useLoad, useQueryParam } from "../../lib/hooks";
import { KINDS, listContainers, type AssetKind, type Container } from "./assetApi";
import { ArchivedMark, Tags, When } from "./bits";
import "./assets.css";

const PAGE = 50;
const ORDERS = ["name", "created_at", "last_modified_at"] as const;

function columns(kind: AssetKind): Column<Container>[] {
  const cols: Column<Container>[] = [
    {
      id: "name",
      header: "Name",
      sort: "name",
      cell: (c) => (
        <span className="asset-name">
          <Link to={`/${kind}/${encodeURIComponent(c.name)}`}>{c.name}</Link>
          {c.archived && <ArchivedMark />}
        </span>
      ),
    },
    {
      id: "version",
      header: "Latest version",
      cell: (c) =>
        c.latest_version ? (
          <Link
            to={`/${kind}/${encodeURIComponent(c.name)}/${encodeURIComponent(c.latest_version)}`}
            aria-label={`${c.name} version ${c.latest_version}`}
          >
            {c.latest_version}
          </Link>
        ) : (
          <span className="muted">all archived</span>
        ),
    },
    { id: "count", header: "Versions", className: "num", cell: (c) => c.version_count },
  ];
  if (kind === "data" || kind === "models") {
    cols.push({ id: "type", header: "Type", cell: (c) => (c.type ? <span className="type-pill">{c.type}</span> : "—") });
  }
  cols.push(
    {
      id: "description",
      header: "Description",
      className: "wrap desc-col",
      cell: (c) => c.description || <span className="muted">—</span>,
    },
    { id: "tags", header: "Tags", className: "wrap tags-col", cell: (c) => <Tags tags={c.tags} /> },
    { id: "created", header: "Created", sort: "created_at", cell: (c) => <When iso={c.created_at} /> },
    { id: "updated", header: "Updated", sort: "last_modified_at", cell: (c) => <When iso={c.last_modified_at} /> },
  );
  return cols;
}

export function AssetList({ kind }: { kind: AssetKind }) {
  const info = KINDS[kind];
  const [search, setSearch] = useQueryParam("q");
  const [typed, setTyped] = useState(search);
  const debounced = useDebounced(typed, 300);
  useEffect(() => setSearch(debounced.trim()), [debounced, setSearch]);
  const [archived, setArchived] = useQueryParam("archived");
  const sort = useSort("name", "asc");
  const pager = usePager();
  const orderBy = (ORDERS as readonly string[]).includes(sort.sort) ? (sort.sort as (typeof ORDERS)[number]) : "name";

  const list = useLoad(
    () =>
      listContainers(kind, {
        name_contains: search || undefined,
        include_archived: archived === "1",
        order_by: orderBy,
        order: sort.order,
        page_token: pager.token,
        limit: PAGE,
      }),
    [kind, search, archived, orderBy, sort.order, pager.token],
  );
  const rows = list.data?.items ?? [];
  const filtered = !!search;

  return (
    <>
      <PageHeader title={info.title} subtitle={info.blurb} />
      <div className="toolbar" role="search" aria-label={`Filter ${info.title.toLowerCase()}`}>
        <div className="field">
          <label htmlFor="asset-search">Name</label>
          <input
            id="asset-search"
            type="search"
            placeholder="Search by name"
            value={typed}
            onChange={(e) => setTyped(e.target.value)}
          />
        </div>
        <label className="check">
          <input
            type="checkbox"
            checked={archived === "1"}
            onChange={(e) => setArchived(e.target.checked ? "1" : "")}
          />
          Include archived
        </label>
        {filtered && (
          <button
            className="btn btn-ghost"
            onClick={() => {
              setTyped("");
              setSearch("");
            }}
          >
            Clear search
          </button>
        )}
      </div>
      <ErrorBox error={list.error} title={`The ${info.title.toLowerCase()} could not be listed`} />
      <DataTable
        label={info.title}
        columns={columns(kind)}
        rows={rows}
        rowKey={(c) => c.name}
        sort={sort}
        busy={list.loading && !list.data}
        empty={
          filtered ? (
            <Empty title={`No ${info.one} matches “${search}”`}>Clear the search to see every name.</Empty>
          ) : (
            <Empty title={`No ${info.one}s yet`}>
              <p>Create the first one with the command line:</p>
              <Code>{info.create}</Code>
              {archived !== "1" && <p className="muted">Archived ones are hidden; tick “Include archived” to see them.</p>}
            </Empty>
          )
        }
      />
      <Pager pager={pager} nextToken={list.data?.next_token} count={rows.length} />
    </>
  );
}
