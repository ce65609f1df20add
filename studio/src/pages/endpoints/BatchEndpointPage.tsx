import { PageHeader } from "../../components/ui";

export function BatchEndpointPage() {
  return <PageHeader title="BatchEndpointPage" />;
}
