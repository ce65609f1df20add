// Resources as people read them: memory in bytes, CPUs and GPUs as counts, and used/total meters.
import { formatBytes, formatNumber } from "../../lib/format";

export function formatResource(key: string, value: number): string {
  return /memory/i.test(key) ? formatBytes(value) : formatNumber(Math.round(value * 100) / 100);
}

const FIRST = ["CPU", "GPU", "jobs", "memory", "object_store_memory"];

export function orderedKeys(total: Record<string, number>): string[] {
  const keys = Object.keys(total).filter((k) => !k.startsWith("node:") && !k.startsWith("accelerator_type"));
  return keys.sort((a, b) => {
    const ia = FIRST.indexOf(a), ib = FIRST.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
  });
}

export function Meters({ total, available }: { total: Record<string, number>; available: Record<string, number> }) {
  const keys = orderedKeys(total);
  if (!keys.length) return <p className="muted">No resources reported.</p>;
  return (
    <div className="meters">
      {keys.map((k) => {
        const t = total[k] ?? 0;
        const free = available[k] ?? 0;
        const used = Math.max(0, t - free);
        const pct = t > 0 ? Math.round((used / t) * 100) : 0;
        return (
          <div key={k}>
            <div className="meter-head">
              <span>{k}</span>
              <span>
                {formatResource(k, free)} free of {formatResource(k, t)}
              </span>
            </div>
            <div
              className={`meter ${pct >= 100 ? "full" : ""}`}
              role="meter"
              aria-label={`${k} in use`}
              aria-valuemin={0}
              aria-valuemax={100}
              aria-valuenow={pct}
            >
              <span style={{ width: `${pct}%` }} />
            </div>
          </div>
        );
      })}
    </div>
  );
}
