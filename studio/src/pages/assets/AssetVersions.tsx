// One name's versions (/<kind>/<name>): newest first (or oldest), archived ones on request,
// paged on the server; the whole name and each version can be archived or restored.
import type { ReactNode } from "react";
import { Link, useParams } from "react-router-dom";
import { DataTable, Pager, usePager, useSort, type Column } from "../../components/table";
import { Code, Empty, ErrorBox, Loading, PageHeader } from "../../components/ui";
import { formatTime } from "../../lib/format";
import { useLoad, useQueryParam } from "../../lib/hooks";
import { getContainer, KINDS, listVersions, type AssetKind, type AssetVersion } from "./assetApi";
import { ArchiveButton, ArchivedMark, Tags, When } from "./bits";
import "./assets.css";

const PAGE = 50;

function Stat({ label, value }: { label: string; value: ReactNode }) {
  return (
    <div className="stat">
      <span className="stat-label">{label}</span>
      <span className="stat-text">{value}</span>
    </div>
  );
}

export function AssetVersions({ kind }: { kind: AssetKind }) {
  const { name = "" } = useParams();
  const info = KINDS[kind];
  const [archived, setArchived] = useQueryParam("archived");
  const sort = useSort("created_at", "desc");
  const pager = usePager();
  const container = useLoad(() => getContainer(kind, name), [kind, name]);
  const list = useLoad(
    () =>
      listVersions(kind, name, {
        include_archived: archived === "1",
        order: sort.order,
        page_token: pager.token,
        limit: PAGE,
      }),
    [kind, name, archived, sort.order, pager.token],
  );
  const reload = () => {
    container.reload();
    list.reload();
  };
  const c = container.data;
  const whole = !!c?.archived;
  const rows = list.data?.items ?? [];
  const link = (v: AssetVersion) => `/${kind}/${encodeURIComponent(name)}/${encodeURIComponent(v.version ?? "")}`;

  const cols: Column<AssetVersion>[] = [
    {
      id: "version",
      header: "Version",
      cell: (v) => (
        <span className="asset-name">
          <Link to={link(v)} aria-label={`Version ${v.version}`}>
            {v.version}
          </Link>
          {v.archived && <ArchivedMark />}
        </span>
      ),
    },
  ];
  if (kind === "data" || kind === "models") {
    cols.push({
      id: "type",
      header: "Type",
      cell: (v) => <span className="type-pill">{(v as { type?: string }).type ?? "—"}</span>,
    });
  }
  cols.push(
    { id: "created", header: "Created", sort: "created_at", cell: (v) => <When iso={v.creation_context?.created_at} /> },
    { id: "by", header: "Created by", cell: (v) => v.creation_context?.created_by ?? "—" },
    {
      id: "description",
      header: "Description",
      className: "wrap desc-col",
      cell: (v) => v.description || <span className="muted">—</span>,
    },
    { id: "tags", header: "Tags", className: "wrap tags-col", cell: (v) => <Tags tags={v.tags} /> },
    {
      id: "actions",
      header: <span className="sr-only">Actions</span>,
      className: "actions-col",
      cell: (v) =>
        whole ? null : (
          <ArchiveButton
            small
            kind={kind}
            name={name}
            version={v.version ?? undefined}
            archived={v.archived}
            label={`version ${v.version}`}
            onDone={reload}
          />
        ),
    },
  );

  if (container.error) {
    return (
      <>
        <PageHeader title={name} crumbs={[{ label: info.title, to: `/${kind}` }]} />
        <ErrorBox error={container.error} title={`The ${info.one} could not be loaded`} />
      </>
    );
  }
  return (
    <>
      <PageHeader
        title={
          <span className="asset-title">
            {name}
            {whole && <ArchivedMark />}
          </span>
        }
        crumbs={[{ label: info.title, to: `/${kind}` }]}
        subtitle={c?.description ?? undefined}
        actions={
          c && (
            <>
              {c.latest_version && (
                <Link className="btn btn-primary" to={`/${kind}/${encodeURIComponent(name)}/${encodeURIComponent(c.latest_version)}`}>
                  Open latest (v{c.latest_version})
                </Link>
              )}
              <ArchiveButton kind={kind} name={name} archived={whole} label={`${info.one} ${name}`} onDone={reload} />
            </>
          )
        }
      />
      {!c && container.loading && <Loading />}
      {whole && (
        <div className="notice notice-muted" role="status">
          This {info.one} is archived: it is hidden from the {info.title.toLowerCase()} list and from
          <code> @latest</code> references. Restore it to use it again.
        </div>
      )}
      {c && (
        <section className="card summary-card" aria-label="Summary">
          <Stat label="Versions" value={c.version_count} />
          <Stat label="Latest version" value={c.latest_version ?? "all archived"} />
          {c.type && <Stat label="Type" value={<span className="type-pill">{c.type}</span>} />}
          <Stat label="Created" value={formatTime(c.created_at)} />
          <Stat label="Updated" value={formatTime(c.last_modified_at)} />
          {Object.keys(c.tags ?? {}).length > 0 && <Stat label="Tags (latest)" value={<Tags tags={c.tags} />} />}
        </section>
      )}
      <div className="toolbar">
        <h2 className="section-title">Versions</h2>
        <label className="check">
          <input
            type="checkbox"
            checked={archived === "1"}
            onChange={(e) => setArchived(e.target.checked ? "1" : "")}
          />
          Include archived versions
        </label>
      </div>
      <ErrorBox error={list.error} title="The versions could not be listed" />
      <DataTable
        label={`Versions of ${name}`}
        columns={cols}
        rows={rows}
        rowKey={(v) => v.version ?? ""}
        sort={sort}
        busy={list.loading && !list.data}
        empty={
          <Empty title="No versions to show">
            {archived === "1" ? (
              <p>Create one with the command line:</p>
            ) : (
              <p>Every version is archived; tick “Include archived versions”, or create a new one:</p>
            )}
            <Code>{`forgeml ${info.cli} create --name ${name} ...`}</Code>
          </Empty>
        }
      />
      <Pager pager={pager} nextToken={list.data?.next_token} count={rows.length} />
    </>
  );
}
