// Deploy a registered model: to a new endpoint (made first) or an existing one, through the same
// REST calls the SDK makes (POST /online-endpoints, then POST .../deployments), then open the
// endpoint's page, where the deployment's state follows until it is ready.
import { useEffect, useRef, useState, type FormEvent } from "react";
import { useNavigate } from "react-router-dom";
import { api, unwrap, type Schemas } from "../../api/client";
import { ErrorBox } from "../../components/ui";
import { useLoad } from "../../lib/hooks";

function parseModel(ref: string): { name: string; version?: string } | null {
  const m = /^azureml:(?:\/\/)?([^:@/\s]+)(?::([^:@/\s]+))?$/.exec(ref.trim());
  return m ? { name: m[1], version: m[2] } : null;
}

function suggestName(model: string): string {
  const name = parseModel(model)?.name ?? "";
  const base = name.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "");
  const s = `${base || "my"}-endpoint`.slice(0, 32).replace(/-+$/, "");
  return /^[a-z]/.test(s) ? s : `ep-${s}`.slice(0, 32);
}

export function DeployForm(props: { model: string; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const navigate = useNavigate();
  const [model, setModel] = useState(props.model);
  const [mode, setMode] = useState<"new" | "existing">("new");
  const [endpointName, setEndpointName] = useState(suggestName(props.model));
  const [existing, setExisting] = useState("");
  const [deployment, setDeployment] = useState("blue");
  const [instances, setInstances] = useState(1);
  const [environment, setEnvironment] = useState("");
  const [code, setCode] = useState("");
  const [script, setScript] = useState("score.py");
  const [allTraffic, setAllTraffic] = useState(true);
  const [busy, setBusy] = useState<string>();
  const [error, setError] = useState<unknown>();

  useEffect(() => {
    const d = dialog.current;
    if (d && !d.open) d.showModal();
  }, []);

  const endpoints = useLoad(
    async () => (await unwrap(api.GET("/api/v1/online-endpoints", { params: { query: { order_by: "name", order: "asc", limit: 1000 } } }))).items,
    [],
  );
  const parsed = parseModel(model);
  const modelInfo = useLoad(
    async () =>
      parsed?.version
        ? unwrap(api.GET("/api/v1/models/{name}/versions/{version}", { params: { path: { name: parsed.name, version: parsed.version } } }))
        : undefined,
    [parsed?.name, parsed?.version],
  );
  const isMlflow = modelInfo.data?.type === "mlflow_model";

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(undefined);
    const target = mode === "new" ? endpointName.trim() : existing;
    try {
      if (!parsed) throw new Error("Name the model as azureml:<name>:<version>.");
      if (!target) throw new Error("Pick an endpoint, or name a new one.");
      if (code.trim() && !environment.trim())
        throw new Error("A scoring script needs an environment: name one as azureml:<environment>:<version>.");
      if (mode === "new") {
        setBusy("Creating the endpoint");
        await unwrap(
          api.POST("/api/v1/online-endpoints", {
            body: { name: target, auth_mode: "key" } as Schemas["OnlineEndpoint"],
          }),
        );
      }
      setBusy("Starting the deployment");
      const body: Record<string, unknown> = {
        name: deployment.trim(),
        endpoint_name: target,
        model: model.trim(),
        instance_count: instances,
      };
      if (environment.trim()) body.environment = environment.trim();
      if (code.trim()) body.code_configuration = { code: code.trim(), scoring_script: script.trim() };
      await unwrap(
        api.POST("/api/v1/online-endpoints/{name}/deployments", {
          params: { path: { name: target }, query: { all_traffic: allTraffic } },
          body: body as Schemas["OnlineDeployment"],
        }),
      );
      navigate(`/online-endpoints/${target}`);
    } catch (err) {
      setError(err);
      setBusy(undefined);
    }
  }

  return (
    <dialog ref={dialog} className="deploy-form" aria-labelledby="deploy-title" onClose={props.onClose}>
      <form onSubmit={submit}>
        <div className="dialog-head">
          <h2 id="deploy-title">Deploy a model to an online endpoint</h2>
          <button type="button" className="btn btn-ghost" aria-label="Close" onClick={() => dialog.current?.close()}>
            ✕
          </button>
        </div>
        <ErrorBox error={error} title="Could not deploy" />
        <div className="grid-form">
          <div className="field wide">
            <label htmlFor="dep-model">Model</label>
            <input
              id="dep-model"
              type="text"
              required
              placeholder="azureml:<name>:<version>"
              value={model}
              onChange={(e) => setModel(e.target.value)}
            />
            <span className="hint">
              {modelInfo.data
                ? isMlflow
                  ? "An MLflow model: no scoring script or environment needed."
                  : `A ${modelInfo.data.type ?? "custom"} model: give it a scoring script and an environment.`
                : modelInfo.error
                  ? modelInfo.error.message
                  : "A registered model version, e.g. azureml:my-model:1."}
            </span>
          </div>
          <fieldset className="wide radio-set">
            <legend className="sr-only">Endpoint</legend>
            <div className="radios">
              <label>
                <input type="radio" name="ep-mode" checked={mode === "new"} onChange={() => setMode("new")} /> New endpoint
              </label>
              <label>
                <input
                  type="radio"
                  name="ep-mode"
                  checked={mode === "existing"}
                  onChange={() => {
                    setMode("existing");
                    setAllTraffic(false);
                  }}
                  disabled={!endpoints.data?.length}
                />{" "}
                Existing endpoint
              </label>
            </div>
          </fieldset>
          {mode === "new" ? (
            <div className="field wide">
              <label htmlFor="dep-endpoint">Endpoint name</label>
              <input
                id="dep-endpoint"
                type="text"
                required
                pattern="[a-zA-Z][a-zA-Z0-9\-]{2,31}"
                value={endpointName}
                onChange={(e) => setEndpointName(e.target.value)}
              />
              <span className="hint">3 to 32 letters, digits or “-”, starting with a letter.</span>
            </div>
          ) : (
            <div className="field wide">
              <label htmlFor="dep-existing">Endpoint</label>
              <select id="dep-existing" required value={existing} onChange={(e) => setExisting(e.target.value)}>
                <option value="">Choose an endpoint…</option>
                {(endpoints.data ?? []).map((ep) => (
                  <option key={ep.name} value={ep.name!}>
                    {ep.name}
                  </option>
                ))}
              </select>
            </div>
          )}
          <div className="field">
            <label htmlFor="dep-name">Deployment name</label>
            <input id="dep-name" type="text" required value={deployment} onChange={(e) => setDeployment(e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor="dep-count">Instance count</label>
            <input
              id="dep-count"
              type="number"
              min={1}
              max={1000}
              required
              value={instances}
              onChange={(e) => setInstances(Math.max(1, Number(e.target.value) || 1))}
            />
          </div>
          <div className="field wide">
            <label htmlFor="dep-env">Environment (optional)</label>
            <input
              id="dep-env"
              type="text"
              placeholder="azureml:<environment>:<version>"
              value={environment}
              onChange={(e) => setEnvironment(e.target.value)}
            />
            <span className="hint">Without one, an MLflow model gets an environment built from its own conda.yaml.</span>
          </div>
          {!isMlflow && (
            <>
              <div className="field">
                <label htmlFor="dep-code">Scoring code (optional)</label>
                <input
                  id="dep-code"
                  type="text"
                  placeholder="azureml:<code>:<version> or a content URI"
                  value={code}
                  onChange={(e) => setCode(e.target.value)}
                />
              </div>
              <div className="field">
                <label htmlFor="dep-script">Scoring script</label>
                <input id="dep-script" type="text" value={script} onChange={(e) => setScript(e.target.value)} />
              </div>
            </>
          )}
          <label className="check wide" style={{ marginBottom: 12 }}>
            <input type="checkbox" checked={allTraffic} onChange={(e) => setAllTraffic(e.target.checked)} />
            Send all traffic to this deployment
          </label>
        </div>
        <div className="dialog-actions">
          {busy && (
            <span className="muted" role="status">
              {busy}…
            </span>
          )}
          <button type="button" className="btn" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={!!busy}>
            Deploy
          </button>
        </div>
      </form>
    </dialog>
  );
}
