// One service: its state, health, ports and dependencies, its live logs and configuration,
// and the controls to start, stop, change or remove it.
import { useState } from "preact/hooks";
import { bytes, duration, percent, when } from "../../lib/format.js";
import { Action, Badge, Card, ErrorNote, html, Page, useApi, useEvents } from "../../lib/ui.js";
import { session } from "../../lib/session.js";
import { ConfigCard } from "./config.js";
import { Controls, dependentsOf, runtimeOf } from "./controls.js";
import { DeletePanel } from "./delete.js";
import { formOf, InstallForm } from "./install.js";
import { LiveLogs } from "./logs.js";
import { UsageCard } from "./usage.js";

const STATUS_EVERY_MS = 5_000;

function Stat({ label, children }) {
  return html`<div class="stat"><span class="label">${label}</span><span class="value">${children}</span></div>`;
}

function Links({ names, none }) {
  if (!names?.length) return html`<span class="empty">${none}</span>`;
  return names.map((n, i) => html`${i ? ", " : ""}<a href=${`#/services/${encodeURIComponent(n)}`}>${n}</a>`);
}

export function ServiceDetail({ params }) {
  const name = params[0];
  const path = `/services/${encodeURIComponent(name)}`;
  const [editing, setEditing] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const service = useApi(path);
  const status = useApi(`${path}/status`, { every: STATUS_EVERY_MS });
  const all = useApi("/services");
  useEvents("service:*", (event) => {
    if (event.data?.service !== name && event.service !== name) return;
    service.reload();
    status.reload();
  });

  const s = service.data;
  if (!s) {
    return html`<${Page} title=${name}>
      ${service.error ? html`<${ErrorNote} error=${service.error} /><p><a href="#/services">All services</a></p>`
        : html`<p class="loading" role="status">Loading…</p>`}
    <//>`;
  }
  const reload = () => {
    service.reload();
    status.reload();
  };
  const container = status.data?.containers?.[0];
  const dependents = dependentsOf(name, all.data?.services);
  const actions = html`<${Controls} service=${{ ...s, status: status.data?.status ?? s.status }} onDone=${reload} />
    <${Action} permission="admin" onClick=${() => setEditing(!editing)}>Edit<//>
    <${Action} permission="admin" kind="danger" onClick=${() => setDeleting(!deleting)}>Delete<//>`;

  return html`<${Page} title=${name} actions=${actions}>
    <p><a href="#/services">All services</a></p>
    ${deleting && html`<${DeletePanel} name=${name} dependents=${dependents} onCancel=${() => setDeleting(false)} />`}
    ${editing && html`<${InstallForm} editing initial=${formOf(s)} services=${all.data?.services || []}
      onDone=${() => { setEditing(false); reload(); }} />`}
    <div class="grid">
      <${Card} title="Status">
        <div class="stats">
          <${Stat} label="State"><${Badge} state=${status.data?.status ?? s.status} /><//>
          <${Stat} label="Health"><${Badge} state=${status.data?.health ?? s.health?.status} /><//>
          <${Stat} label="Uptime">${duration(status.data?.uptime)}<//>
          <${Stat} label="Restarts">${status.data?.restarts ?? s.restarts}<//>
          <${Stat} label="CPU">${percent(container?.cpu)}<//>
          <${Stat} label="Memory">${bytes(container?.memory)}<//>
        </div>
        ${s.health?.error && html`<p class="note error">${s.health.error}</p>`}
      <//>
      <${Card} title="Details">
        <dl class="facts">
          <dt>Runtime</dt><dd>${runtimeOf(s)}</dd>
          <dt>Image</dt><dd class="mono">${s.image}</dd>
          <dt>Ports</dt><dd>${s.ports.length ? s.ports.join(", ") : "none"}</dd>
          <dt>Environment</dt><dd class="mono">${Object.keys(s.environment).length ? Object.entries(s.environment).map(([k, v]) => `${k}=${v}`).join(" ") : "none"}</dd>
          <dt>Volumes</dt><dd>${s.volumes.length ? s.volumes.join(", ") : "none"}</dd>
          <dt>Depends on</dt><dd><${Links} names=${s.depends_on} none="nothing" /></dd>
          <dt>Needed by</dt><dd><${Links} names=${dependents} none="no other service" /></dd>
          <dt>Updated</dt><dd>${when(s.updated_at)}</dd>
        </dl>
      <//>
      <${UsageCard} name=${name} />
      ${session.can("control") && html`<${LiveLogs} name=${name} running=${(status.data?.status ?? s.status) === "running"} />`}
      <${ConfigCard} name=${name} />
    </div>
  <//>`;
}
