// A service's log, followed live over `/ws/services/{name}/logs`: the last lines first, then
// each new line as the container writes it. Paused, lines are kept and shown on resume.
import { useEffect, useRef, useState } from "preact/hooks";
import { session } from "../../lib/session.js";
import { Card, html } from "../../lib/ui.js";

const TAIL = 200;
const KEEP = 1000;
const RETRY_MS = 2000;

// Log lines are plain text, one message each (lib/ws.js speaks JSON): a socket of its own,
// opened again while the page shows the service and the line stream ends (a restart).
function follow(path, onLine, onState) {
  let ws = null;
  let closed = false;
  let retry = null;
  const open = () => {
    const params = new URLSearchParams({ tail: String(TAIL), token: session.token || "" });
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(`${scheme}//${location.host}${path}?${params}`);
    ws.onopen = () => onState("open");
    ws.onmessage = (event) => onLine(String(event.data));
    ws.onclose = () => {
      onState("closed");
      if (!closed) retry = setTimeout(open, RETRY_MS);
    };
  };
  open();
  return {
    close() {
      closed = true;
      clearTimeout(retry);
      ws?.close(1000);
    },
  };
}

export function LiveLogs({ name, running }) {
  const [lines, setLines] = useState([]);
  const [paused, setPaused] = useState(false);
  const [state, setState] = useState("connecting");
  const [waiting, setWaiting] = useState(0);
  const held = useRef([]);
  const pausedRef = useRef(false);
  const box = useRef(null);
  pausedRef.current = paused;

  useEffect(() => {
    if (!running) return undefined;
    const ws = follow(`/ws/services/${encodeURIComponent(name)}/logs`, (line) => {
      held.current.push(line);
      if (pausedRef.current) setWaiting(held.current.length);
      else flush();
    }, (now) => {
      // Each connection starts again with the last lines: what was shown is replaced.
      if (now === "open") {
        held.current = [];
        setLines([]);
      }
      setState(now);
    });
    return () => ws.close();
  }, [name, running]);

  function flush() {
    const fresh = held.current;
    held.current = [];
    setWaiting(0);
    setLines((old) => [...old, ...fresh].slice(-KEEP));
  }

  useEffect(() => {
    if (!paused && held.current.length) flush();
  }, [paused]);

  useEffect(() => {
    const el = box.current;
    if (el && !paused) el.scrollTop = el.scrollHeight;
  }, [lines]);

  return html`<${Card} title="Logs" wide>
    <div class="row">
      <button type="button" class="btn" onClick=${() => setPaused(!paused)} aria-pressed=${paused}>
        ${paused ? "Resume" : "Pause"}</button>
      <span class="hint" role="status">${!running ? "Not running" : paused ? `Paused (${waiting} new)` : state === "open" ? "Following" : "Connecting…"}</span>
    </div>
    <pre class="logs" role="log" aria-label=${`Logs of ${name}`} tabindex="0" ref=${box} data-lines=${lines.length}>${lines.map((l) => `${l}\n`)}</pre>
  <//>`;
}
