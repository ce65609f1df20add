import { PageHeader } from "../../components/ui";

export function JobPage() {
  return <PageHeader title="JobPage" />;
}
