import { html, Page } from "../lib/ui.js";

export function Users() {
  return html`<${Page} title="Users"><p>Coming soon.</p><//>`;
}
