// Every container in the engine, with its state and live resource use, and the images it can
// run, including loading one from a tarball without a registry.
import { api } from "../lib/api.js";
import { bytes, percent, when } from "../lib/format.js";
import { Badge, Card, ErrorNote, html, Page, Table, useApi, useEvents } from "../lib/ui.js";
import { ImageLoader } from "./containers/load.js";

const STATS_EVERY_MS = 5_000;

async function statsOf(containers) {
  const running = containers.filter((c) => c.status === "running");
  const answers = await Promise.all(running.map((c) => api(`/containers/${c.id}/stats`).catch(() => null)));
  return Object.fromEntries(running.map((c, i) => [c.id, answers[i]]));
}

export function Containers() {
  const list = useApi("/containers", { every: STATS_EVERY_MS });
  const containers = list.data?.containers || [];
  const stats = useApi(() => statsOf(containers), { every: STATS_EVERY_MS, deps: [containers.map((c) => c.id + c.status).join()] });
  const images = useApi("/images");
  useEvents("service:*", () => list.reload());

  const columns = [
    { title: "Name", render: (c) => html`<span class="mono">${c.name}</span>` },
    { title: "Image", render: (c) => html`<span class="mono">${c.image}</span>` },
    { title: "State", render: (c) => html`<${Badge} state=${c.status} /> <small class="hint">${c.status_text}</small>` },
    { title: "Service", render: (c) => (c.service ? html`<a href=${`#/services/${encodeURIComponent(c.service)}`}>${c.service}</a>` : c.managed ? "managed" : "not managed") },
    { title: "CPU", render: (c) => percent(stats.data?.[c.id]?.cpu_percent) },
    { title: "Memory", render: (c) => bytes(stats.data?.[c.id]?.memory_usage?.usage) },
    { title: "Ports", render: (c) => c.ports.filter((p) => p.public_port).map((p) => `${p.public_port}→${p.private_port}/${p.type}`).join(", ") || "–" },
  ];
  const imageColumns = [
    { title: "Tags", render: (i) => html`<span class="mono">${i.tags.length ? i.tags.join(", ") : "<none>"}</span>` },
    { title: "ID", render: (i) => html`<span class="mono">${i.id.replace(/^sha256:/, "").slice(0, 12)}</span>` },
    { title: "Size", render: (i) => bytes(i.size) },
    { title: "Created", render: (i) => when(i.created_at) },
  ];
  return html`<${Page} title="Containers">
    <${Card} wide>
      <${ErrorNote} error=${list.error} />
      <div class="listing"><${Table} caption="Containers" columns=${columns} rows=${containers} empty="No containers" /></div>
    <//>
    <${Card} title="Images" wide>
      <${ImageLoader} onLoaded=${images.reload} />
      <${ErrorNote} error=${images.error} />
      <div class="listing"><${Table} caption="Images in the engine" columns=${imageColumns} rows=${images.data?.images} empty="No images" /></div>
    <//>
  <//>`;
}
