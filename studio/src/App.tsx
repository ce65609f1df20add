// The studio's frame: a skip link, the left navigation, the top bar with the theme switch, and
// the page for the current route (routes.tsx).
import { useEffect, useRef, useState } from "react";
import { NavLink, useLocation } from "react-router-dom";
import { StudioRoutes, NAV, prefetchSections } from "./routes";

function useTheme(): [string, () => void] {
  const [theme, setTheme] = useState(document.documentElement.dataset.theme ?? "light");
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);
  return [
    theme,
    () => {
      const next = theme === "dark" ? "light" : "dark";
      localStorage.setItem("forgeml-theme", next);
      setTheme(next);
    },
  ];
}

export function App() {
  const [theme, toggle] = useTheme();
  const location = useLocation();
  const first = useRef(true);
  useEffect(prefetchSections, []);
  useEffect(() => {
    // a new page (not the first one): move the focus to its content, as a screen reader expects
    if (first.current) {
      first.current = false;
      return;
    }
    document.getElementById("main")?.focus({ preventScroll: true });
  }, [location.pathname]);
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <aside className="sidebar">
        <div className="sidebar-inner">
        <div className="brand">
          <img src="/favicon.svg" alt="" width="26" height="26" />
          <span>forgeml</span>
          <span className="brand-sub">studio</span>
        </div>
        <nav aria-label="Workspace">
          <ul>
            {NAV.map((item) =>
              item.section ? (
                <li key={item.label} className="nav-section">
                  {item.label}
                </li>
              ) : (
                <li key={item.to}>
                  <NavLink to={item.to!} end={item.to === "/"} className="nav-link">
                    <span className="nav-icon" aria-hidden="true">
                      {item.icon}
                    </span>
                    {item.label}
                  </NavLink>
                </li>
              ),
            )}
          </ul>
        </nav>
        </div>
      </aside>
      <div className="main-col">
        <header className="topbar">
          <span className="workspace">Workspace · local</span>
          <div className="topbar-actions">
            <a href="/docs" className="btn btn-ghost">
              API
            </a>
            <button
              className="btn btn-ghost"
              onClick={toggle}
              aria-label={theme === "dark" ? "Use the light theme" : "Use the dark theme"}
            >
              {theme === "dark" ? "☀ Light" : "☾ Dark"}
            </button>
          </div>
        </header>
        <main id="main" tabIndex={-1}>
          <StudioRoutes />
        </main>
      </div>
    </div>
  );
}
