import { html, Page } from "../lib/ui.js";

export function Updates() {
  return html`<${Page} title="Updates"><p>Coming soon.</p><//>`;
}
