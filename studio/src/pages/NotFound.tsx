import { Link } from "react-router-dom";
import { Empty, PageHeader } from "../components/ui";

export function NotFound() {
  return (
    <>
      <PageHeader title="Page not found" />
      <Empty title="There is no studio page at this address.">
        <Link to="/">Go to the home page</Link>
      </Empty>
    </>
  );
}
