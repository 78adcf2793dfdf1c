// The overview's cards besides the charts: the device's health, firing alerts, the update,
// the last backup and the services by health.
import { html, Badge, Card, Empty, ErrorNote } from "../../lib/ui.js";
import { bytes, duration, when } from "../../lib/format.js";

export function Stat({ label, value, detail }) {
  return html`<div class="stat"><span class="label">${label}</span>
    <span class="value">${value}</span>${detail && html`<span class="detail">${detail}</span>`}</div>`;
}

export function DeviceCard({ health, status, info }) {
  const h = health.data;
  const s = status.data;
  const i = info.data;
  const deps = Object.entries(h?.dependencies || {});
  return html`<${Card} title="Device">
    <${ErrorNote} error=${health.error || status.error} />
    <dl class="facts">
      <dt>Health</dt><dd><${Badge} state=${h?.status ?? "unknown"} /></dd>
      <dt>Ready</dt><dd>${h ? (h.ready ? "yes" : "no") : "–"}</dd>
      <dt>Version</dt><dd>${s?.version ?? "–"}${s?.mode ? ` (${s.mode})` : ""}</dd>
      <dt>Up for</dt><dd>${duration(h?.uptime)}</dd>
      <dt>Host</dt><dd>${i ? `${i.hostname} · ${i.architecture} · ${i.cpu_count} cores` : "–"}</dd>
      <dt>Kernel</dt><dd>${i?.kernel ?? "–"}</dd>
    </dl>
    ${deps.length > 0 && html`<h3>Dependencies</h3>
      <ul class="plain deps">${deps.map(([name, dep]) => html`<li key=${name}>
        <span>${name}</span> <${Badge} state=${dep.status} />
        ${dep.status !== "healthy" && html`<small class="muted">${dep.message}</small>`}</li>`)}</ul>`}
  <//>`;
}

export function AlertsCard({ alerts }) {
  const list = alerts.data?.alerts || [];
  return html`<${Card} title="Firing alerts">
    <${ErrorNote} error=${alerts.error} />
    ${list.length === 0
      ? html`<${Empty}>No alert is firing.<//>`
      : html`<ul class="plain alerts">${list.map((a) => html`<li key=${a.id}>
          <${Badge} state=${a.level} /> <span>${a.message}</span>
          <small class="muted"> ${when(a.firedAt)}</small></li>`)}</ul>`}
    <a href="#/alerts">All alerts</a>
  <//>`;
}

export function UpdateCard({ update }) {
  const u = update.data;
  return html`<${Card} title="Update">
    <${ErrorNote} error=${update.error} />
    <dl class="facts">
      <dt>State</dt><dd><${Badge} state=${u?.operation ?? "unknown"} /></dd>
      ${u?.operation && u.operation !== "idle" && html`<dt>Progress</dt>
        <dd>${u.progress?.percentage ?? 0} % ${u.progress?.message || ""}</dd>`}
      <dt>Version</dt><dd>${u?.version || "–"}</dd>
      <dt>Booted</dt><dd>${u ? `${u.booted} (slot ${u.bootSlot})` : "–"}</dd>
      <dt>Primary</dt><dd>${u?.primary || "–"}</dd>
    </dl>
    ${u?.lastError && html`<p class="note error">${u.lastError}</p>`}
    <a href="#/updates">Updates</a>
  <//>`;
}

export function BackupCard({ backups }) {
  const list = [...(backups.data?.backups || [])].sort((a, b) =>
    String(b.created_at).localeCompare(String(a.created_at)));
  const last = list[0];
  return html`<${Card} title="Last backup">
    <${ErrorNote} error=${backups.error} />
    ${last
      ? html`<dl class="facts">
          <dt>Name</dt><dd>${last.name}</dd>
          <dt>Made</dt><dd>${when(last.created_at)}</dd>
          <dt>Size</dt><dd>${bytes(last.size)}</dd>
          <dt>Kind</dt><dd>${last.type || "–"}${last.encrypted ? ", encrypted" : ""}</dd>
        </dl>${last.problem && html`<p class="note error">${last.problem}</p>`}`
      : html`<${Empty}>No backup yet.<//>`}
    <a href="#/backups">Backups</a>
  <//>`;
}

export function ServicesCard({ services }) {
  const rows = services.data?.services || [];
  const counts = {};
  for (const row of rows) counts[row.status] = (counts[row.status] || 0) + 1;
  return html`<${Card} title="Services">
    <${ErrorNote} error=${services.error} />
    ${rows.length === 0
      ? html`<${Empty}>No service is installed.<//>`
      : html`<p class="row">${Object.entries(counts).map(([state, n]) =>
          html`<span key=${state}><${Badge} state=${state} /> ${n}</span>`)}</p>
        <ul class="plain">${rows.map((row) => html`<li key=${row.name}>
          <a href=${`#/services/${encodeURIComponent(row.name)}`}>${row.name}</a> <${Badge} state=${row.status} />
          ${row.error && html`<small class="muted"> ${row.error}</small>`}</li>`)}</ul>`}
    <a href="#/services">All services</a>
  <//>`;
}
