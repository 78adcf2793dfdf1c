// The services page: every service with its state, health and resource use, kept current by
// the service events; controls for those who may use them, and the install form.
import { useState } from "preact/hooks";
import { api } from "../lib/api.js";
import { bytes, percent } from "../lib/format.js";
import { Action, Badge, ErrorNote, html, Page, Table, useApi, useEvents } from "../lib/ui.js";
import { Controls, runtimeOf } from "./services/controls.js";
import { InstallForm } from "./services/install.js";

export { ServiceDetail } from "./services/detail.js";

const USAGE_EVERY_MS = 10_000;

// CPU and memory of each running service, from its status (the container's live use).
async function usageOf(services) {
  const running = services.filter((s) => s.status === "running");
  const answers = await Promise.all(running.map((s) =>
    api(`/services/${encodeURIComponent(s.name)}/status`).catch(() => null)));
  const out = {};
  for (const answer of answers) {
    const container = answer?.containers?.[0];
    if (container) out[answer.service] = { cpu: container.cpu, memory: container.memory };
  }
  return out;
}

export function Services() {
  const [installing, setInstalling] = useState(false);
  const list = useApi("/services");
  const services = list.data?.services || [];
  const usage = useApi(() => usageOf(services), { every: USAGE_EVERY_MS, deps: [services.map((s) => s.name + s.status).join()] });
  useEvents("service:*", () => list.reload());

  // State and actions come first: on a phone the rest is a scroll away.
  const columns = [
    { title: "Name", render: (s) => html`<a href=${`#/services/${encodeURIComponent(s.name)}`}>${s.name}</a>` },
    { title: "State", render: (s) => html`<${Badge} state=${s.status} />` },
    { title: "Actions", render: (s) => html`<${Controls} service=${s} onDone=${list.reload} />` },
    { title: "Health", render: (s) => html`<${Badge} state=${s.health?.status} />` },
    { title: "CPU", render: (s) => percent(usage.data?.[s.name]?.cpu) },
    { title: "Memory", render: (s) => bytes(usage.data?.[s.name]?.memory) },
    { title: "Runtime", render: runtimeOf },
  ];
  const done = (name) => {
    setInstalling(false);
    list.reload();
    if (name) location.hash = `#/services/${encodeURIComponent(name)}`;
  };

  return html`<${Page} title="Services" actions=${!installing && html`<${Action} permission="admin" kind="primary" onClick=${() => setInstalling(true)}>Install<//>`}>
    ${installing && html`<${InstallForm} services=${services} onDone=${done} />`}
    <${ErrorNote} error=${list.error} />
    ${list.loading ? html`<p class="loading" role="status">Loading…</p>`
      : html`<div class="listing"><${Table} caption="Services" columns=${columns} rows=${services} empty="No services installed yet" /></div>`}
  <//>`;
}
