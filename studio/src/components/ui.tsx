// Small building blocks every page shares: header, status chips, empty and error states,
// key/value lists, tabs kept in the URL, and a loading placeholder.
import type { ReactNode } from "react";
import { Link } from "react-router-dom";
import { useQueryParam } from "../lib/hooks";

export function PageHeader(props: {
  title: ReactNode;
  crumbs?: { label: string; to: string }[];
  actions?: ReactNode;
  subtitle?: ReactNode;
}) {
  return (
    <header className="page-header">
      {props.crumbs && props.crumbs.length > 0 && (
        <nav aria-label="Breadcrumb" className="crumbs">
          {props.crumbs.map((c) => (
            <span key={c.to}>
              <Link to={c.to}>{c.label}</Link>
              <span aria-hidden="true"> / </span>
            </span>
          ))}
        </nav>
      )}
      <div className="page-title-row">
        <h1>{props.title}</h1>
        {props.actions && <div className="actions">{props.actions}</div>}
      </div>
      {props.subtitle && <p className="subtitle">{props.subtitle}</p>}
    </header>
  );
}

const STATUS_TONE: Record<string, string> = {
  completed: "ok",
  succeeded: "ok",
  ready: "ok",
  running: "run",
  updating: "run",
  creating: "run",
  preparing: "run",
  starting: "run",
  queued: "wait",
  pending: "wait",
  not_started: "wait",
  failed: "bad",
  canceled: "muted",
  cancelled: "muted",
  canceling: "muted",
  deleting: "muted",
  reused: "info",
  skipped: "muted",
};

export function StatusChip({ status }: { status?: string | null }) {
  const s = (status ?? "unknown").toLowerCase();
  return (
    <span className={`chip chip-${STATUS_TONE[s] ?? "muted"}`} data-status={s}>
      <span className="dot" aria-hidden="true" />
      {s.replace(/_/g, " ")}
    </span>
  );
}

export function Empty(props: { title: string; children?: ReactNode }) {
  return (
    <div className="empty" role="status">
      <svg width="40" height="40" viewBox="0 0 24 24" aria-hidden="true">
        <path
          fill="currentColor"
          d="M4 5h16v2H4zm0 6h16v2H4zm0 6h10v2H4z"
          opacity=".35"
        />
      </svg>
      <p className="empty-title">{props.title}</p>
      {props.children && <div className="empty-body">{props.children}</div>}
    </div>
  );
}

export function ErrorBox({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  return (
    <div className="error-box" role="alert">
      <strong>{title ?? "Something went wrong"}</strong>
      <p>{message}</p>
    </div>
  );
}

export function Loading({ label = "Loading" }: { label?: string }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}…
    </div>
  );
}

export function KeyValues({ items }: { items: [string, ReactNode][] }) {
  return (
    <dl className="kv">
      {items.map(([k, v]) => (
        <div key={k} className="kv-row">
          <dt>{k}</dt>
          <dd>{v ?? "—"}</dd>
        </div>
      ))}
    </dl>
  );
}

export function Card(props: { title?: ReactNode; children: ReactNode; actions?: ReactNode; className?: string }) {
  return (
    <section className={`card ${props.className ?? ""}`}>
      {(props.title || props.actions) && (
        <div className="card-head">
          {props.title && <h2>{props.title}</h2>}
          {props.actions}
        </div>
      )}
      {props.children}
    </section>
  );
}

/** Tabs whose selection lives in the URL (`?tab=`), so a link opens the same tab. */
export function Tabs(props: { tabs: { id: string; label: string }[]; param?: string }) {
  const [tab, setTab] = useQueryParam(props.param ?? "tab", props.tabs[0]?.id ?? "");
  return (
    <div role="tablist" className="tabs" aria-label="Sections">
      {props.tabs.map((t) => (
        <button
          key={t.id}
          role="tab"
          id={`tab-${t.id}`}
          aria-selected={tab === t.id}
          aria-controls={`panel-${t.id}`}
          tabIndex={tab === t.id ? 0 : -1}
          className={tab === t.id ? "tab active" : "tab"}
          onClick={() => setTab(t.id)}
          onKeyDown={(e) => {
            const i = props.tabs.findIndex((x) => x.id === tab);
            const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
            if (!step) return;
            const next = props.tabs[(i + step + props.tabs.length) % props.tabs.length];
            setTab(next.id);
            document.getElementById(`tab-${next.id}`)?.focus();
          }}
        >
          {t.label}
        </button>
      ))}
    </div>
  );
}

export function useTab(first: string, param = "tab"): string {
  return useQueryParam(param, first)[0];
}

export function TabPanel(props: { id: string; children: ReactNode }) {
  return (
    <div role="tabpanel" id={`panel-${props.id}`} aria-labelledby={`tab-${props.id}`} className="tab-panel">
      {props.children}
    </div>
  );
}

export function Tag({ k, v }: { k: string; v?: string | null }) {
  return (
    <span className="tag">
      {k}
      {v ? <>=<b>{v}</b></> : null}
    </span>
  );
}

export function Code({ children }: { children: ReactNode }) {
  return <pre className="code">{children}</pre>;
}
