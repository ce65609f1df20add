import { PageHeader } from "../../components/ui";

export function OnlineEndpointPage() {
  return <PageHeader title="OnlineEndpointPage" />;
}
