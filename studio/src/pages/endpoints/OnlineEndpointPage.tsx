// One online endpoint: its details and keys (on request, masked), its deployments and the
// traffic editor; live figures per deployment; logs; and a test console.
import { useEffect, useState } from "react";
import { useParams } from "react-router-dom";
import { api, unwrap, type Schemas } from "../../api/client";
import { DataTable, type Column } from "../../components/table";
import {
  Card,
  Empty,
  ErrorBox,
  KeyValues,
  Loading,
  PageHeader,
  StatusChip,
  TabPanel,
  Tabs,
  useTab,
} from "../../components/ui";
import { formatTime } from "../../lib/format";
import { useLoad } from "../../lib/hooks";
import { ModelRef, readyInstances, stateOf, trafficSummary, type OnlineDeployment } from "./common";
import { DeploymentFigures } from "./DeploymentFigures";
import { DeploymentLogs } from "./DeploymentLogs";
import { TestConsole } from "./TestConsole";
import { TrafficEditor } from "./TrafficEditor";
import "./endpoints.css";

const BUSY = new Set(["creating", "updating", "deleting"]);

function Keys({ name }: { name: string }) {
  const [keys, setKeys] = useState<Schemas["EndpointKeys"]>();
  const [shown, setShown] = useState(false);
  const [error, setError] = useState<unknown>();
  const [copied, setCopied] = useState("");
  async function load() {
    setError(undefined);
    try {
      setKeys(await unwrap(api.POST("/api/v1/online-endpoints/{name}/keys", { params: { path: { name } } })));
    } catch (err) {
      setError(err);
    }
  }
  if (!keys)
    return (
      <>
        <ErrorBox error={error} title="Could not read the keys" />
        <button className="btn" onClick={load}>
          Show keys
        </button>
      </>
    );
  return (
    <div>
      {(
        [
          ["Primary key", keys.primary_key],
          ["Secondary key", keys.secondary_key],
        ] as const
      ).map(([label, value]) => (
        <div className="key-row" key={label}>
          <input type={shown ? "text" : "password"} readOnly value={value} aria-label={label} />
          <button
            className="btn"
            onClick={() => {
              void navigator.clipboard?.writeText(value);
              setCopied(label);
            }}
          >
            Copy
          </button>
        </div>
      ))}
      <div className="actions">
        <button className="btn" onClick={() => setShown(!shown)}>
          {shown ? "Mask keys" : "Reveal keys"}
        </button>
        <button
          className="btn btn-ghost"
          onClick={() => {
            setKeys(undefined);
            setShown(false);
          }}
        >
          Hide
        </button>
        {copied && (
          <span className="muted" role="status">
            {copied} copied
          </span>
        )}
      </div>
    </div>
  );
}

export function OnlineEndpointPage() {
  const { name = "" } = useParams();
  const tab = useTab("details");
  const endpoint = useLoad(
    () => unwrap(api.GET("/api/v1/online-endpoints/{name}", { params: { path: { name } } })),
    [name],
    { pollMs: 3000, pollWhile: (e) => BUSY.has((e?.provisioning_state ?? "").toLowerCase()) },
  );
  const deployments = useLoad(
    async () =>
      (await unwrap(api.GET("/api/v1/online-endpoints/{name}/deployments", { params: { path: { name } } }))).items,
    [name],
    {
      pollMs: 3000,
      pollWhile: (ds) => !ds || ds.some((d) => BUSY.has((d.provisioning_state ?? "").toLowerCase())),
    },
  );
  // a deployment that becomes ready may take the traffic it was created with: read the split again
  const states = (deployments.data ?? []).map((d) => `${d.name}:${d.provisioning_state}`).join(",");
  const reloadEndpoint = endpoint.reload;
  useEffect(() => {
    if (states) reloadEndpoint();
  }, [states, reloadEndpoint]);

  if (endpoint.error && !endpoint.data)
    return (
      <>
        <PageHeader title={name} crumbs={[{ label: "Endpoints", to: "/online-endpoints" }]} />
        <ErrorBox error={endpoint.error} title={`Could not open endpoint ${name}`} />
      </>
    );
  const ep = endpoint.data;
  if (!ep) return <Loading label="Loading the endpoint" />;
  const deps = [...(deployments.data ?? [])].sort((a, b) => (a.name ?? "").localeCompare(b.name ?? ""));
  const names = deps.map((d) => d.name!);
  const traffic = ep.traffic ?? {};
  const mirror = ep.mirror_traffic ?? {};

  const columns: Column<OnlineDeployment>[] = [
    { id: "name", header: "Deployment", cell: (d) => <b>{d.name}</b> },
    {
      id: "state",
      header: "State",
      className: "wrap",
      cell: (d) => (
        <>
          <StatusChip status={stateOf(d.provisioning_state)} />
          {d.status_message && (
            <div className={d.provisioning_state === "Failed" ? "dep-reason bad" : "dep-reason muted"}>{d.status_message}</div>
          )}
        </>
      ),
    },
    { id: "model", header: "Model", cell: (d) => <ModelRef model={d.model} /> },
    {
      id: "instances",
      header: "Instances (ready)",
      className: "num",
      cell: (d) => `${readyInstances(d).ready} / ${d.instance_count}`,
    },
    { id: "gen", header: "Generation", className: "num", cell: (d) => readyInstances(d).generation ?? "—" },
    {
      id: "traffic",
      header: "Traffic",
      className: "num",
      cell: (d) => `${traffic[d.name!] ?? 0}%${mirror[d.name!] ? ` (+${mirror[d.name!]}% mirrored)` : ""}`,
    },
    { id: "updated", header: "Updated", cell: (d) => formatTime(d.creation_context?.last_modified_at) },
  ];

  return (
    <>
      <PageHeader
        title={name}
        crumbs={[{ label: "Endpoints", to: "/online-endpoints" }]}
        subtitle={<>Online endpoint · {trafficSummary(traffic)}</>}
        actions={
          <>
            <StatusChip status={stateOf(ep.provisioning_state)} />
            <button
              className="btn"
              onClick={() => {
                endpoint.reload();
                deployments.reload();
              }}
            >
              Refresh
            </button>
          </>
        }
      />
      <Tabs
        tabs={[
          { id: "details", label: "Details" },
          { id: "test", label: "Test" },
          { id: "monitoring", label: "Monitoring" },
          { id: "logs", label: "Logs" },
        ]}
      />
      {tab === "details" && (
        <TabPanel id="details">
          <div className="grid-2">
            <Card title="Endpoint">
              <KeyValues
                items={[
                  ["Scoring URI", <span className="mono">{ep.scoring_uri}</span>],
                  [
                    "Swagger",
                    ep.openapi_uri ? (
                      <a href={ep.openapi_uri} className="mono">
                        {ep.openapi_uri}
                      </a>
                    ) : null,
                  ],
                  ["Auth mode", <span className="tag">{ep.auth_mode}</span>],
                  ["Compute", ep.compute ?? "local"],
                  ["Description", ep.description],
                  ["Created", formatTime(ep.creation_context?.created_at)],
                  ["Created by", ep.creation_context?.created_by],
                ]}
              />
            </Card>
            <Card title="Keys">
              <p className="muted" style={{ marginTop: 0 }}>
                Send <span className="mono">Authorization: Bearer &lt;key&gt;</span> to the scoring URI. Keys are read
                only when asked for, and masked.
              </p>
              <Keys name={name} />
            </Card>
          </div>
          <Card title="Traffic">
            <TrafficEditor
              endpoint={ep}
              deployments={deps}
              onApplied={() => {
                endpoint.reload();
                deployments.reload();
              }}
            />
          </Card>
          <h2 className="section-title">Deployments</h2>
          <ErrorBox error={deployments.error} title="Could not list the deployments" />
          <DataTable
            label="Deployments"
            columns={columns}
            rows={deps}
            rowKey={(d) => d.name!}
            busy={deployments.loading && !deployments.data}
            empty={
              <Empty title="No deployments yet">
                Deploy a model:{" "}
                <code className="mono">forgeml online-deployment create -f blue.yml --all-traffic</code>
              </Empty>
            }
          />
        </TabPanel>
      )}
      {tab === "test" && (
        <TabPanel id="test">
          <TestConsole endpoint={name} deployments={names} />
        </TabPanel>
      )}
      {tab === "monitoring" && (
        <TabPanel id="monitoring">
          {names.length ? (
            <div className="grid-2">
              {names.map((d) => (
                <DeploymentFigures key={d} endpoint={name} deployment={d} />
              ))}
            </div>
          ) : (
            <Empty title="No deployments">Figures show here once a deployment serves requests.</Empty>
          )}
        </TabPanel>
      )}
      {tab === "logs" && (
        <TabPanel id="logs">
          <DeploymentLogs endpoint={name} deployments={names} />
        </TabPanel>
      )}
    </>
  );
}
