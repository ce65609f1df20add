import { PageHeader } from "../../components/ui";

export function AssetList(_props: { kind: string }) {
  return <PageHeader title="AssetList" />;
}
