import type { PipelineJob } from "../../api/client";

/** The pipeline job's graph, on its job page (/jobs/<name>). */
export function PipelineJobView(_props: { job: PipelineJob; onChange: () => void }) {
  return null;
}
