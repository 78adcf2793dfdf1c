import { html, Page } from "../lib/ui.js";

export function Backups() {
  return html`<${Page} title="Backups"><p>Coming soon.</p><//>`;
}
