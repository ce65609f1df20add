import { PageHeader } from "../../components/ui";

export function AssetVersions(_props: { kind: string }) {
  return <PageHeader title="AssetVersions" />;
}
