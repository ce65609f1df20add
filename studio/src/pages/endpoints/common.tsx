// What the endpoint pages share: the traffic summary, a model reference as a link, the
// online/batch switch and the per-row deployment count.
import { Link, NavLink } from "react-router-dom";
import { api, unwrap, type Schemas } from "../../api/client";
import { useLoad } from "../../lib/hooks";

export type OnlineEndpoint = Schemas["OnlineEndpoint"];
export type BatchEndpoint = Schemas["BatchEndpoint"];
export type OnlineDeployment = Schemas["OnlineDeployment"];
export type BatchDeployment = Schemas["ModelBatchDeployment"] | Schemas["PipelineComponentBatchDeployment"];

/** "blue 90% · green 10%", largest share first; "no traffic" when nothing is routed. */
export function trafficSummary(traffic?: Record<string, number> | null): string {
  const parts = Object.entries(traffic ?? {})
    .filter(([, v]) => v > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return parts.length ? parts.map(([k, v]) => `${k} ${v}%`).join(" · ") : "no traffic";
}

/** `azureml:<name>:<version>` (or a model object with a name and version) as a link. */
export function ModelRef({ model }: { model?: unknown }) {
  if (!model) return <span className="muted">—</span>;
  if (typeof model === "string") {
    const m = /^azureml:(?:\/\/)?([^:@/]+)(?::([^:@/]+)|@(\w+))?$/.exec(model);
    if (m) {
      const [, name, version, label] = m;
      return (
        <Link to={version ? `/models/${name}/${version}` : `/models/${name}`}>
          {name}
          {version ? `:${version}` : label ? `@${label}` : ""}
        </Link>
      );
    }
    return <span className="mono">{model}</span>;
  }
  const obj = model as { name?: string | null; version?: string | null; type?: string | null };
  if (obj.name && obj.version) {
    return (
      <Link to={`/models/${obj.name}/${obj.version}`}>
        {obj.name}:{obj.version}
      </Link>
    );
  }
  return <span className="muted">inline {obj.type === "mlflow_model" ? "MLflow model" : "model"}</span>;
}

/** The "Online | Batch" switch between the two endpoint lists. */
export function KindSwitch() {
  return (
    <nav aria-label="Endpoint kind" className="segmented">
      <NavLink to="/online-endpoints" className="segment">
        Online endpoints
      </NavLink>
      <NavLink to="/batch-endpoints" className="segment">
        Batch endpoints
      </NavLink>
    </nav>
  );
}

export function useDeployments(name: string, batch: boolean, pollMs?: number) {
  return useLoad<OnlineDeployment[] | BatchDeployment[]>(
    async () =>
      batch
        ? (await unwrap(api.GET("/api/v1/batch-endpoints/{name}/deployments", { params: { path: { name } } }))).items
        : (await unwrap(api.GET("/api/v1/online-endpoints/{name}/deployments", { params: { path: { name } } }))).items,
    [name, batch],
    pollMs ? { pollMs } : {},
  );
}

export function DeploymentCount({ name, batch }: { name: string; batch: boolean }) {
  const deps = useDeployments(name, batch);
  if (deps.error) return <span className="muted">—</span>;
  if (!deps.data) return <span className="muted">…</span>;
  return <span>{deps.data.length}</span>;
}

/** A deployment's instances that are ready, of those it asked for. */
export function readyInstances(dep: OnlineDeployment): { ready: number; generation: number | null } {
  const instances = (dep.instances ?? []) as { state?: string; generation?: number }[];
  const ready = instances.filter((i) => i.state === "ready").length;
  const gens = instances.map((i) => i.generation).filter((g): g is number => typeof g === "number");
  return { ready, generation: gens.length ? Math.max(...gens) : null };
}

/** Map Azure ML's provisioning states onto the chip tones. */
export function stateOf(state?: string | null): string {
  const s = (state ?? "unknown").toLowerCase();
  return s === "succeeded" ? "succeeded" : s;
}
