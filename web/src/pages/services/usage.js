// A service's CPU and memory over the last hour, from the samples Homei takes of it.
import { Chart } from "../../lib/chart.js";
import { Card, Empty, html, useApi } from "../../lib/ui.js";

const EVERY_MS = 30_000;
const MIB = 1024 * 1024;

export function UsageCard({ name }) {
  const metrics = useApi(`/services/${encodeURIComponent(name)}/metrics`, { query: { period: "1h", resolution: "1m" }, every: EVERY_MS });
  const m = metrics.data?.metrics;
  const cpu = m?.cpu?.data || [];
  const times = cpu.map((p) => Date.parse(p.timestamp) / 1000);
  const memory = (m?.memory?.data || []).map((p) => (p.value ?? 0) / MIB);
  return html`<${Card} title="Resource use, last hour">
    ${cpu.length
      ? html`<${Chart} title="CPU" unit=" %" times=${times} series=${[{ label: "CPU", values: cpu.map((p) => p.value ?? 0) }]} />
        <${Chart} title="Memory" unit=" MiB" times=${times} series=${[{ label: "Memory", values: memory }]} />`
      : html`<${Empty}>No samples yet: they are taken while the service runs.<//>`}
  <//>`;
}
