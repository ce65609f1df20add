// The pipeline job's graph on its job page (/jobs/<name>): a node per step with its live status,
// reused steps marked, and a side panel with the clicked step's logs, metrics and outputs.
import { useEffect, useMemo, useRef, type RefObject } from "react";
import {
  Background,
  Controls,
  Handle,
  Position,
  ReactFlow,
  type Edge,
  type Node,
  type NodeProps,
  useReactFlow,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { Link } from "react-router-dom";
import type { PipelineJob } from "../../api/client";
import { Card, StatusChip } from "../../components/ui";
import { useQueryParam } from "../../lib/hooks";
import { buildGraph, tallest, type GraphNode } from "./graph";
import { StepPanel } from "./StepPanel";
import "./pipelines.css";

const TERMINAL = new Set(["completed", "failed", "canceled"]);
const COL_W = 240;
const ROW_H = 112;
const NODE_W = 196;

type StepData = { node: GraphNode; selected: boolean; onOpen: (name: string) => void };
type StepNode = Node<StepData, "step">;
type InputData = { label: string };
type InputNode = Node<InputData, "pinput">;

function StepCard({ data }: NodeProps<StepNode>) {
  const { node } = data;
  const step = node.step!;
  const status = step.status.replace(/_/g, " ");
  return (
    <div className={`pnode pnode-${step.status}${data.selected ? " pnode-selected" : ""}${step.reused_from ? " pnode-reused" : ""}`}>
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <button className="pnode-main nodrag" onClick={() => data.onOpen(node.id)} aria-pressed={data.selected}>
        <span className="pnode-title" aria-hidden="true">
          {node.label}
        </span>
        <span className="sr-only">
          {`Step ${node.label}, ${status}${step.reused_from ? `, reused from ${step.reused_from}` : ""}`}
        </span>
      </button>
      <span className="pnode-component">{node.component}</span>
      <div className="pnode-foot">
        <StatusChip status={step.status} />
        {step.reused_from && (
          <Link className="pnode-reused-link nodrag" to={`/jobs/${step.reused_from}`} title={`Reused the outputs of ${step.reused_from}`}>
            ♻ reused
          </Link>
        )}
      </div>
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </div>
  );
}

function InputCard({ data }: NodeProps<InputNode>) {
  return (
    <div className="pinput">
      <span className="pinput-kind">input</span>
      <span className="mono">{data.label}</span>
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </div>
  );
}

const NODE_TYPES = { step: StepCard, pinput: InputCard };
const FIT = { padding: 0.12, maxZoom: 1 };

/** Fit the graph again whenever its box changes size (the step panel opens or closes). */
function FitOnResize({ box }: { box: RefObject<HTMLDivElement | null> }) {
  const flow = useReactFlow();
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    let frame = 0;
    const observer = new ResizeObserver(() => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => void flow.fitView(FIT));
    });
    observer.observe(el);
    return () => {
      cancelAnimationFrame(frame);
      observer.disconnect();
    };
  }, [box, flow]);
  return null;
}

/** Poll the pipeline through the job page's loader while it has not ended. */
function usePoll(job: PipelineJob, onChange: () => void) {
  useEffect(() => {
    if (TERMINAL.has(job.status)) return;
    const t = window.setTimeout(onChange, 2000);
    return () => window.clearTimeout(t);
  }, [job, onChange]);
}

export function PipelineJobView({ job, onChange }: { job: PipelineJob; onChange: () => void }) {
  usePoll(job, onChange);
  const [selected, setSelected] = useQueryParam("step", "");
  const graph = useMemo(() => buildGraph(job), [job]);
  const box = useRef<HTMLDivElement>(null);
  const rows = tallest(graph.nodes);
  const height = Math.max(240, rows * ROW_H + 60);

  const nodes: (StepNode | InputNode)[] = useMemo(
    () =>
      graph.nodes.map((n) => {
        const position = { x: n.depth * COL_W, y: n.row * ROW_H + ((rows - countAt(graph.nodes, n.depth)) * ROW_H) / 2 };
        return n.kind === "input"
          ? ({ id: n.id, type: "pinput", position, data: { label: n.label }, focusable: false, selectable: false } as InputNode)
          : ({
              id: n.id,
              type: "step",
              position,
              width: NODE_W,
              data: { node: n, selected: n.id === selected, onOpen: (name: string) => setSelected(name) },
              focusable: false,
              selectable: false,
              ariaLabel: `Step ${n.label}`,
            } as StepNode);
      }),
    [graph, rows, selected, setSelected],
  );
  const edges: Edge[] = useMemo(
    () =>
      graph.edges.map((e) => {
        const target = graph.nodes.find((n) => n.id === e.target)?.step;
        const live = target?.status === "running";
        return {
          id: e.id,
          source: e.source,
          target: e.target,
          animated: live,
          focusable: false,
          className: e.source.startsWith("input:") ? "pedge-input" : "pedge",
        };
      }),
    [graph],
  );

  const steps = job.steps ?? [];
  const done = steps.filter((s) => s.status === "completed").length;
  const reused = steps.filter((s) => s.reused_from).length;
  const open = steps.find((s) => s.name === selected);

  return (
    <div className={open ? "pipeline-layout with-panel" : "pipeline-layout"}>
      <Card
        title="Pipeline graph"
        className="pipeline-card"
        actions={
          <span className="muted pipeline-summary" aria-live="polite">
            {done} of {steps.length || graph.nodes.filter((n) => n.kind === "step").length} steps completed
            {reused > 0 && ` · ${reused} reused`}
          </span>
        }
      >
        <div className="pipeline-canvas" style={{ height }} data-testid="pipeline-graph" ref={box}>
          <ReactFlow
            nodes={nodes}
            edges={edges}
            nodeTypes={NODE_TYPES}
            onNodeClick={(_, n) => n.type === "step" && setSelected(n.id)}
            fitView
            fitViewOptions={FIT}
            minZoom={0.3}
            maxZoom={1.5}
            nodesDraggable={false}
            nodesConnectable={false}
            elementsSelectable={false}
            edgesFocusable={false}
            nodesFocusable={false}
            zoomOnScroll={false}
            preventScrolling={false}
            proOptions={{ hideAttribution: true }}
            aria-label={`Graph of pipeline ${job.name}`}
          >
            <Background gap={18} size={1} />
            <Controls showInteractive={false} position="bottom-right" fitViewOptions={FIT} />
            <FitOnResize box={box} />
          </ReactFlow>
        </div>
        <p className="muted pipeline-hint">Select a step to see its logs, metrics and outputs.</p>
      </Card>
      {open && <StepPanel step={open} onClose={() => setSelected("")} />}
    </div>
  );
}

function countAt(nodes: GraphNode[], depth: number): number {
  return nodes.filter((n) => n.depth === depth).length;
}
