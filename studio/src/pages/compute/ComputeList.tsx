import { PageHeader } from "../../components/ui";

export function ComputeList() {
  return <PageHeader title="ComputeList" />;
}
