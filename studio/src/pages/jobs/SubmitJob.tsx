import { PageHeader } from "../../components/ui";

export function SubmitJob() {
  return <PageHeader title="SubmitJob" />;
}
