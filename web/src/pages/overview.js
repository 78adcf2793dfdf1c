import { html, Page } from "../lib/ui.js";

export function Overview() {
  return html`<${Page} title="Overview"><p>Coming soon.</p><//>`;
}
