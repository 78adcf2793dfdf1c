import { html, Page } from "../lib/ui.js";

export function Alerts() {
  return html`<${Page} title="Alerts"><p>Coming soon.</p><//>`;
}
