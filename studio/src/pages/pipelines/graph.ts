// A pipeline's graph from its spec: one node per step, an edge per `${{parent.jobs.<step>.outputs.<port>}}`
// binding, pipeline inputs as their own nodes, laid out left to right by topological depth.
import type { PipelineJob, Schemas } from "../../api/client";

export type StepInfo = Schemas["StepInfo"];

export type GraphNode = {
  id: string;
  kind: "step" | "input";
  label: string;
  depth: number;
  row: number;
  step?: StepInfo;
  component?: string;
};

export type GraphEdge = { id: string; source: string; target: string; label: string };

const STEP_REF = /\$\{\{\s*parent\.jobs\.([\w.-]+?)\.outputs\.([\w-]+)\s*\}\}/g;
const INPUT_REF = /\$\{\{\s*parent\.inputs\.([\w-]+)\s*\}\}/g;

/** The component a step runs, as a person reads it ("train:3", "inline command"). */
export function componentLabel(step: Schemas["PipelineStep"] | undefined, type?: string): string {
  const c = step?.component;
  if (typeof c === "string") return c.replace(/^azureml:/, "").replace(/^file:/, "");
  if (c && typeof c === "object") {
    const o = c as { name?: string; version?: string; display_name?: string };
    if (o.name) return o.version ? `${o.name}:${o.version}` : o.name;
    if (o.display_name) return o.display_name;
    return `inline ${type ?? "component"}`;
  }
  if (step?.trial) return "sweep trial";
  return `inline ${step?.type ?? type ?? "command"}`;
}

export function buildGraph(job: PipelineJob): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const spec = job.jobs ?? {};
  const infos = new Map((job.steps ?? []).map((s) => [s.name, s]));
  const names = Array.from(new Set([...Object.keys(spec), ...infos.keys()]));
  const edges: GraphEdge[] = [];
  const preds = new Map<string, Set<string>>(names.map((n) => [n, new Set()]));
  const usedInputs = new Set<string>();

  for (const name of names) {
    const text = JSON.stringify(spec[name]?.inputs ?? {});
    for (const m of text.matchAll(STEP_REF)) {
      const [, from, port] = m;
      if (!preds.has(from) || from === name) continue;
      if (!preds.get(name)!.has(from)) {
        preds.get(name)!.add(from);
        edges.push({ id: `${from}->${name}`, source: from, target: name, label: port });
      }
    }
    for (const m of text.matchAll(INPUT_REF)) {
      const id = `input:${m[1]}`;
      usedInputs.add(m[1]);
      if (!edges.some((e) => e.id === `${id}->${name}`)) {
        edges.push({ id: `${id}->${name}`, source: id, target: name, label: m[1] });
      }
    }
  }

  // depth = the longest chain of steps before it (inputs sit at depth 0, steps start at 1)
  const hasInputs = usedInputs.size > 0;
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const depthOf = (n: string): number => {
    if (depth.has(n)) return depth.get(n)!;
    if (visiting.has(n)) return 0; // a cycle the server would have refused; do not loop
    visiting.add(n);
    let d = hasInputs ? 1 : 0;
    for (const p of preds.get(n) ?? []) d = Math.max(d, depthOf(p) + 1);
    visiting.delete(n);
    depth.set(n, d);
    return d;
  };

  // keep the server's order (steps in the order they were planned) within a column
  const nodes: GraphNode[] = [];
  const rows = new Map<number, number>();
  const place = (d: number) => {
    const r = rows.get(d) ?? 0;
    rows.set(d, r + 1);
    return r;
  };
  for (const input of usedInputs) {
    nodes.push({ id: `input:${input}`, kind: "input", label: input, depth: 0, row: place(0) });
  }
  for (const name of names) {
    const d = depthOf(name);
    const info = infos.get(name);
    nodes.push({
      id: name,
      kind: "step",
      label: name,
      depth: d,
      row: place(d),
      step: info ?? { name, type: spec[name]?.type ?? "command", status: "not_started" },
      component: componentLabel(spec[name], info?.type),
    });
  }
  return { nodes, edges };
}

/** How many rows the tallest column has (to size the canvas). */
export function tallest(nodes: GraphNode[]): number {
  const counts = new Map<number, number>();
  for (const n of nodes) counts.set(n.depth, (counts.get(n.depth) ?? 0) + 1);
  return Math.max(1, ...counts.values());
}
