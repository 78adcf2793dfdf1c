import { html, Page } from "../lib/ui.js";

export function Systems() {
  return html`<${Page} title="Systems"><p>Coming soon.</p><//>`;
}
