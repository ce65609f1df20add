import { PageHeader } from "../../components/ui";

export function ComputePage() {
  return <PageHeader title="ComputePage" />;
}
