import { html, Page } from "../lib/ui.js";

export function Services() {
  return html`<${Page} title="Services"><p>Coming soon.</p><//>`;
}

export function ServiceDetail({ params }) {
  return html`<${Page} title=${params[0]}><p>Coming soon.</p><//>`;
}
