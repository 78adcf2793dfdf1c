// WebSockets that come back: the access token rides in the query (a browser cannot set
// headers on a WebSocket), and a dropped socket is reopened with back-off.
import { session } from "./session.js";

export function socket(path, onMessage, { query = {}, onState } = {}) {
  let ws = null;
  let closed = false;
  let delay = 500;
  let retry = null;

  function open() {
    if (closed) return;
    const params = new URLSearchParams({ ...query, token: session.token || "" });
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(`${scheme}//${location.host}${path}?${params}`);
    let opened = false;
    ws.onopen = () => {
      opened = true;
      delay = 500;
      onState?.("open");
    };
    ws.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      onMessage(message);
    };
    ws.onclose = () => {
      onState?.("closed");
      // Refused before it opened: most likely the token expired; renew it before retrying.
      if (!opened && !closed) session.renew();
      if (!closed) {
        retry = setTimeout(open, delay);
        delay = Math.min(delay * 2, 10_000);
      }
    };
  }

  open();
  return {
    send(message) {
      if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
    },
    close() {
      closed = true;
      clearTimeout(retry);
      ws?.close(1000);
    },
  };
}
