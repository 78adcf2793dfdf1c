// Choosing the parts of a backup: Homei's own state and each service.
import { html } from "../../lib/ui.js";

export function PartsChooser({ idPrefix, services, chosen, onChange, legend = "Parts" }) {
  const toggle = (name) => {
    const next = new Set(chosen);
    if (next.has(name)) next.delete(name);
    else next.add(name);
    onChange(next);
  };
  const options = [["homei", "Homei (settings and database)"], ...services.map((s) => [`service:${s}`, s])];
  return html`<fieldset class="parts">
    <legend>${legend}</legend>
    ${options.map(([value, label], i) => html`<div class="check" key=${value}>
      <input type="checkbox" id=${`${idPrefix}-${i}`} checked=${chosen.has(value)}
        onChange=${() => toggle(value)} />
      <label for=${`${idPrefix}-${i}`}>${label}</label>
    </div>`)}
  </fieldset>`;
}

// The request's `homei` and `services` for the chosen parts.
export function partsRequest(chosen) {
  return {
    homei: chosen.has("homei"),
    services: [...chosen].filter((p) => p.startsWith("service:")).map((p) => p.slice(8)),
  };
}
