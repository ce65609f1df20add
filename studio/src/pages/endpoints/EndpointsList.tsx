import { PageHeader } from "../../components/ui";

export function EndpointsList(_props: { batch?: boolean }) {
  return <PageHeader title="EndpointsList" />;
}
