// Submit a job (/submit) from its YAML, pasted or read from a file. The server reads it as
// `forgeml job create -f` does; its errors (with the line) show beside the text, which stays.
import { useState } from "react";
import { useNavigate } from "react-router-dom";
import { api, unwrap } from "../../api/client";
import { Card, Code, ErrorBox, PageHeader } from "../../components/ui";
import "./jobs.css";

const EXAMPLE = `$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
command: >-
  python -c "import mlflow; [mlflow.log_metric('loss', 1 / (s + 1), step=s) for s in range(20)]"
environment:
  image: python:3.11
experiment_name: studio
display_name: my first job
`;

export function SubmitJob() {
  const navigate = useNavigate();
  const [text, setText] = useState("");
  const [file, setFile] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();

  const load = async (e: React.ChangeEvent<HTMLInputElement>) => {
    const picked = e.target.files?.[0];
    if (!picked) return;
    setText(await picked.text());
    setFile(picked.name);
    setError(undefined);
  };
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const job = await unwrap(api.POST("/api/v1/jobs/yaml", { body: { yaml: text, file: file ?? null } }));
      navigate(`/jobs/${encodeURIComponent(job.name ?? "")}`);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <>
      <PageHeader
        title="Submit a job"
        crumbs={[{ label: "Jobs", to: "/jobs" }]}
        subtitle="Paste a job's YAML (command, pipeline or sweep) or open a .yml file, then submit it."
      />
      <div className="submit-layout">
        <Card className="submit-editor">
          <form onSubmit={submit}>
            <div className="field">
              <label htmlFor="job-yaml">Job YAML{file ? ` (from ${file})` : ""}</label>
              <textarea
                id="job-yaml"
                spellCheck={false}
                value={text}
                placeholder={EXAMPLE}
                onChange={(e) => setText(e.target.value)}
                aria-describedby="job-yaml-hint"
                aria-invalid={error ? "true" : undefined}
              />
              <span id="job-yaml-hint" className="hint">
                The same document <span className="mono">forgeml job create -f</span> takes. Errors name the line.
              </span>
            </div>
            <ErrorBox error={error} title="The job was not submitted" />
            <div className="submit-actions">
              <button type="submit" className="btn btn-primary" disabled={busy || !text.trim()}>
                {busy ? "Submitting…" : "Submit"}
              </button>
              <label className="btn" htmlFor="job-file">
                Open a .yml file
              </label>
              <input id="job-file" className="sr-only" type="file" accept=".yml,.yaml,text/yaml" onChange={load} />
              <button type="button" className="btn btn-ghost" onClick={() => { setText(EXAMPLE); setFile(undefined); }}>
                Use an example
              </button>
            </div>
          </form>
        </Card>
        <Card title="What the studio can submit">
          <p style={{ marginTop: 0 }}>
            Jobs whose files already live in the workspace: an inline <span className="mono">command</span> with an{" "}
            <span className="mono">environment</span> (an image or a conda file written inline, or{" "}
            <span className="mono">azureml:&lt;name&gt;:&lt;version&gt;</span>), inputs from registered data or models, and
            pipelines of registered components.
          </p>
          <p>
            A browser cannot upload a local <span className="mono">code:</span> folder or a local input. Submit those with the CLI,
            which uploads them first:
          </p>
          <Code>forgeml job create -f job.yml</Code>
        </Card>
      </div>
    </>
  );
}
