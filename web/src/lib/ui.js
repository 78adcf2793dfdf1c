// Shared pieces of every page: `html` (htm bound to Preact), data hooks, and small components.
// Values from the API are only ever children or attributes, which Preact renders as text.
import { h } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import htm from "htm";
import { api } from "./api.js";
import { session } from "./session.js";
import { socket } from "./ws.js";

export const html = htm.bind(h);

// Loads `path` (or runs `load`) now and whenever `deps` change or `reload()` is called.
// `every` (ms) refreshes it on a timer while the page is visible.
export function useApi(path, { query, every, deps = [] } = {}) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const key = path + JSON.stringify(query || {});
  const reload = useCallback(async () => {
    try {
      const data = typeof path === "function" ? await path() : await api(path, { query });
      setState({ data, error: null, loading: false });
    } catch (error) {
      setState((s) => ({ data: s.data, error, loading: false }));
    }
  }, [key, ...deps]);
  useEffect(() => {
    reload();
    if (!every) return undefined;
    const id = setInterval(() => document.visibilityState === "visible" && reload(), every);
    return () => clearInterval(id);
  }, [reload, every]);
  return { ...state, reload };
}

// Calls `onEvent(event)` for each event on `/ws/events` matching `types`: globs such as
// "service:*" or "task:*" (a string or a list), filtered by the server. The socket closes
// with the component.
export function useEvents(types, onEvent) {
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const globs = (Array.isArray(types) ? types : [types]).join(",");
  useEffect(() => {
    const ws = socket("/ws/events", (message) => {
      if (message.type && message.type !== "connected") handler.current(message);
    }, { query: { types: globs } });
    return () => ws.close();
  }, [globs]);
}

// Follows a task (`task-…`) until it ends; `{ task, done }`.
export function useTask(taskId) {
  const [task, setTask] = useState(null);
  useEffect(() => {
    if (!taskId) return undefined;
    let stop = false;
    let timer = null;
    const poll = async () => {
      try {
        const current = await api(`/tasks/${taskId}`);
        if (stop) return;
        setTask(current);
        if (isFinal(current.status)) return;
      } catch {
        // A passing failure: the next poll tries again.
      }
      timer = setTimeout(poll, 700);
    };
    poll();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [taskId]);
  return { task, done: Boolean(task && isFinal(task.status)) };
}

export function isFinal(status) {
  return ["completed", "succeeded", "failed", "cancelled", "canceled"].includes(status);
}

export function Page({ title, actions, children }) {
  return html`<section class="page">
    <header class="page-head"><h1>${title}</h1><div class="actions">${actions}</div></header>
    ${children}
  </section>`;
}

export function Card({ title, children, wide, id }) {
  return html`<section class=${wide ? "card wide" : "card"} aria-label=${title} id=${id}>
    ${title && html`<h2>${title}</h2>`}${children}
  </section>`;
}

// A button shown only to callers whose role has `permission` ("control" unless said; "admin"
// for admin-only acts, "read" for what anyone may do); a viewer sees no buttons it
// cannot use. While `onClick`'s promise runs it is disabled.
export function Action({ permission = "control", onClick, children, kind = "", label, disabled }) {
  const [busy, setBusy] = useState(false);
  if (permission && !session.can(permission)) return null;
  const run = async (event) => {
    setBusy(true);
    try {
      await onClick(event);
    } catch (error) {
      notify(error.message || String(error), "error");
    } finally {
      setBusy(false);
    }
  };
  return html`<button type="button" class=${`btn ${kind}`} onClick=${run}
    disabled=${busy || disabled} aria-label=${label}>${children}</button>`;
}

export function Field({ label, error, hint, children, id }) {
  return html`<div class=${error ? "field invalid" : "field"}>
    <label for=${id}>${label}</label>
    ${children}
    ${hint && !error && html`<small class="hint">${hint}</small>`}
    ${error && html`<small class="error" role="alert" id=${id && `${id}-error`}>${error}</small>`}
  </div>`;
}

export function Progress({ value, label }) {
  const pct = Math.max(0, Math.min(100, Math.round((value ?? 0) * 100)));
  return html`<div class="progress" role="progressbar" aria-label=${label || "Progress"}
    aria-valuemin="0" aria-valuemax="100" aria-valuenow=${pct}>
    <div class="bar" style=${{ width: `${pct}%` }}></div><span>${pct} %</span>
  </div>`;
}

export function Badge({ state }) {
  const text = String(state ?? "unknown");
  return html`<span class=${`badge ${badgeKind(text)}`}>${text}</span>`;
}

function badgeKind(text) {
  const t = text.toLowerCase();
  if (["healthy", "running", "active", "good", "ok", "completed", "succeeded", "ready", "resolved"].includes(t)) return "ok";
  if (["unhealthy", "failed", "dead", "bad", "error", "critical", "firing", "exited"].includes(t)) return "bad";
  if (["starting", "pending", "running-task", "warning", "degraded", "installing", "restarting"].includes(t)) return "warn";
  return "idle";
}

export function ErrorNote({ error }) {
  if (!error) return null;
  return html`<p class="note error" role="alert">${error.message || String(error)}</p>`;
}

export function Empty({ children }) {
  return html`<p class="empty">${children}</p>`;
}

export function Table({ columns, rows, empty = "Nothing here yet", caption }) {
  if (!rows?.length) return html`<${Empty}>${empty}<//>`;
  return html`<div class="table-wrap"><table>
    ${caption && html`<caption>${caption}</caption>`}
    <thead><tr>${columns.map((c) => html`<th scope="col">${c.title}</th>`)}</tr></thead>
    <tbody>${rows.map((row, i) => html`<tr key=${row.id ?? row.name ?? i}>
      ${columns.map((c) => html`<td data-title=${c.title}>${c.render ? c.render(row) : row[c.key]}</td>`)}
    </tr>`)}</tbody>
  </table></div>`;
}

// Toasts: `notify("Saved")`; the layout shows them.
const toastListeners = new Set();
export function notify(message, kind = "info") {
  for (const listener of toastListeners) listener({ message, kind, id: Math.random() });
}

export function Toasts() {
  const [toasts, setToasts] = useState([]);
  useEffect(() => {
    const add = (toast) => {
      setToasts((list) => [...list, toast]);
      setTimeout(() => setToasts((list) => list.filter((t) => t.id !== toast.id)), 6000);
    };
    toastListeners.add(add);
    return () => toastListeners.delete(add);
  }, []);
  return html`<div class="toasts" role="status" aria-live="polite">
    ${toasts.map((t) => html`<div key=${t.id} class=${`toast ${t.kind}`}>${t.message}</div>`)}
  </div>`;
}

// Asks before something that cannot be undone.
export function confirmed(question) {
  return window.confirm(question);
}
