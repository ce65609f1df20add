// A parallel-coordinates view of a sweep (an SVG): one vertical axis per parameter and one for
// the objective, one line per trial through its values; the best trial drawn on top, emphasized.
import { useMemo, useState } from "react";
import type { Schemas } from "../../api/client";
import { formatNumber } from "../../lib/format";

type Trial = Schemas["TrialInfo"];

type Axis = {
  key: string;
  label: string;
  numeric: boolean;
  min: number;
  max: number;
  categories: string[];
  objective?: boolean;
};

const W = 900;
const H = 320;
const PAD = { top: 36, bottom: 40, left: 70, right: 90 };

function asNumber(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

function makeAxis(key: string, label: string, values: unknown[], objective = false): Axis {
  const present = values.filter((v) => v !== undefined && v !== null);
  const nums = present.map(asNumber);
  const numeric = present.length > 0 && nums.every((n) => n !== undefined);
  if (numeric) {
    const ns = nums as number[];
    return { key, label, numeric, min: Math.min(...ns), max: Math.max(...ns), categories: [], objective };
  }
  const categories = Array.from(new Set(present.map((v) => String(v)))).sort();
  return { key, label, numeric: false, min: 0, max: Math.max(categories.length - 1, 0), categories, objective };
}

/** Where a value sits on an axis, 0 (bottom) .. 1 (top); undefined when the trial has none. */
function position(axis: Axis, v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (axis.numeric) {
    const n = asNumber(v);
    if (n === undefined) return undefined;
    return axis.max === axis.min ? 0.5 : (n - axis.min) / (axis.max - axis.min);
  }
  const i = axis.categories.indexOf(String(v));
  if (i < 0) return undefined;
  return axis.categories.length === 1 ? 0.5 : i / (axis.categories.length - 1);
}

function ticks(axis: Axis): { at: number; label: string }[] {
  if (!axis.numeric) return axis.categories.map((c) => ({ at: position(axis, c) ?? 0, label: c.length > 12 ? `${c.slice(0, 11)}…` : c }));
  if (axis.max === axis.min) return [{ at: 0.5, label: formatNumber(axis.min) }];
  return [0, 0.5, 1].map((f) => ({ at: f, label: formatNumber(axis.min + f * (axis.max - axis.min)) }));
}

/** Lines colored from the worst (light) to the best (strong) objective value. */
function shade(f: number | undefined): string {
  if (f === undefined) return "var(--text-muted)";
  return `color-mix(in srgb, var(--accent) ${Math.round(45 + 55 * f)}%, var(--border))`;
}

export function ParallelCoordinates(props: { trials: Trial[]; metric: string; goal: string; best?: string | null }) {
  const { trials, metric, goal, best } = props;
  const [hover, setHover] = useState<string>();
  const axes = useMemo(() => {
    const keys = Array.from(new Set(trials.flatMap((t) => Object.keys(t.parameters)))).sort();
    return [
      ...keys.map((k) => makeAxis(k, k, trials.map((t) => t.parameters[k]))),
      makeAxis("__objective", metric, trials.map((t) => t.metric), true),
    ];
  }, [trials, metric]);

  const x = (i: number) => PAD.left + (axes.length === 1 ? 0 : (i * (W - PAD.left - PAD.right)) / (axes.length - 1));
  const y = (f: number) => PAD.top + (1 - f) * (H - PAD.top - PAD.bottom);
  const objective = axes[axes.length - 1];
  const goodness = (t: Trial) => {
    const f = position(objective, t.metric);
    return f === undefined ? undefined : goal === "minimize" ? 1 - f : f;
  };
  // the best trial last, so it is drawn on top
  const ordered = [...trials].sort((a, b) => Number(a.job === best) - Number(b.job === best));

  return (
    <figure className="pc-figure">
      <svg
        viewBox={`0 0 ${W} ${H}`}
        className="pc"
        role="img"
        aria-label={`Parallel coordinates of ${trials.length} trials: ${axes.map((a) => a.label).join(", ")}`}
        data-testid="parallel-coordinates"
      >
        {ordered.map((t) => {
          const pts = axes
            .map((a, i) => {
              const f = position(a, a.objective ? t.metric : t.parameters[a.key]);
              return f === undefined ? undefined : `${x(i).toFixed(1)},${y(f).toFixed(1)}`;
            })
            .filter(Boolean);
          const isBest = t.job === best;
          const cls = `pc-line${isBest ? " pc-best" : ""}${hover === t.job ? " pc-hover" : ""}${t.metric == null ? " pc-nometric" : ""}`;
          return (
            <path
              key={t.job}
              className={cls}
              d={`M${pts.join("L")}`}
              stroke={isBest ? "var(--ok)" : shade(goodness(t))}
              data-trial={t.job}
              onMouseEnter={() => setHover(t.job)}
              onMouseLeave={() => setHover(undefined)}
            >
              <title>
                {`${t.job}${isBest ? " (best)" : ""}: ${Object.entries(t.parameters)
                  .map(([k, v]) => `${k}=${String(v)}`)
                  .join(", ")}; ${metric}=${t.metric == null ? "—" : formatNumber(t.metric)}`}
              </title>
            </path>
          );
        })}
        {axes.map((a, i) => (
          <g key={a.key} className={a.objective ? "pc-axis pc-objective" : "pc-axis"}>
            <line x1={x(i)} x2={x(i)} y1={y(0)} y2={y(1)} />
            <text x={x(i)} y={PAD.top - 16} textAnchor="middle" className="pc-label">
              {a.label}
              {a.objective ? (goal === "minimize" ? " ↓" : " ↑") : ""}
            </text>
            {ticks(a).map((tk) => (
              <g key={`${tk.label}-${tk.at}`}>
                <line x1={x(i) - 4} x2={x(i)} y1={y(tk.at)} y2={y(tk.at)} />
                <text x={x(i) - 7} y={y(tk.at) + 4} textAnchor="end" className="pc-tick">
                  {tk.label}
                </text>
              </g>
            ))}
          </g>
        ))}
      </svg>
      <figcaption className="pc-legend">
        <span>
          <span className="pc-swatch pc-swatch-best" aria-hidden="true" /> best trial
        </span>
        <span>
          <span className="pc-swatch pc-swatch-grad" aria-hidden="true" /> other trials, darker is better
        </span>
      </figcaption>
    </figure>
  );
}
