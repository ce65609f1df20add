import type { SweepJob } from "../../api/client";

/** The sweep job's trials, best trial and parameter view, on its job page (/jobs/<name>). */
export function SweepJobView(_props: { job: SweepJob; onChange: () => void }) {
  return null;
}
