import { PageHeader } from "../../components/ui";

export function AssetVersionPage(_props: { kind: string }) {
  return <PageHeader title="AssetVersionPage" />;
}
