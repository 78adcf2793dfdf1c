// The overview's live figures: the last 15 minutes from `/metrics/history`, then one point per
// sample from `/ws/monitoring`. The series are plain arrays grown in place (uPlot reads them
// as they are); `version` changes with each point so the page redraws.
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../../lib/api.js";
import { socket } from "../../lib/ws.js";

export const WINDOW_S = 15 * 60;
const NAMES = ["cpu", "memory", "disk", "temperature", "rx", "tx"];

function emptySeries() {
  return Object.fromEntries([["times", []], ...NAMES.map((n) => [n, []])]);
}

function seconds(iso) {
  return Date.parse(iso) / 1000;
}

function kib(mb) {
  return mb === null || mb === undefined ? null : mb * 1024;
}

// A point of the socket's `metrics` message (002's figures; speeds in MB/s, kept in KiB/s).
function livePoint(figures) {
  return {
    cpu: figures.cpu?.usage ?? null,
    memory: figures.memory?.usage ?? null,
    disk: figures.disk?.usage ?? null,
    temperature: figures.cpu?.temperature ?? null,
    rx: kib(figures.network?.download_speed),
    tx: kib(figures.network?.upload_speed),
  };
}

// A point of the history (network is not kept there: it starts with the live points).
function pastPoint(point) {
  return {
    cpu: point.cpu?.usage ?? null,
    memory: point.memory?.usage ?? null,
    disk: point.disk?.usage ?? null,
    temperature: point.cpu?.temperature ?? null,
    rx: null,
    tx: null,
  };
}

// `{ series, latest, state, version }`; `onEvent(message)` gets the socket's `alert` and
// `status` messages.
export function useLiveMetrics(onEvent) {
  const series = useRef(emptySeries());
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const [latest, setLatest] = useState(null);
  const [state, setState] = useState("connecting");
  const [version, setVersion] = useState(0);

  useEffect(() => {
    let stopped = false;
    series.current = emptySeries();
    const s = series.current;

    const append = (at, point) => {
      if (s.times.length && at <= s.times[s.times.length - 1]) return;
      s.times.push(at);
      for (const name of NAMES) s[name].push(point[name]);
      let drop = 0;
      while (drop < s.times.length && s.times[drop] < at - WINDOW_S) drop += 1;
      if (drop) for (const key of Object.keys(s)) s[key].splice(0, drop);
    };

    // Older points go in front of whatever the socket has brought meanwhile.
    const seed = (points) => {
      const first = s.times.length ? s.times[0] : Infinity;
      const past = points
        .map((p) => [seconds(p.timestamp), pastPoint(p)])
        .filter(([at]) => at < first && Number.isFinite(at));
      s.times.unshift(...past.map(([at]) => at));
      for (const name of NAMES) s[name].unshift(...past.map(([, p]) => p[name]));
      setVersion((v) => v + 1);
    };

    const start = new Date(Date.now() - WINDOW_S * 1000).toISOString();
    api("/metrics/history", { query: { start, resolution: "5s" } })
      .then((answer) => stopped || seed(answer.metrics || []))
      .catch(() => {}); // the live points alone still make a chart

    const ws = socket(
      "/ws/monitoring",
      (message) => {
        if (message.type === "metrics") {
          append(seconds(message.timestamp), livePoint(message.data));
          setLatest({ ...message.data, timestamp: message.timestamp });
          setVersion((v) => v + 1);
        } else if (message.type === "alert" || message.type === "status") {
          handler.current?.(message);
        }
      },
      { onState: setState },
    );
    return () => {
      stopped = true;
      ws.close();
    };
  }, []);

  return { series: series.current, latest, state, version };
}
