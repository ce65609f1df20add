// Small pieces the job pages share: terminal states, the type badge, the reused mark, and links
// from an `azureml:<name>:<version>` reference to the asset's studio page.
import { Link } from "react-router-dom";
import type { AnyJob } from "../../api/client";

export const STATUSES = ["queued", "preparing", "running", "canceling", "completed", "failed", "canceled"];
const TERMINAL = new Set(["completed", "failed", "canceled"]);

export function isTerminal(status?: string | null): boolean {
  return TERMINAL.has((status ?? "").toLowerCase());
}

export function JobTypeBadge({ type }: { type: string }) {
  return <span className={`job-type job-type-${type}`}>{type}</span>;
}

/** "reused" when a step reused an earlier job's outputs; "rerun" when it reran another job. */
export function ReusedMark({ job }: { job: AnyJob }) {
  const rerunOf = job.tags?.["forgeml.rerun_of"];
  return (
    <>
      {job.reused_from && (
        <Link className="tag job-mark" to={`/jobs/${encodeURIComponent(job.reused_from)}`} title={`Reused the outputs of ${job.reused_from}`}>
          ♻ reused
        </Link>
      )}
      {rerunOf && (
        <Link className="tag job-mark" to={`/jobs/${encodeURIComponent(rerunOf)}`} title={`A rerun of ${rerunOf}`}>
          ↻ rerun
        </Link>
      )}
    </>
  );
}

const KIND_PAGES: Record<string, string> = {
  data: "data",
  models: "models",
  model: "models",
  environments: "environments",
  environment: "environments",
  components: "components",
  component: "components",
};

/** The studio page of `azureml:<name>:<version>` (of `kind`), or undefined for other values. */
export function assetHref(ref: string | null | undefined, kind: string): string | undefined {
  if (!ref) return undefined;
  const m = /^azureml:(?:\/\/registries\/[^/]+\/)?(?:(data|models|environments|components)\/)?([^:@/]+)(?::([^:@]+)|@latest)?$/.exec(
    ref,
  );
  if (!m) return undefined;
  const page = KIND_PAGES[m[1] ?? kind] ?? kind;
  return m[3] ? `/${page}/${encodeURIComponent(m[2])}/${encodeURIComponent(m[3])}` : `/${page}/${encodeURIComponent(m[2])}`;
}

export function AssetLink({ value, kind }: { value: string; kind: string }) {
  const href = assetHref(value, kind);
  return href ? (
    <Link to={href} className="mono">
      {value}
    </Link>
  ) : (
    <span className="mono">{value}</span>
  );
}
