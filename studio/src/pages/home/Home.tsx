// The workspace's front page, as in Azure ML studio: a welcome, counts of what the workspace
// holds, quick actions, and the recent jobs, models and endpoints; each empty part says how to
// make its first item.
import type { ReactNode } from "react";
import { Link } from "react-router-dom";
import { api, unwrap } from "../../api/client";
import { Card, Empty, ErrorBox, StatusChip } from "../../components/ui";
import { formatTime } from "../../lib/format";
import { useLoad } from "../../lib/hooks";
import "./home.css";

const ACTIVE = new Set(["queued", "preparing", "starting", "running", "finalizing", "not_started", "provisioning"]);

/** "12", or "100+" when the first page of `limit` was full. */
function count(items: unknown[] | undefined, next?: string | null): string {
  if (!items) return "…";
  return next ? `${items.length}+` : String(items.length);
}

function Count(props: { to: string; label: string; value: string }) {
  return (
    <Link className="count-card stat" to={props.to}>
      <span className="stat-value">{props.value}</span>
      <span className="stat-label">{props.label}</span>
    </Link>
  );
}

function Quick(props: { icon: string; title: string; children: ReactNode; action?: ReactNode }) {
  return (
    <div className="quick-card">
      <h3>
        <span className="quick-icon" aria-hidden="true">
          {props.icon}
        </span>
        {props.title}
      </h3>
      <p>{props.children}</p>
      {props.action}
    </div>
  );
}

export function Home() {
  const jobs = useLoad(() => unwrap(api.GET("/api/v1/jobs", { params: { query: { limit: 5 } } })), [], {
    pollMs: 4000,
    pollWhile: (p) => !!p?.items.some((j) => ACTIVE.has(String(j.status).toLowerCase())),
  });
  const jobCount = useLoad(() => unwrap(api.GET("/api/v1/jobs", { params: { query: { limit: 100 } } })), []);
  const models = useLoad(() => unwrap(api.GET("/api/v1/models", { params: { query: { limit: 100 } } })), []);
  const data = useLoad(() => unwrap(api.GET("/api/v1/data", { params: { query: { limit: 100 } } })), []);
  const endpoints = useLoad(
    () => unwrap(api.GET("/api/v1/online-endpoints", { params: { query: { limit: 100 } } })),
    [],
  );
  const computes = useLoad(() => unwrap(api.GET("/api/v1/computes")), []);
  const recentModels = [...(models.data?.items ?? [])]
    .sort((a, b) => b.last_modified_at.localeCompare(a.last_modified_at))
    .slice(0, 5);
  const error = jobs.error ?? models.error ?? endpoints.error;

  return (
    <>
      <section className="welcome" aria-labelledby="welcome-title">
        <h1 id="welcome-title">Welcome to forgeml studio</h1>
        <p>
          Train with jobs and pipelines, keep data, models and environments as versioned assets, and serve models
          from online and batch endpoints — on this machine or a Ray cluster.
        </p>
      </section>
      <ErrorBox error={error} title="The workspace did not answer" />
      <div className="counts">
        <Count to="/jobs" label="Jobs" value={count(jobCount.data?.items, jobCount.data?.next_token)} />
        <Count to="/models" label="Models" value={count(models.data?.items, models.data?.next_token)} />
        <Count to="/data" label="Data assets" value={count(data.data?.items, data.data?.next_token)} />
        <Count to="/online-endpoints" label="Online endpoints" value={count(endpoints.data?.items, endpoints.data?.next_token)} />
        <Count to="/compute" label="Compute targets" value={count(computes.data?.items)} />
      </div>
      <h2 className="section-title" style={{ margin: "0 0 10px" }}>
        Get started
      </h2>
      <div className="quick">
        <Quick
          icon="▶"
          title="Submit a job"
          action={
            <Link to="/submit" className="btn btn-primary" style={{ alignSelf: "flex-start" }}>
              Submit job
            </Link>
          }
        >
          Paste or upload a command or pipeline job's YAML and watch it run.
        </Quick>
        <Quick icon="◆" title="Register a model" action={<code className="mono">forgeml model create --name my-model --path ./model</code>}>
          From a folder, or from a job's output on the job's page.
        </Quick>
        <Quick
          icon="→"
          title="Create an endpoint"
          action={
            <Link to="/online-endpoints?new=1" className="btn" style={{ alignSelf: "flex-start" }}>
              Create / Deploy
            </Link>
          }
        >
          Deploy a registered model behind a scoring URL, and split traffic between versions.
        </Quick>
        <Quick
          icon="{}"
          title="Use the REST API"
          action={
            <a href="/docs" className="btn" style={{ alignSelf: "flex-start" }}>
              API reference
            </a>
          }
        >
          Everything here goes through the same REST API as the CLI and the Python SDK.
        </Quick>
      </div>
      <div className="grid-3">
        <Card title="Recent jobs" actions={<Link to="/jobs">All jobs</Link>}>
          {jobs.data && !jobs.data.items.length ? (
            <div className="home-empty">
              <Empty title="No jobs yet">
                <Link to="/submit">Submit a job</Link> or run <code className="mono">forgeml job create -f job.yml</code>
              </Empty>
            </div>
          ) : (
            <ul className="recent-list" aria-label="Recent jobs">
              {(jobs.data?.items ?? []).map((j) => (
                <li key={j.name}>
                  <span className="who">
                    <Link to={`/jobs/${j.name}`}>{j.display_name || j.name}</Link>
                    <br />
                    <span className="when">
                      {j.experiment_name ?? "—"} · {formatTime(j.creation_context?.created_at)}
                    </span>
                  </span>
                  <StatusChip status={j.status} />
                </li>
              ))}
            </ul>
          )}
        </Card>
        <Card title="Models" actions={<Link to="/models">All models</Link>}>
          {models.data && !recentModels.length ? (
            <div className="home-empty">
              <Empty title="No models yet">
                <code className="mono">forgeml model create --name my-model --path ./model</code>
              </Empty>
            </div>
          ) : (
            <ul className="recent-list" aria-label="Recent models">
              {recentModels.map((m) => (
                <li key={m.name}>
                  <span className="who">
                    <Link to={m.latest_version ? `/models/${m.name}/${m.latest_version}` : `/models/${m.name}`}>{m.name}</Link>
                    <br />
                    <span className="when">
                      {m.version_count} version{m.version_count === 1 ? "" : "s"} · {formatTime(m.last_modified_at)}
                    </span>
                  </span>
                  {m.latest_version && <span className="tag">v{m.latest_version}</span>}
                </li>
              ))}
            </ul>
          )}
        </Card>
        <Card title="Endpoints" actions={<Link to="/online-endpoints">All endpoints</Link>}>
          {endpoints.data && !endpoints.data.items.length ? (
            <div className="home-empty">
              <Empty title="No endpoints yet">
                <code className="mono">forgeml online-endpoint create -f endpoint.yml</code>
              </Empty>
            </div>
          ) : (
            <ul className="recent-list" aria-label="Endpoints">
              {(endpoints.data?.items ?? []).slice(0, 5).map((e) => (
                <li key={e.name}>
                  <span className="who">
                    <Link to={`/online-endpoints/${e.name}`}>{e.name}</Link>
                    <br />
                    <span className="when">{formatTime(e.creation_context?.created_at)}</span>
                  </span>
                  <StatusChip status={e.provisioning_state} />
                </li>
              ))}
            </ul>
          )}
        </Card>
      </div>
    </>
  );
}
