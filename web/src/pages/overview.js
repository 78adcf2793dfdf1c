// The overview: the device's figures now and over the last 15 minutes (live), its health,
// firing alerts, the update, the last backup and the services by health.
import "./overview/overview.css";
import { useEffect, useRef } from "preact/hooks";
import { html, Badge, Card, Page, useApi, useEvents } from "../lib/ui.js";
import { Chart } from "../lib/chart.js";
import { bytes, percent } from "../lib/format.js";
import { useLiveMetrics } from "./overview/live.js";
import { AlertsCard, BackupCard, DeviceCard, ServicesCard, Stat, UpdateCard } from "./overview/cards.js";

// Things that change by themselves (uptime, dependencies) are looked at again this often;
// everything else follows events.
const HEALTH_EVERY_MS = 30_000;
// A card whose read failed (the device busy, a dependency restarting) tries again this often.
const RETRY_MS = 10_000;
const EVENTS = [
  "update:started", "update:completed", "update:failed", "update:rolled_back", "update:verified",
  "update:rejected", "backup:completed", "backup:deleted", "backup:uploaded", "backup:restored",
  "service:installed", "service:uninstalled",
];

// 002 gives network speeds in MB/s; people read small ones better in KiB/s.
function speed(value) {
  return value === null || value === undefined ? "–" : `${bytes(value * 1024 * 1024)}/s`;
}

function Figures({ latest }) {
  const cpu = latest?.cpu;
  const memory = latest?.memory;
  const disk = latest?.disk;
  const network = latest?.network;
  const temperature = cpu?.temperature;
  return html`<div class="stats big" aria-live="off">
    <${Stat} label="CPU" value=${percent(cpu?.usage)} detail=${cpu && `load ${cpu.load.map((l) => l.toFixed(2)).join(" ")}`} />
    <${Stat} label="Memory" value=${percent(memory?.usage)} detail=${memory && `${memory.used} of ${memory.total} GB`} />
    <${Stat} label="Disk" value=${percent(disk?.usage)} detail=${disk && `${disk.free} GB free`} />
    <${Stat} label="Temperature" value=${temperature === null || temperature === undefined ? "–" : `${temperature.toFixed(1)} °C`}
      detail=${latest && (temperature === null || temperature === undefined) ? "no sensor" : undefined} />
    <${Stat} label="Network in" value=${speed(network?.download_speed)} />
    <${Stat} label="Network out" value=${speed(network?.upload_speed)} />
  </div>`;
}

function Charts({ live }) {
  const { series: s } = live;
  const hasTemperature = s.temperature.some((v) => v !== null);
  return html`<div class="charts" data-points=${s.times.length}>
    <${Chart} title="CPU use (%)" times=${s.times} series=${[{ label: "CPU", values: s.cpu }]} unit="%" max=${100} />
    <${Chart} title="Memory use (%)" times=${s.times} series=${[{ label: "Memory", values: s.memory }]} unit="%" max=${100} />
    <${Chart} title="Disk use (%)" times=${s.times} series=${[{ label: "Disk", values: s.disk }]} unit="%" max=${100} />
    ${hasTemperature && html`<${Chart} title="Temperature (°C)" times=${s.times}
      series=${[{ label: "Temperature", values: s.temperature }]} unit="°" />`}
    <${Chart} title="Network (KiB/s)" times=${s.times} unit=""
      series=${[{ label: "In", values: s.rx }, { label: "Out", values: s.tx }]} />
  </div>`;
}

export function Overview() {
  // The socket first: its first message is what the page is waited on for.
  const live = useLiveMetrics((message) => {
    if (message.type === "alert") alerts.reload();
    else services.reload();
  });
  const health = useApi("/health/detailed", { every: HEALTH_EVERY_MS });
  const status = useApi("/status", { every: HEALTH_EVERY_MS });
  const info = useApi("/system/info");
  const alerts = useApi("/alerts", { query: { state: "firing", limit: 10 } });
  const update = useApi("/update/status");
  const backups = useApi("/backups");
  const services = useApi("/api/v1/health/services");

  const sources = useRef([]);
  sources.current = [health, status, info, alerts, update, backups, services];
  useEffect(() => {
    const id = setInterval(() => {
      for (const source of sources.current) if (source.error) source.reload();
    }, RETRY_MS);
    return () => clearInterval(id);
  }, []);
  useEvents(EVENTS, (event) => {
    if (event.type.startsWith("update:")) update.reload();
    else if (event.type.startsWith("backup:")) backups.reload();
    else services.reload();
  });

  const state = live.state === "open" ? "live" : live.state === "closed" ? "reconnecting" : "connecting";
  const at = live.latest ? new Date(live.latest.timestamp) : null;
  return html`<${Page} title="Overview" actions=${html`<span class="live-state">
      <${Badge} state=${state} /></span>`}>
    <div class="grid">
      <${Card} title="Now" wide>
        <${Figures} latest=${live.latest} />
        <p class="muted small" id="live-updated">${at ? `Updated ${at.toLocaleTimeString()}` : "Waiting for figures…"}</p>
      <//>
      <${Card} title="Last 15 minutes" wide><${Charts} live=${live} /><//>
      <${DeviceCard} health=${health} status=${status} info=${info} />
      <${AlertsCard} alerts=${alerts} />
      <${ServicesCard} services=${services} />
      <${UpdateCard} update=${update} />
      <${BackupCard} backups=${backups} />
    </div>
  <//>`;
}
