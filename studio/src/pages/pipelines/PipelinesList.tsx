import { PageHeader } from "../../components/ui";

export function PipelinesList() {
  return <PageHeader title="PipelinesList" />;
}
