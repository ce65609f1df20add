// Small pieces the asset pages share: the archived mark, a tag list, and the Archive/Restore
// button that calls the same REST route as `forgeml <kind> archive|restore`.
import { useState } from "react";
import { Link } from "react-router-dom";
import { ErrorBox, Tag } from "../../components/ui";
import { formatTime } from "../../lib/format";
import { setArchived, type AssetKind } from "./assetApi";

export function ArchivedMark() {
  return (
    <span className="chip chip-muted archived-mark" title="Archived: hidden from lists unless asked for">
      archived
    </span>
  );
}

export function Tags({ tags }: { tags?: Record<string, string> | null }) {
  const entries = Object.entries(tags ?? {});
  if (entries.length === 0) return <span className="muted">—</span>;
  return (
    <span className="tags">
      {entries.map(([k, v]) =>
        // a job's outputs are tagged with the job that made them: link it
        k === "job_name" ? (
          <Link key={k} className="tag tag-link" to={`/jobs/${encodeURIComponent(v)}`}>
            {k}=<b>{v}</b>
          </Link>
        ) : (
          <Tag key={k} k={k} v={v} />
        ),
      )}
    </span>
  );
}

/**
 * Archive (or restore) a whole name, or one version of it; `onDone` reloads what shows it.
 * The server's message is shown if it refuses.
 */
export function ArchiveButton(props: {
  kind: AssetKind;
  name: string;
  version?: string;
  archived: boolean;
  label: string;
  onDone: () => void;
  small?: boolean;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const action = props.archived ? "Restore" : "Archive";
  return (
    <>
      <button
        className={`btn ${props.small ? "btn-small" : ""} ${props.archived ? "" : "btn-danger"}`}
        disabled={busy}
        aria-label={`${action} ${props.label}`}
        onClick={async () => {
          setBusy(true);
          setError(undefined);
          try {
            await setArchived(props.kind, props.name, !props.archived, props.version);
            props.onDone();
          } catch (e) {
            setError(e);
          } finally {
            setBusy(false);
          }
        }}
      >
        {action}
      </button>
      {error ? (
        <div className="archive-error">
          <ErrorBox error={error} title={`${action} failed`} />
        </div>
      ) : null}
    </>
  );
}

/** A compact time for table cells; the full one on hover. */
export function When({ iso }: { iso?: string | null }) {
  if (!iso) return <span className="muted">—</span>;
  const d = new Date(iso);
  const text = d.toLocaleString(undefined, {
    month: "short",
    day: "numeric",
    year: d.getFullYear() === new Date().getFullYear() ? undefined : "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
  return (
    <time dateTime={iso} title={formatTime(iso)}>
      {text}
    </time>
  );
}
