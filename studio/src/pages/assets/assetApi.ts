// The four asset kinds share one set of routes (/api/v1/<kind>/...) with the same parameters;
// only the version's document differs. These wrappers call them through the typed client: the
// path is spelled for `data` to pick the shared parameter types, and the answer is typed as the
// union of the four documents (all generated from the server's OpenAPI document).
import { api, unwrap, type Schemas } from "../../api/client";

export type AssetKind = "data" | "models" | "environments" | "components";
export type Container = Schemas["AssetContainer"];
export type AssetVersion = Schemas["Data"] | Schemas["Model"] | Schemas["Environment"] | Schemas["CommandComponent"];
export type Lineage = Schemas["AssetLineage"];
export type LineageJob = Schemas["LineageJob"];
export type Manifest = Schemas["ManifestBody"];
export type Preview = Schemas["ContentPreview"];

type ListQuery = {
  name_contains?: string;
  include_archived?: boolean;
  order_by?: "name" | "created_at" | "last_modified_at";
  order?: "asc" | "desc";
  page_token?: string;
  limit?: number;
};

export const KINDS: Record<
  AssetKind,
  { title: string; one: string; cli: string; create: string; blurb: string }
> = {
  data: {
    title: "Data",
    one: "data asset",
    cli: "data",
    create: "forgeml data create --name iris --path ./iris.csv --type uri_file",
    blurb: "Versioned files and folders that jobs read as inputs and write as outputs.",
  },
  models: {
    title: "Models",
    one: "model",
    cli: "model",
    create: "forgeml model create --name my-model --path ./model --type mlflow_model",
    blurb: "Registered models, ready to deploy behind an online or batch endpoint.",
  },
  environments: {
    title: "Environments",
    one: "environment",
    cli: "environment",
    create: "forgeml environment create -f environment.yml",
    blurb: "Where code runs: a base image with a conda/pip specification or a build context.",
  },
  components: {
    title: "Components",
    one: "component",
    cli: "component",
    create: "forgeml component create -f component.yml",
    blurb: "Reusable command steps with typed inputs and outputs, the building blocks of pipelines.",
  },
};

// `/api/v1/${kind}` has the same parameters for every kind; the literal type names one of them
const base = (kind: AssetKind) => `/api/v1/${kind}` as "/api/v1/data";
const named = (kind: AssetKind) => `/api/v1/${kind}/{name}` as "/api/v1/data/{name}/archive";
const versions = (kind: AssetKind) => `/api/v1/${kind}/{name}/versions` as "/api/v1/data/{name}/versions";
const version = (kind: AssetKind) =>
  `/api/v1/${kind}/{name}/versions/{version}` as "/api/v1/data/{name}/versions/{version}";
const lineage = (kind: AssetKind) =>
  `/api/v1/${kind}/{name}/versions/{version}/lineage` as "/api/v1/data/{name}/versions/{version}/lineage";

export function listContainers(kind: AssetKind, query: ListQuery) {
  return unwrap(api.GET(base(kind), { params: { query } }));
}

/** One name summarised (archived or not). */
export function getContainer(kind: AssetKind, name: string) {
  const path = `/api/v1/${kind}/{name}` as "/api/v1/data/{name}";
  return unwrap(api.GET(path, { params: { path: { name } } }));
}

export async function listVersions(
  kind: AssetKind,
  name: string,
  query: { include_archived?: boolean; order?: "asc" | "desc"; page_token?: string; limit?: number },
): Promise<{ items: AssetVersion[]; next_token?: string | null }> {
  return unwrap(api.GET(versions(kind), { params: { path: { name }, query } }));
}

export async function getVersion(kind: AssetKind, name: string, v: string): Promise<AssetVersion> {
  return unwrap(api.GET(version(kind), { params: { path: { name, version: v } } }));
}

export function getLineage(kind: AssetKind, name: string, v: string) {
  return unwrap(api.GET(lineage(kind), { params: { path: { name, version: v } } }));
}

/** Archive or restore the whole name, or one version of it. */
export async function setArchived(kind: AssetKind, name: string, archived: boolean, v?: string) {
  const path = `${named(kind)}/${archived ? "archive" : "restore"}` as "/api/v1/data/{name}/archive";
  await unwrap(api.POST(path, { params: { path: { name }, query: { version: v } } }));
}

export function getManifest(digest: string) {
  return unwrap(api.GET("/api/v1/content/{digest}", { params: { path: { digest } } }));
}

export function getPreview(digest: string, path: string) {
  return unwrap(
    api.GET("/api/v1/content/{digest}/preview/{path}", {
      params: { path: { digest, path }, query: { rows: 50, max_bytes: 65536 } },
    }),
  );
}

/** The link that downloads one file of an upload (the server names the saved file). */
export function fileUrl(digest: string, path: string): string {
  return `/api/v1/content/${digest}/files/${path.split("/").map(encodeURIComponent).join("/")}`;
}

export const CONTENT_PREFIX = "forgeml://content/";

/** `forgeml://content/<digest>[/<sub>]` split into its digest and sub-path. */
export function parseContentUri(uri?: string | null): { digest: string; sub: string } | null {
  if (!uri || !uri.startsWith(CONTENT_PREFIX)) return null;
  const rest = uri.slice(CONTENT_PREFIX.length);
  const slash = rest.indexOf("/");
  return slash < 0 ? { digest: rest, sub: "" } : { digest: rest.slice(0, slash), sub: rest.slice(slash + 1) };
}

/** The uploaded files of a version: a data/model path, a component's code, an environment's build. */
export function contentOf(kind: AssetKind, asset: AssetVersion): { field: string; uri: string } | null {
  const a = asset as Record<string, unknown>;
  const pick = (field: string, value: unknown) =>
    typeof value === "string" && value.startsWith(CONTENT_PREFIX) ? { field, uri: value } : null;
  if (kind === "data" || kind === "models") return pick("path", a.path);
  if (kind === "components") return pick("code", a.code);
  const build = a.build as { path?: string } | null | undefined;
  return pick("build.path", build?.path);
}
