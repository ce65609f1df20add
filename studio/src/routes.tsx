// Every studio route. The first path segments are the ones the server serves the studio at
// (src/forgeml/server/studio.py: SECTIONS); they never collide with /api, /docs or /endpoints.
import { lazy, Suspense, type ReactElement } from "react";
import { Navigate, Route, Routes } from "react-router-dom";
import { Loading } from "./components/ui";
import { NotFound } from "./pages/NotFound";

const load = {
  Home: () => import("./pages/home/Home"),
  JobsList: () => import("./pages/jobs/JobsList"),
  JobPage: () => import("./pages/jobs/JobPage"),
  SubmitJob: () => import("./pages/jobs/SubmitJob"),
  PipelinesList: () => import("./pages/pipelines/PipelinesList"),
  ComparePage: () => import("./pages/compare/ComparePage"),
  AssetList: () => import("./pages/assets/AssetList"),
  AssetVersions: () => import("./pages/assets/AssetVersions"),
  AssetVersionPage: () => import("./pages/assets/AssetVersionPage"),
  EndpointsList: () => import("./pages/endpoints/EndpointsList"),
  OnlineEndpointPage: () => import("./pages/endpoints/OnlineEndpointPage"),
  BatchEndpointPage: () => import("./pages/endpoints/BatchEndpointPage"),
  ComputeList: () => import("./pages/compute/ComputeList"),
  ComputePage: () => import("./pages/compute/ComputePage"),
};

/** Fetch every section's script once the first page is up, so that later pages open at once. */
export function prefetchSections(): void {
  const all = () => Object.values(load).forEach((get) => void get().catch(() => undefined));
  if ("requestIdleCallback" in window) window.requestIdleCallback(all, { timeout: 3000 });
  else setTimeout(all, 1500);
}

const Home = lazy(() => load.Home().then((m) => ({ default: m.Home })));
const JobsList = lazy(() => load.JobsList().then((m) => ({ default: m.JobsList })));
const JobPage = lazy(() => load.JobPage().then((m) => ({ default: m.JobPage })));
const SubmitJob = lazy(() => load.SubmitJob().then((m) => ({ default: m.SubmitJob })));
const PipelinesList = lazy(() => load.PipelinesList().then((m) => ({ default: m.PipelinesList })));
const ComparePage = lazy(() => load.ComparePage().then((m) => ({ default: m.ComparePage })));
const AssetList = lazy(() => load.AssetList().then((m) => ({ default: m.AssetList })));
const AssetVersions = lazy(() => load.AssetVersions().then((m) => ({ default: m.AssetVersions })));
const AssetVersionPage = lazy(() => load.AssetVersionPage().then((m) => ({ default: m.AssetVersionPage })));
const EndpointsList = lazy(() => load.EndpointsList().then((m) => ({ default: m.EndpointsList })));
const OnlineEndpointPage = lazy(() => load.OnlineEndpointPage().then((m) => ({ default: m.OnlineEndpointPage })));
const BatchEndpointPage = lazy(() => load.BatchEndpointPage().then((m) => ({ default: m.BatchEndpointPage })));
const ComputeList = lazy(() => load.ComputeList().then((m) => ({ default: m.ComputeList })));
const ComputePage = lazy(() => load.ComputePage().then((m) => ({ default: m.ComputePage })));

export type AssetKind = "data" | "models" | "environments" | "components";

const i = (d: string) => (
  <svg viewBox="0 0 24 24" width="18" height="18">
    <path fill="currentColor" d={d} />
  </svg>
);

export const NAV: { label: string; to?: string; icon?: ReactElement; section?: boolean }[] = [
  { label: "Home", to: "/", icon: i("M12 3 2 12h3v8h6v-5h2v5h6v-8h3z") },
  { label: "Authoring", section: true },
  { label: "Jobs", to: "/jobs", icon: i("M4 6h16v3H4zm0 5h16v3H4zm0 5h10v3H4z") },
  { label: "Pipelines", to: "/pipelines", icon: i("M5 4h5v5H5zm9 11h5v5h-5zM7 9h2v4h6v2H7z") },
  { label: "Components", to: "/components", icon: i("M4 4h7v7H4zm9 0h7v7h-7zM4 13h7v7H4zm9 0h7v7h-7z") },
  { label: "Assets", section: true },
  { label: "Data", to: "/data", icon: i("M12 3C7 3 4 4.6 4 6.5v11C4 19.4 7 21 12 21s8-1.6 8-3.5v-11C20 4.6 17 3 12 3zm0 2c3.9 0 6 1.1 6 1.5S15.9 8 12 8 6 6.9 6 6.5 8.1 5 12 5z") },
  { label: "Models", to: "/models", icon: i("M12 2 3 7v10l9 5 9-5V7zm0 2.3 6.5 3.6L12 11.5 5.5 7.9z") },
  { label: "Environments", to: "/environments", icon: i("M3 5h18v14H3zm2 2v10h14V7zm2 2h4v2H7z") },
  { label: "Manage", section: true },
  { label: "Endpoints", to: "/online-endpoints", icon: i("M4 11h10V7l6 5-6 5v-4H4z") },
  { label: "Compute", to: "/compute", icon: i("M6 4h12v6H6zm0 10h12v6H6zm2-8v2h2V6zm0 10v2h2v-2z") },
];

// each section is its own script, fetched when first opened: the first page runs only its own code
export function StudioRoutes() {
  return (
    <Suspense fallback={<Loading />}>
    <Routes>
      <Route path="/" element={<Home />} />
      <Route path="/home" element={<Navigate to="/" replace />} />
      <Route path="/jobs" element={<JobsList />} />
      <Route path="/jobs/:name" element={<JobPage />} />
      <Route path="/submit" element={<SubmitJob />} />
      <Route path="/pipelines" element={<PipelinesList />} />
      <Route path="/compare" element={<ComparePage />} />
      {(["data", "models", "environments", "components"] as AssetKind[]).map((kind) => [
        <Route key={kind} path={`/${kind}`} element={<AssetList kind={kind} />} />,
        <Route key={`${kind}-n`} path={`/${kind}/:name`} element={<AssetVersions kind={kind} />} />,
        <Route key={`${kind}-v`} path={`/${kind}/:name/:version`} element={<AssetVersionPage kind={kind} />} />,
      ])}
      <Route path="/online-endpoints" element={<EndpointsList />} />
      <Route path="/online-endpoints/:name" element={<OnlineEndpointPage />} />
      <Route path="/batch-endpoints" element={<EndpointsList batch />} />
      <Route path="/batch-endpoints/:name" element={<BatchEndpointPage />} />
      <Route path="/compute" element={<ComputeList />} />
      <Route path="/compute/:name" element={<ComputePage />} />
      <Route path="*" element={<NotFound />} />
    </Routes>
    </Suspense>
  );
}
