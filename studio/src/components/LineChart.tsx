// A line chart over steps (uPlot: canvas, fast at thousands of points), several runs overlaid.
// The server downsamples long series, so a chart never holds more than a few thousand points.
import { useEffect, useRef, useState } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export const PALETTE = ["#2f6fed", "#e8590c", "#2b8a3e", "#c2255c", "#7048e8", "#0c8599", "#e67700", "#5c940d"];

export type Line = { label: string; x: number[]; y: number[] };

function css(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

/** Merge lines with different x values onto one sorted x axis (uPlot's data shape). */
function align(lines: Line[]): uPlot.AlignedData {
  const xs = Array.from(new Set(lines.flatMap((l) => l.x))).sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const ys = lines.map((l) => {
    const col: (number | null)[] = new Array(xs.length).fill(null);
    l.x.forEach((x, i) => (col[index.get(x)!] = l.y[i]));
    return col;
  });
  return [xs, ...ys] as uPlot.AlignedData;
}

/** The page's theme, followed as it changes (a canvas chart draws its colours itself). */
function useTheme(): string | undefined {
  const [theme, setTheme] = useState(document.documentElement.dataset.theme);
  useEffect(() => {
    const watch = new MutationObserver(() => setTheme(document.documentElement.dataset.theme));
    watch.observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
    return () => watch.disconnect();
  }, []);
  return theme;
}

export function LineChart(props: { title: string; lines: Line[]; height?: number; xLabel?: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const theme = useTheme();

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const axis = { stroke: css("--text-muted"), grid: { stroke: css("--border"), width: 1 }, ticks: { stroke: css("--border") } };
    const opts: uPlot.Options = {
      width: Math.max(el.clientWidth, 240),
      height: props.height ?? 220,
      legend: { show: props.lines.length > 1 },
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: false } },
      axes: [{ ...axis, label: props.xLabel ?? "step" }, { ...axis }],
      series: [
        { label: props.xLabel ?? "step" },
        ...props.lines.map((l, i) => ({
          label: l.label,
          stroke: PALETTE[i % PALETTE.length],
          width: 1.5,
          spanGaps: true,
          points: { show: l.x.length < 60 },
        })),
      ],
    };
    plot.current?.destroy();
    plot.current = new uPlot(opts, align(props.lines), el);
    const resize = new ResizeObserver(() => {
      plot.current?.setSize({ width: Math.max(el.clientWidth, 240), height: props.height ?? 220 });
    });
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [props.lines, props.height, props.xLabel, theme]);

  return (
    <figure className="chart" aria-label={`Chart of ${props.title}`}>
      <figcaption>{props.title}</figcaption>
      <div ref={box} className="chart-canvas" role="img" aria-label={`${props.title} over ${props.xLabel ?? "step"}`} />
    </figure>
  );
}
