// One asset version (/<kind>/<name>/<version>): its document as key/values (and as YAML), the
// files it points at, and its lineage; Archive/Restore, and for a model a Deploy action that
// opens the online endpoint form (/online-endpoints?deploy=azureml:<name>:<version>).
import type { ReactNode } from "react";
import { Link, useParams } from "react-router-dom";
import type { Schemas } from "../../api/client";
import { Card, Code, ErrorBox, KeyValues, Loading, PageHeader, TabPanel, Tabs, useTab } from "../../components/ui";
import { formatTime } from "../../lib/format";
import { useLoad } from "../../lib/hooks";
import { contentOf, getContainer, getVersion, KINDS, type AssetKind, type AssetVersion } from "./assetApi";
import { ArchiveButton, ArchivedMark, Tags } from "./bits";
import { FilesTab } from "./FilesTab";
import { LineageTab } from "./LineageTab";
import { toYaml } from "./yaml";
import "./assets.css";

type Data = Schemas["Data"];
type Model = Schemas["Model"];
type Environment = Schemas["Environment"];
type Component = Schemas["CommandComponent"];

/** `azureml:<name>:<version>` of an asset kind as a studio link; anything else as text. */
function RefLink({ kind, value }: { kind: AssetKind; value: string }) {
  const m = /^azureml:([^:@/]+):([^:@/]+)$/.exec(value);
  if (!m) return <span className="mono">{value}</span>;
  return (
    <Link className="mono" to={`/${kind}/${encodeURIComponent(m[1])}/${encodeURIComponent(m[2])}`}>
      {value}
    </Link>
  );
}

function PathValue({ uri, hasFiles }: { uri: string; hasFiles: boolean }) {
  return (
    <span className="path-value">
      <span className="mono break">{uri}</span>
      {hasFiles && (
        <Link className="small" to="?tab=files">
          Browse files
        </Link>
      )}
    </span>
  );
}

function mapOrDash(m?: Record<string, string> | null): ReactNode {
  const entries = Object.entries(m ?? {});
  return entries.length ? <Tags tags={m} /> : <span className="muted">—</span>;
}

function kindFields(kind: AssetKind, a: AssetVersion, hasFiles: boolean): [string, ReactNode][] {
  if (kind === "data") {
    const d = a as Data;
    return [
      ["Type", <span className="type-pill">{d.type}</span>],
      ["Path", <PathValue uri={d.path} hasFiles={hasFiles} />],
    ];
  }
  if (kind === "models") {
    const m = a as Model;
    return [
      ["Type", <span className="type-pill">{m.type}</span>],
      ["Path", <PathValue uri={m.path} hasFiles={hasFiles} />],
      ["Flavors", m.flavors ? <span className="mono">{Object.keys(m.flavors).join(", ")}</span> : null],
      ["Stage", m.stage ?? null],
      ["Job", m.job_name ? <Link to={`/jobs/${encodeURIComponent(m.job_name)}`}>{m.job_name}</Link> : null],
    ];
  }
  if (kind === "environments") {
    const e = a as Environment;
    return [
      ["Image", e.image ? <span className="mono">{e.image}</span> : null],
      ["OS type", e.os_type],
      ["Build context", e.build ? <PathValue uri={e.build.path} hasFiles={hasFiles} /> : null],
      ["Dockerfile", e.build?.dockerfile_path ?? null],
      [
        "Inference routes",
        e.inference_config ? <span className="mono">{toYaml(e.inference_config).replace(/\n/g, " · ")}</span> : null,
      ],
    ];
  }
  const c = a as Component;
  return [
    ["Display name", c.display_name ?? null],
    ["Type", <span className="type-pill">{c.type}</span>],
    [
      "Environment",
      typeof c.environment === "string" ? (
        <RefLink kind="environments" value={c.environment} />
      ) : (
        <span className="mono">inline: {c.environment.image ?? "build context"}</span>
      ),
    ],
    ["Code", c.code ? <PathValue uri={c.code} hasFiles={hasFiles} /> : null],
    ["Deterministic", c.is_deterministic ? "yes (completed runs may be reused)" : "no"],
  ];
}

function Ports({ title, ports, input }: { title: string; ports: Record<string, Schemas["ComponentInput"] | Schemas["ComponentOutput"]>; input: boolean }) {
  const entries = Object.entries(ports);
  return (
    <Card title={title}>
      {entries.length === 0 ? (
        <p className="muted">None.</p>
      ) : (
        <div className="table-wrap flat">
          <table className="table">
            <caption className="sr-only">{title}</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Type</th>
                {input && <th scope="col">Default</th>}
                {input && <th scope="col">Optional</th>}
                <th scope="col">Description</th>
              </tr>
            </thead>
            <tbody>
              {entries.map(([name, p]) => {
                const i = p as Schemas["ComponentInput"];
                return (
                  <tr key={name}>
                    <td className="mono">{name}</td>
                    <td>
                      <span className="type-pill">{p.type}</span>
                    </td>
                    {input && <td className="mono">{i.default === undefined || i.default === null ? "—" : String(i.default)}</td>}
                    {input && <td>{i.optional ? "yes" : "no"}</td>}
                    <td className="wrap">{p.description ?? <span className="muted">—</span>}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}

/** The document without null or empty fields, at any depth: what a user would have written. */
function pruned(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(pruned);
  if (typeof value !== "object" || value === null) return value;
  const kept = Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => [k, pruned(v)] as const)
    .filter(
      ([, v]) =>
        v !== null && v !== undefined && !(typeof v === "object" && !Array.isArray(v) && Object.keys(v as object).length === 0),
    );
  return Object.fromEntries(kept);
}

function Overview({ kind, asset, hasFiles }: { kind: AssetKind; asset: AssetVersion; hasFiles: boolean }) {
  const common: [string, ReactNode][] = [
    ["Name", asset.name],
    ["Version", asset.version],
    ["Description", asset.description || <span className="muted">—</span>],
    ...kindFields(kind, asset, hasFiles).filter(([, v]) => v !== null && v !== undefined),
    ["Tags", mapOrDash(asset.tags)],
    ["Properties", mapOrDash(asset.properties)],
    ["Created", formatTime(asset.creation_context?.created_at)],
    ["Created by", asset.creation_context?.created_by ?? "—"],
    ["Updated", formatTime(asset.creation_context?.last_modified_at)],
    ["Archived", asset.archived ? "yes" : "no"],
  ];
  const env = kind === "environments" ? (asset as Environment) : null;
  const comp = kind === "components" ? (asset as Component) : null;
  const { creation_context: _c, archived: _a, ...doc } = asset as AssetVersion & Record<string, unknown>;
  return (
    <>
      <div className="grid-2 overview-grid">
        <Card title="Details">
          <KeyValues items={common} />
        </Card>
        {comp ? (
          <Card title="Command">
            <Code>{comp.command}</Code>
          </Card>
        ) : env?.conda_file ? (
          <Card title="Conda file">
            <Code>{typeof env.conda_file === "string" ? env.conda_file : toYaml(env.conda_file)}</Code>
          </Card>
        ) : (
          <Card title="Use it">
            <p className="muted">Refer to this version from a job or a deployment:</p>
            <Code>{`azureml:${asset.name}:${asset.version}`}</Code>
            <p className="muted">or always the newest version:</p>
            <Code>{`azureml:${asset.name}@latest`}</Code>
          </Card>
        )}
      </div>
      {comp && (
        <div className="grid-2">
          <Ports title="Inputs" ports={comp.inputs ?? {}} input />
          <Ports title="Outputs" ports={comp.outputs ?? {}} input={false} />
        </div>
      )}
      <Card title="Document (YAML)">
        <Code>{toYaml(pruned(doc))}</Code>
      </Card>
    </>
  );
}

export function AssetVersionPage({ kind }: { kind: AssetKind }) {
  const { name = "", version = "" } = useParams();
  const info = KINDS[kind];
  const asset = useLoad(() => getVersion(kind, name, version), [kind, name, version]);
  const container = useLoad(() => getContainer(kind, name), [kind, name]);
  const whole = !!container.data?.archived;
  const reload = () => {
    asset.reload();
    container.reload();
  };
  const tab = useTab("overview");
  const a = asset.data;
  const content = a ? contentOf(kind, a) : null;
  const crumbs = [
    { label: info.title, to: `/${kind}` },
    { label: name, to: `/${kind}/${encodeURIComponent(name)}` },
  ];

  if (asset.error) {
    return (
      <>
        <PageHeader title={`${name}:${version}`} crumbs={crumbs} />
        <ErrorBox error={asset.error} title={`The ${info.one} could not be loaded`} />
      </>
    );
  }
  if (!a) {
    return (
      <>
        <PageHeader title={`${name}:${version}`} crumbs={crumbs} />
        <Loading />
      </>
    );
  }
  const tabs = [
    { id: "overview", label: "Overview" },
    ...(content ? [{ id: "files", label: "Files" }] : []),
    ...(kind === "data" || kind === "models" ? [{ id: "lineage", label: "Lineage" }] : []),
  ];
  const current = tabs.some((t) => t.id === tab) ? tab : "overview";
  return (
    <>
      <PageHeader
        title={
          <span className="asset-title">
            {name}
            <span className="version-badge">version {version}</span>
            {a.archived && <ArchivedMark />}
          </span>
        }
        crumbs={crumbs}
        subtitle={a.description ?? undefined}
        actions={
          <>
            {kind === "models" && (
              <Link
                className="btn btn-primary"
                to={`/online-endpoints?deploy=azureml:${encodeURIComponent(name)}:${encodeURIComponent(version)}`}
              >
                Deploy
              </Link>
            )}
            {whole ? (
              <ArchiveButton kind={kind} name={name} archived label={`${info.one} ${name}`} onDone={reload} />
            ) : (
              <ArchiveButton
                kind={kind}
                name={name}
                version={version}
                archived={a.archived}
                label={`version ${version}`}
                onDone={reload}
              />
            )}
          </>
        }
      />
      {a.archived && (
        <div className="notice notice-muted" role="status">
          {whole ? `The whole ${info.one} is archived` : "This version is archived"}: lists and{" "}
          <code>@latest</code> references skip it. It still works where it is named by its version.
        </div>
      )}
      <Tabs tabs={tabs} />
      {current === "overview" && (
        <TabPanel id="overview">
          <Overview kind={kind} asset={a} hasFiles={!!content} />
        </TabPanel>
      )}
      {current === "files" && content && (
        <TabPanel id="files">
          <FilesTab uri={content.uri} field={content.field} />
        </TabPanel>
      )}
      {current === "lineage" && (
        <TabPanel id="lineage">
          <LineageTab kind={kind} name={name} version={version} />
        </TabPanel>
      )}
    </>
  );
}
