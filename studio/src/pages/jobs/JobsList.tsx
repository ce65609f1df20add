import { PageHeader } from "../../components/ui";

export function JobsList() {
  return <PageHeader title="JobsList" />;
}
