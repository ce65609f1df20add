// A job's page (/jobs/<name>): its status and actions (cancel, rerun), a pipeline's graph or a
// sweep's trials, and tabs kept in the URL: overview, logs, metrics, outputs, child jobs.
import { useState } from "react";
import { useNavigate, useParams } from "react-router-dom";
import { api, jobType, unwrap, type AnyJob, type Job, type PipelineJob, type SweepJob } from "../../api/client";
import { ErrorBox, Loading, PageHeader, StatusChip, TabPanel, Tabs, useTab } from "../../components/ui";
import { formatDuration } from "../../lib/format";
import { useLoad } from "../../lib/hooks";
import { PipelineJobView } from "../pipelines/PipelineJobView";
import { SweepJobView } from "../sweeps/SweepJobView";
import { isTerminal, JobTypeBadge, ReusedMark } from "./common";
import { JobChildren } from "./JobChildren";
import { JobLogs } from "./JobLogs";
import { JobMetrics } from "./JobMetrics";
import { JobOutputsTab } from "./JobOutputs";
import { JobOverview } from "./JobOverview";
import "./jobs.css";

export function JobPage() {
  const { name = "" } = useParams();
  const navigate = useNavigate();
  const job = useLoad(
    () => unwrap(api.GET("/api/v1/jobs/{name}", { params: { path: { name } } })),
    [name],
    // a pipeline's and a sweep's own views ask for a reload while they run
    { pollMs: 2000, pollWhile: (j) => !!j && jobType(j) === "command" && !isTerminal(j.status) },
  );
  const [acting, setActing] = useState<string>();
  const [actionError, setActionError] = useState<unknown>();

  const j = job.data;
  const type = j ? jobType(j) : "command";
  const tab = useTab("overview");
  const tabs = [
    { id: "overview", label: "Overview" },
    { id: "logs", label: "Logs" },
    { id: "metrics", label: "Metrics" },
    { id: "outputs", label: "Outputs" },
    ...(type !== "command" ? [{ id: "children", label: type === "sweep" ? "Trials" : "Child jobs" }] : []),
  ];

  const act = async (what: "cancel" | "rerun") => {
    setActing(what);
    setActionError(undefined);
    try {
      if (what === "cancel") {
        await unwrap(api.POST("/api/v1/jobs/{name}/cancel", { params: { path: { name } } }));
        job.reload();
      } else {
        const made = await unwrap(api.POST("/api/v1/jobs/{name}/rerun", { params: { path: { name } } }));
        navigate(`/jobs/${encodeURIComponent(made.name ?? "")}`);
      }
    } catch (err) {
      setActionError(err);
    } finally {
      setActing(undefined);
    }
  };

  if (!j) {
    return (
      <>
        <PageHeader title={name} crumbs={[{ label: "Jobs", to: "/jobs" }]} />
        {job.error ? <ErrorBox error={job.error} title="This job could not be shown" /> : <Loading label="Loading the job" />}
      </>
    );
  }

  const running = !isTerminal(j.status);
  return (
    <>
      <PageHeader
        title={j.display_name || j.name}
        crumbs={[
          { label: "Jobs", to: "/jobs" },
          ...(j.parent_job_name ? [{ label: j.parent_job_name, to: `/jobs/${encodeURIComponent(j.parent_job_name)}` }] : []),
        ]}
        subtitle={
          <span className="job-head-meta">
            <StatusChip status={j.status} />
            <JobTypeBadge type={type} />
            <ReusedMark job={j} />
            <span className="mono">{j.name}</span>
            {j.started_at && <span>· {formatDuration(j.started_at, j.ended_at)}{running ? " so far" : ""}</span>}
          </span>
        }
        actions={
          <>
            {running && (
              <button className="btn btn-danger" disabled={!!acting || j.cancel_requested} onClick={() => act("cancel")}>
                {j.cancel_requested || j.status === "canceling" ? "Canceling…" : "Cancel"}
              </button>
            )}
            {!j.parent_job_name && (
              <button className="btn" disabled={!!acting} onClick={() => act("rerun")}>
                {acting === "rerun" ? "Submitting…" : "Rerun"}
              </button>
            )}
          </>
        }
      />
      <ErrorBox error={actionError} title="The action failed" />
      {j.status === "failed" && (
        <div className="error-box job-error" role="alert">
          <strong>
            This job failed{j.exit_code != null ? ` (exit code ${j.exit_code})` : ""}
          </strong>
          {j.error ? <pre className="code">{j.error}</pre> : <p>See its logs for why.</p>}
        </div>
      )}
      {j.waiting_reason && j.status === "queued" && (
        <div className="notice job-warnings" role="status">
          <strong>Waiting:</strong> {j.waiting_reason}
        </div>
      )}
      {type === "pipeline" && <PipelineJobView job={j as PipelineJob} onChange={job.reload} />}
      {type === "sweep" && <SweepJobView job={j as SweepJob} onChange={job.reload} />}
      <Tabs tabs={tabs} />
      {tab === "overview" && (
        <TabPanel id="overview">
          <JobOverview job={j as AnyJob} />
        </TabPanel>
      )}
      {tab === "logs" && (
        <TabPanel id="logs">
          <JobLogs name={j.name ?? name} />
        </TabPanel>
      )}
      {tab === "metrics" && (
        <TabPanel id="metrics">
          <JobMetrics name={j.name ?? name} running={running} />
        </TabPanel>
      )}
      {tab === "outputs" && (
        <TabPanel id="outputs">
          <JobOutputsTab job={j as Job} />
        </TabPanel>
      )}
      {tab === "children" && type !== "command" && (
        <TabPanel id="children">
          <JobChildren parent={j.name ?? name} running={running} />
        </TabPanel>
      )}
    </>
  );
}
