// Alerts and their settings: the list (live, acknowledging), desktop notifications for this
// browser, and the thresholds and channels of `alerts/settings`.
import "./alerts/alerts.css";
import { html, Page } from "../lib/ui.js";
import { AlertList } from "./alerts/list.js";
import { AlertSettings } from "./alerts/settings.js";
import { enableDesktopNotifications, usePermission } from "./notifications.js";

const SAYS = {
  granted: "Desktop notifications are on in this browser.",
  denied: "This browser blocks desktop notifications for this page.",
  unsupported: "This browser has no desktop notifications.",
};

function DesktopSwitch() {
  const permission = usePermission();
  if (permission === "default") {
    return html`<button type="button" class="btn" onClick=${() => enableDesktopNotifications()}>
      Enable desktop notifications</button>`;
  }
  return html`<span class="muted small" role="status">${SAYS[permission] || ""}</span>`;
}

export function Alerts() {
  return html`<${Page} title="Alerts" actions=${html`<${DesktopSwitch} />`}>
    <div class="grid">
      <${AlertList} />
      <${AlertSettings} />
    </div>
  <//>`;
}
