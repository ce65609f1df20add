// A deployment's log (its instances' output and one line per request), from get-logs: pick the
// deployment and how many lines, refresh, or follow (every 3 s, kept scrolled to the end).
import { useEffect, useRef } from "react";
import { api, unwrap } from "../../api/client";
import { Card, Empty, ErrorBox } from "../../components/ui";
import { useLoad, useQueryParam } from "../../lib/hooks";

export function DeploymentLogs({ endpoint, deployments }: { endpoint: string; deployments: string[] }) {
  const [picked, setPicked] = useQueryParam("log", deployments[0] ?? "");
  const [lines, setLines] = useQueryParam("lines", "200");
  const [follow, setFollow] = useQueryParam("follow", "1");
  const deployment = deployments.includes(picked) ? picked : (deployments[0] ?? "");
  const box = useRef<HTMLPreElement>(null);
  const logs = useLoad(
    async () =>
      deployment
        ? unwrap(
            api.GET("/api/v1/online-endpoints/{name}/deployments/{deployment}/logs", {
              params: { path: { name: endpoint, deployment }, query: { lines: Number(lines) || 200 } },
            }),
          )
        : undefined,
    [endpoint, deployment, lines],
    { pollMs: follow === "1" ? 3000 : undefined },
  );
  const text = logs.data?.text ?? "";
  useEffect(() => {
    if (follow === "1" && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [text, follow]);

  if (!deployments.length) return <Empty title="No deployments">A deployment's log shows here once it exists.</Empty>;
  return (
    <Card title="Logs">
      <div className="toolbar">
        <div className="field">
          <label htmlFor="log-dep">Deployment</label>
          <select id="log-dep" value={deployment} onChange={(e) => setPicked(e.target.value)}>
            {deployments.map((d) => (
              <option key={d}>{d}</option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="log-lines">Lines</label>
          <select id="log-lines" value={lines} onChange={(e) => setLines(e.target.value)}>
            {["100", "200", "500", "1000", "5000"].map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>
        </div>
        <label className="check" style={{ paddingBottom: 6 }}>
          <input type="checkbox" checked={follow === "1"} onChange={(e) => setFollow(e.target.checked ? "1" : "0")} />
          Follow
        </label>
        <button className="btn" onClick={logs.reload}>
          Refresh
        </button>
      </div>
      <ErrorBox error={logs.error} title="Could not read the log" />
      <pre ref={box} className="code log-box" aria-label={`Log of ${deployment}`} tabIndex={0}>
        {text || (logs.loading ? "Loading…" : "The log is empty so far.")}
      </pre>
    </Card>
  );
}
