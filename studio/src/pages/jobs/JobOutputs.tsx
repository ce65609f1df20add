// A job's outputs: each with its type, where it lies and the asset it was registered as; its
// files browsed and downloaded from the workspace's content store; and "Register model", which
// registers an output as a model version through `azureml://jobs/<job>/outputs/<output>`.
import { useRef, useState } from "react";
import { Link } from "react-router-dom";
import { api, unwrap, type Job, type Schemas } from "../../api/client";
import { Empty, ErrorBox, Loading } from "../../components/ui";
import { formatBytes, formatTime } from "../../lib/format";
import { useLoad } from "../../lib/hooks";
import { AssetLink, isTerminal } from "./common";

type Output = Schemas["JobOutputInfo"];
const CONTENT = "forgeml://content/";

/** A content URI with its digest shortened (the full one is in the cell's title). */
function shortUri(uri: string): string {
  if (!uri.startsWith(CONTENT)) return uri;
  const [digest, ...rest] = uri.slice(CONTENT.length).split("/");
  return `${CONTENT}${digest.slice(0, 12)}…${rest.length ? "/" + rest.join("/") : ""}`;
}

function FileBrowser({ uri }: { uri: string }) {
  const [digest, ...rest] = uri.slice(CONTENT.length).split("/");
  const sub = rest.filter(Boolean).join("/");
  const manifest = useLoad(() => unwrap(api.GET("/api/v1/content/{digest}", { params: { path: { digest } } })), [digest]);
  if (manifest.error) return <ErrorBox error={manifest.error} title="The files could not be listed" />;
  if (!manifest.data) return <Loading label="Listing the files" />;
  const files = manifest.data.files.filter((f) => !sub || f.path === sub || f.path.startsWith(`${sub}/`));
  if (!files.length) return <p className="job-section-empty">No files.</p>;
  return (
    <div className="table-wrap files">
      <table className="table">
        <caption className="sr-only">Files of {uri}</caption>
        <thead>
          <tr>
            <th scope="col">File</th>
            <th scope="col" className="num">
              Size
            </th>
            <th scope="col">
              <span className="sr-only">Download</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {files.map((f) => (
            <tr key={f.path}>
              <td className="mono">{sub ? f.path.slice(sub.length).replace(/^\//, "") || f.path : f.path}</td>
              <td className="num">{formatBytes(f.size)}</td>
              <td>
                <a href={`/api/v1/content/${digest}/files/${f.path.split("/").map(encodeURIComponent).join("/")}`} download={f.path.split("/").pop()}>
                  Download<span className="sr-only"> {f.path}</span>
                </a>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function RegisterModel({ job, output, onClose }: { job: string; output: Output; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [name, setName] = useState(`${job}-${output.name}`.toLowerCase().replace(/[^a-z0-9_-]+/g, "-").slice(0, 255));
  const [type, setType] = useState<"custom_model" | "mlflow_model">("custom_model");
  const [description, setDescription] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [made, setMade] = useState<Schemas["Model"]>();

  const open = (el: HTMLDialogElement | null) => {
    dialog.current = el;
    if (el && !el.open) el.showModal();
  };
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const model = await unwrap(
        api.POST("/api/v1/models", {
          body: {
            name,
            type,
            path: `azureml://jobs/${job}/outputs/${output.name}`,
            ...(description ? { description } : {}),
          } as Schemas["Model"],
        }),
      );
      setMade(model);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <dialog ref={open} aria-labelledby="register-title" onClose={onClose}>
      <h2 id="register-title">Register “{output.name}” as a model</h2>
      {made ? (
        <>
          <div className="notice" role="status" style={{ marginTop: 12 }}>
            Registered{" "}
            <Link to={`/models/${encodeURIComponent(made.name ?? "")}/${encodeURIComponent(made.version ?? "")}`}>
              {made.name}:{made.version}
            </Link>
            .
          </div>
          <div className="dialog-actions">
            <button className="btn" onClick={() => dialog.current?.close()}>
              Close
            </button>
          </div>
        </>
      ) : (
        <form onSubmit={submit} style={{ marginTop: 12 }}>
          <p className="muted" style={{ marginTop: 0 }}>
            From <span className="mono">azureml://jobs/{job}/outputs/{output.name}</span>
          </p>
          <div className="field">
            <label htmlFor="model-name">Model name</label>
            <input id="model-name" type="text" required value={name} onChange={(e) => setName(e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor="model-type">Type</label>
            <select id="model-type" value={type} onChange={(e) => setType(e.target.value as typeof type)}>
              <option value="custom_model">Custom model</option>
              <option value="mlflow_model">MLflow model (the folder holds an MLmodel file)</option>
            </select>
          </div>
          <div className="field">
            <label htmlFor="model-description">Description (optional)</label>
            <input id="model-description" type="text" value={description} onChange={(e) => setDescription(e.target.value)} />
          </div>
          <ErrorBox error={error} title="The model was not registered" />
          <div className="dialog-actions">
            <button type="button" className="btn" onClick={() => dialog.current?.close()}>
              Cancel
            </button>
            <button type="submit" className="btn btn-primary" disabled={busy || !name}>
              {busy ? "Registering…" : "Register"}
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}

function ArtifactBrowser({ job, running }: { job: string; running: boolean }) {
  const [path, setPath] = useState("");
  const listing = useLoad(
    () => unwrap(api.GET("/api/v1/jobs/{name}/artifacts", { params: { path: { name: job }, query: { path } } })),
    [job, path],
    { pollMs: 5000, pollWhile: () => running },
  );
  const parts = path ? path.split("/") : [];
  return (
    <section className="card" aria-labelledby="artifacts-title">
      <div className="card-head">
        <h2 id="artifacts-title">Artifacts</h2>
        <nav aria-label="Artifact folder" className="crumbs" style={{ margin: 0 }}>
          <button className="link-btn" onClick={() => setPath("")}>
            All artifacts
          </button>
          {parts.map((p, i) => (
            <span key={i}>
              {" / "}
              <button className="link-btn" onClick={() => setPath(parts.slice(0, i + 1).join("/"))}>
                {p}
              </button>
            </span>
          ))}
        </nav>
      </div>
      <ErrorBox error={listing.error} title="The artifacts could not be listed" />
      {!listing.data ? (
        !listing.error && <Loading label="Listing the artifacts" />
      ) : listing.data.items.length === 0 ? (
        <p className="job-section-empty">
          {path ? "This folder is empty." : "No artifacts. What a job writes to ./outputs and ./logs is kept here."}
        </p>
      ) : (
        <div className="table-wrap files">
          <table className="table">
            <caption className="sr-only">Artifacts in {path || "the run"}</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col" className="num">
                  Size
                </th>
                <th scope="col">
                  <span className="sr-only">Download</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {listing.data.items.map((a) => {
                const base = a.path.split("/").pop() ?? a.path;
                return (
                  <tr key={a.path}>
                    <td className="mono">
                      {a.is_dir ? (
                        <button className="link-btn folder-btn" onClick={() => setPath(a.path)}>
                          <svg viewBox="0 0 24 24" width="15" height="15" aria-hidden="true">
                            <path fill="currentColor" d="M3 5h7l2 2h9v12H3z" />
                          </svg>
                          {base}/
                        </button>
                      ) : (
                        base
                      )}
                    </td>
                    <td className="num">{a.size != null && !a.is_dir ? formatBytes(a.size) : ""}</td>
                    <td>
                      {a.download_url && (
                        <a href={a.download_url} download={base}>
                          Download<span className="sr-only"> {a.path}</span>
                        </a>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export function JobOutputsTab({ job }: { job: Job }) {
  const name = job.name ?? "";
  const running = !isTerminal(job.status);
  const outputs = useLoad(() => unwrap(api.GET("/api/v1/jobs/{name}/outputs", { params: { path: { name } } })), [name], {
    pollMs: 4000,
    pollWhile: () => running,
  });
  const [open, setOpen] = useState<string>();
  const [registering, setRegistering] = useState<Output>();
  const items = outputs.data?.items ?? [];

  const artifacts = <ArtifactBrowser job={name} running={running} />;
  if (outputs.error) return <ErrorBox error={outputs.error} title="The outputs could not be read" />;
  if (!outputs.data) return <Loading label="Reading the outputs" />;
  if (!items.length) {
    return (
      <>
        <Empty title={running ? "No outputs yet" : "This job has no named outputs"}>
          Outputs declared under <span className="mono">outputs:</span> in the job's YAML appear here once the job has
          written them.
        </Empty>
        {artifacts}
      </>
    );
  }
  return (
    <>
      <div className="table-wrap">
        <table className="table">
          <caption className="sr-only">Outputs of {name}</caption>
          <thead>
            <tr>
              <th scope="col">Output</th>
              <th scope="col">Type</th>
              <th scope="col">Registered as</th>
              <th scope="col">Location</th>
              <th scope="col">Written</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {items.map((o) => (
              <tr key={o.name}>
                <td className="mono">{o.name}</td>
                <td>{o.type}</td>
                <td>{o.asset ? <AssetLink value={o.asset} kind={o.asset_kind ?? "data"} /> : <span className="muted">—</span>}</td>
                <td className="mono uri-cell" title={o.uri}>
                  {shortUri(o.uri)}
                </td>
                <td>{formatTime(o.created_at)}</td>
                <td>
                  <div className="actions">
                    {o.uri.startsWith(CONTENT) && (
                      <button className="btn" aria-expanded={open === o.name} onClick={() => setOpen(open === o.name ? undefined : o.name)}>
                        {open === o.name ? "Hide files" : "Browse files"}
                        <span className="sr-only"> of {o.name}</span>
                      </button>
                    )}
                    <button className="btn" onClick={() => setRegistering(o)}>
                      Register model<span className="sr-only"> from {o.name}</span>
                    </button>
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {open && (
        <section aria-label={`Files of ${open}`} className="card" style={{ marginTop: 16 }}>
          <div className="card-head">
            <h2>Files of {open}</h2>
          </div>
          <FileBrowser uri={items.find((o) => o.name === open)?.uri ?? ""} />
        </section>
      )}
      {registering && <RegisterModel job={name} output={registering} onClose={() => setRegistering(undefined)} />}
      <div style={{ marginTop: 16 }}>{artifacts}</div>
    </>
  );
}
