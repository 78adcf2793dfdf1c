// The dashboard: sign-in, then one page per part of the device, chosen by the URL's hash so a
// reload or a shared link lands on the same page.
import "./styles.css";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { session } from "./lib/session.js";
import { html, Toasts } from "./lib/ui.js";
import { SignIn } from "./pages/signin.js";
import { Overview } from "./pages/overview.js";
import { Services, ServiceDetail } from "./pages/services.js";
import { Containers } from "./pages/containers.js";
import { Updates } from "./pages/updates.js";
import { Backups } from "./pages/backups.js";
import { Alerts } from "./pages/alerts.js";
import { Systems } from "./pages/systems.js";
import { Users } from "./pages/users.js";
import { useDesktopNotifications } from "./pages/notifications.js";

// [hash pattern, title, page, shown in the menu to whom]
const ROUTES = [
  [/^\/?$/, "Overview", Overview, "read"],
  [/^\/services\/([^/]+)$/, "Service", ServiceDetail, null],
  [/^\/services$/, "Services", Services, "read"],
  [/^\/containers$/, "Containers", Containers, "read"],
  [/^\/updates$/, "Updates", Updates, "read"],
  [/^\/backups$/, "Backups", Backups, "read"],
  [/^\/alerts$/, "Alerts", Alerts, "read"],
  [/^\/systems$/, "Systems & jobs", Systems, "read"],
  [/^\/users$/, "Users & keys", Users, "admin"],
];
const MENU = [
  ["#/", "Overview"],
  ["#/services", "Services"],
  ["#/containers", "Containers"],
  ["#/updates", "Updates"],
  ["#/backups", "Backups"],
  ["#/alerts", "Alerts"],
  ["#/systems", "Systems & jobs"],
  ["#/users", "Users & keys", "admin"],
];

function currentPath() {
  return decodeURIComponent(location.hash.replace(/^#/, "")) || "/";
}

function match(path) {
  for (const [pattern, title, Page, who] of ROUTES) {
    const found = pattern.exec(path);
    if (found) return { title, Page, who, params: found.slice(1) };
  }
  return null;
}

function Layout({ path, children }) {
  const [open, setOpen] = useState(false);
  const user = session.user;
  return html`<div class="shell">
    <a class="skip" href="#main">Skip to content</a>
    <header class="top">
      <button type="button" class="menu-toggle" aria-expanded=${open} aria-controls="nav"
        onClick=${() => setOpen(!open)}>Menu</button>
      <a class="brand" href="#/">Homei</a>
      <span class="who">${user.username} · ${user.role}</span>
      <button type="button" class="btn link" onClick=${() => session.signOut()}>Sign out</button>
    </header>
    <nav id="nav" class=${open ? "nav open" : "nav"} aria-label="Main">
      ${MENU.filter(([, , who]) => who !== "admin" || session.isAdmin).map(
        ([href, label]) => html`<a href=${href} onClick=${() => setOpen(false)}
          aria-current=${(href.slice(1) === path || (href !== "#/" && path.startsWith(href.slice(1)))) ? "page" : undefined}>${label}</a>`,
      )}
    </nav>
    <main id="main" tabindex="-1">${children}</main>
    <${Toasts} />
  </div>`;
}

function App() {
  const [user, setUser] = useState(undefined); // undefined: still asking; null: signed out
  const [path, setPath] = useState(currentPath());

  useEffect(() => {
    const off = session.subscribe(setUser);
    session.resume().then((ok) => ok || setUser(null));
    const onHash = () => setPath(currentPath());
    addEventListener("hashchange", onHash);
    return () => {
      off();
      removeEventListener("hashchange", onHash);
    };
  }, []);

  useDesktopNotifications(Boolean(user));

  if (user === undefined) return html`<p class="loading" role="status">Loading…</p>`;
  if (user === null) return html`<${SignIn} />`;

  const route = match(path);
  const allowed = route && (route.who !== "admin" || session.isAdmin);
  document.title = route ? `${route.title} · Homei` : "Homei";
  return html`<${Layout} path=${path}>
    ${allowed
      ? html`<${route.Page} key=${path} params=${route.params} />`
      : html`<section class="page"><h1>Not found</h1><p>No page at ${path}.</p></section>`}
  <//>`;
}

render(html`<${App} />`, document.getElementById("app"));
