// Send a JSON payload to the endpoint and see the answer: through the workspace's invoke route,
// so the browser never holds a key. The split picks the deployment unless one is pinned (the
// azureml-model-deployment header).
import { useState } from "react";
import { api, unwrap, type Schemas } from "../../api/client";
import { Card, ErrorBox, StatusChip } from "../../components/ui";
import { formatNumber } from "../../lib/format";

const SAMPLE = `{
  "input_data": {
    "columns": ["a", "b"],
    "data": [[1.0, 2.0], [3.0, 0.5]]
  }
}`;

export function TestConsole({ endpoint, deployments }: { endpoint: string; deployments: string[] }) {
  const [body, setBody] = useState(SAMPLE);
  const [pinned, setPinned] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [answer, setAnswer] = useState<Schemas["InvokeResult"]>();

  async function send() {
    setError(undefined);
    let request: unknown;
    try {
      request = JSON.parse(body);
    } catch (err) {
      setError(new Error(`The request body is not valid JSON: ${(err as Error).message}`));
      setAnswer(undefined);
      return;
    }
    setBusy(true);
    try {
      setAnswer(
        await unwrap(
          api.POST("/api/v1/online-endpoints/{name}/invoke", {
            params: { path: { name: endpoint } },
            body: { request, deployment_name: pinned || null },
          }),
        ),
      );
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const ok = answer && answer.status_code < 400;
  const shown = answer ? (answer.text ?? JSON.stringify(answer.body, null, 2)) : "";
  return (
    <div className="console">
      <Card title="Request">
        <div className="field">
          <label htmlFor="console-body">Request body (JSON)</label>
          <textarea
            id="console-body"
            spellCheck={false}
            value={body}
            onChange={(e) => setBody(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) void send();
            }}
          />
          <span className="hint">Ctrl+Enter sends. MLflow models also take dataframe_split, dataframe_records, instances and inputs.</span>
        </div>
        <div className="toolbar" style={{ marginBottom: 0 }}>
          <div className="field">
            <label htmlFor="console-dep">Deployment</label>
            <select id="console-dep" value={pinned} onChange={(e) => setPinned(e.target.value)}>
              <option value="">Traffic split (default)</option>
              {deployments.map((d) => (
                <option key={d} value={d}>
                  {d} (pinned)
                </option>
              ))}
            </select>
          </div>
          <button className="btn btn-primary" onClick={send} disabled={busy}>
            {busy ? "Sending…" : "Send"}
          </button>
        </div>
      </Card>
      <Card title="Response">
        <ErrorBox error={error} title="The request was not sent" />
        {answer ? (
          <div aria-live="polite">
            <div className="answer-meta">
              <StatusChip status={ok ? "succeeded" : "failed"} />
              <span>
                Status <b data-testid="answer-status">{answer.status_code}</b>
              </span>
              <span>
                Latency <b>{formatNumber(answer.latency_ms)} ms</b>
              </span>
              {answer.deployment && (
                <span>
                  Deployment <b>{answer.deployment}</b>
                </span>
              )}
            </div>
            <pre className="code answer-body" aria-label="Response body" tabIndex={0}>
              {shown}
            </pre>
            <p className="muted mono" style={{ marginBottom: 0 }}>
              request id {answer.request_id}
            </p>
          </div>
        ) : (
          !error && <p className="muted">Send a request to see the status, the latency and the answer here.</p>
        )}
      </Card>
    </div>
  );
}
