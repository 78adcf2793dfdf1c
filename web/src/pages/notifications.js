// The browser's desktop notifications for alerts (seed 002's `desktop` channel: the daemon
// publishes `alert:*` events for the alerts that channel shows). Permission is asked once,
// only when the user presses the button on the alerts page, never on load.
import { useEffect, useState } from "preact/hooks";
import { socket } from "../lib/ws.js";

const listeners = new Set();

export function desktopSupport() {
  return typeof window !== "undefined" && "Notification" in window;
}

// "granted", "denied", "default" (not asked yet) or "unsupported".
export function desktopPermission() {
  return desktopSupport() ? Notification.permission : "unsupported";
}

// Asks the browser, from a click; every hook learns the answer.
export async function enableDesktopNotifications() {
  if (!desktopSupport()) return "unsupported";
  const answer = await Notification.requestPermission();
  for (const listener of listeners) listener(answer);
  return answer;
}

export function usePermission() {
  const [permission, setPermission] = useState(desktopPermission());
  useEffect(() => {
    listeners.add(setPermission);
    return () => listeners.delete(setPermission);
  }, []);
  return permission;
}

// While signed in with the permission granted: a notification for each alert that fires.
export function useDesktopNotifications(signedIn) {
  const permission = usePermission();
  useEffect(() => {
    if (!signedIn || permission !== "granted") return undefined;
    const shown = new Set();
    const ws = socket("/ws/events", (event) => {
      if (event.type !== "alert:firing" || !event.data || shown.has(event.data.id)) return;
      shown.add(event.data.id);
      const alert = event.data;
      const note = new Notification(`Homei: ${alert.level} alert`, {
        body: alert.message,
        tag: alert.id,
      });
      note.onclick = () => {
        window.focus();
        location.hash = "#/alerts";
      };
    }, { query: { types: "alert:firing" } });
    return () => ws.close();
  }, [signedIn, permission]);
}
