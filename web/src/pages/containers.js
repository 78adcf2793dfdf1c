import { html, Page } from "../lib/ui.js";

export function Containers() {
  return html`<${Page} title="Containers"><p>Coming soon.</p><//>`;
}
