// Online and batch endpoints: one list each (a switch between them), filtered by name, sorted
// and paged on the server, with its state in the URL. `?deploy=azureml:<model>:<version>` (the
// model page's Deploy action) opens the deploy form.
import { Link, useSearchParams } from "react-router-dom";
import { api, unwrap } from "../../api/client";
import { DataTable, Pager, usePager, useSort, type Column } from "../../components/table";
import { Empty, ErrorBox, PageHeader, StatusChip } from "../../components/ui";
import { formatTime } from "../../lib/format";
import { useDebounced, useLoad, useQueryParam } from "../../lib/hooks";
import {
  DeploymentCount,
  KindSwitch,
  stateOf,
  trafficSummary,
  type BatchEndpoint,
  type OnlineEndpoint,
} from "./common";
import { DeployForm } from "./DeployForm";
import "./endpoints.css";

type Row = OnlineEndpoint | BatchEndpoint;
const PAGE = 25;

export function EndpointsList({ batch }: { batch?: boolean }) {
  const kind = batch ? "batch" : "online";
  const base = batch ? "/batch-endpoints" : "/online-endpoints";
  const [q, setQ] = useQueryParam("q");
  const name = useDebounced(q);
  const sort = useSort("created_at");
  const pager = usePager();
  const [deploy] = useQueryParam("deploy");
  const [formOpen, setFormOpen] = useQueryParam("new");
  const [, setParams] = useSearchParams();

  const list = useLoad(async () => {
    const query = {
      name_contains: name || undefined,
      order_by: sort.sort === "name" ? ("name" as const) : ("created_at" as const),
      order: sort.order,
      limit: PAGE,
      page_token: pager.token,
    };
    return batch
      ? unwrap(api.GET("/api/v1/batch-endpoints", { params: { query } }))
      : unwrap(api.GET("/api/v1/online-endpoints", { params: { query } }));
  }, [batch, name, sort.sort, sort.order, pager.token]);

  const columns: Column<Row>[] = [
    {
      id: "name",
      header: "Name",
      sort: "name",
      cell: (e) => <Link to={`${base}/${e.name}`}>{e.name}</Link>,
    },
    { id: "state", header: "State", cell: (e) => <StatusChip status={stateOf(e.provisioning_state)} /> },
    { id: "auth", header: "Auth", cell: (e) => <span className="tag">{e.auth_mode}</span> },
    {
      id: "deployments",
      header: "Deployments",
      className: "num",
      cell: (e) => <DeploymentCount name={e.name!} batch={!!batch} />,
    },
    batch
      ? {
          id: "default",
          header: "Default deployment",
          cell: (e) => (e as BatchEndpoint).defaults?.deployment_name ?? <span className="muted">none</span>,
        }
      : {
          id: "traffic",
          header: "Traffic",
          cell: (e) => {
            const t = trafficSummary((e as OnlineEndpoint).traffic);
            return t === "no traffic" ? <span className="muted">{t}</span> : t;
          },
        },
    {
      id: "uri",
      header: "Scoring URI",
      cell: (e) => (
        <span className="mono ep-uri" title={e.scoring_uri ?? ""}>
          {e.scoring_uri}
        </span>
      ),
    },
    {
      id: "created",
      header: "Created",
      sort: "created_at",
      cell: (e) => formatTime(e.creation_context?.created_at),
    },
  ];

  const rows = (list.data?.items ?? []) as Row[];
  const cli = batch ? "forgeml batch-endpoint create -f endpoint.yml" : "forgeml online-endpoint create -f endpoint.yml";
  const showForm = !batch && (deploy !== "" || formOpen === "1");

  return (
    <>
      <PageHeader
        title="Endpoints"
        subtitle={
          batch
            ? "Batch endpoints score folders of files: each invocation is a job."
            : "Online endpoints serve models over REST, splitting traffic between their deployments."
        }
        actions={
          !batch && (
            <button className="btn btn-primary" onClick={() => setFormOpen("1")}>
              + Create / Deploy
            </button>
          )
        }
      />
      <KindSwitch />
      <div className="toolbar">
        <div className="field">
          <label htmlFor="ep-search">Name</label>
          <input
            id="ep-search"
            type="search"
            placeholder="Search by name"
            value={q}
            onChange={(e) => setQ(e.target.value)}
          />
        </div>
      </div>
      <ErrorBox error={list.error} title={`Could not list the ${kind} endpoints`} />
      <DataTable
        label={`${batch ? "Batch" : "Online"} endpoints`}
        columns={columns}
        rows={rows}
        rowKey={(e) => e.name!}
        sort={sort}
        busy={list.loading && !list.data}
        empty={
          name ? (
            <Empty title={`No ${kind} endpoint matches “${name}”`}>Clear the search to see them all.</Empty>
          ) : (
            <Empty title={`No ${kind} endpoints yet`}>
              Create one from a YAML document: <code className="mono">{cli}</code>
              {!batch && <> — or deploy a registered model with “Create / Deploy”.</>}
            </Empty>
          )
        }
      />
      <Pager pager={pager} nextToken={list.data?.next_token} count={rows.length} />
      {showForm && (
        <DeployForm
          model={deploy}
          onClose={() =>
            setParams(
              (prev) => {
                const next = new URLSearchParams(prev);
                next.delete("deploy");
                next.delete("new");
                return next;
              },
              { replace: true },
            )
          }
        />
      )}
    </>
  );
}
