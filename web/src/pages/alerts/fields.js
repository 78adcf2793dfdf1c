// Form inputs of the alert settings: each bound to a path in the draft, its error beside it.
import { html } from "../../lib/ui.js";

export function idOf(path) {
  return `as-${path.replace(/[^a-zA-Z0-9]+/g, "-")}`;
}

export function get(draft, path) {
  return path.split(".").reduce((node, key) => (node == null ? undefined : node[key]), draft);
}

function Described({ path, errors, label, children }) {
  const id = idOf(path);
  const error = errors[path];
  return html`<div class=${error ? "field invalid" : "field"}>
    <label for=${id}>${label}</label>
    ${children(id, error ? `${id}-error` : undefined)}
    ${error && html`<small class="error" role="alert" id=${`${id}-error`}>${error}</small>`}
  </div>`;
}

// A text or number input; `draft` holds what is typed, as text.
export function Input({ path, label, draft, set, errors, type = "text", ...rest }) {
  return html`<${Described} path=${path} errors=${errors} label=${label}>${(id, described) =>
    html`<input id=${id} name=${path} type=${type} value=${get(draft, path) ?? ""}
      aria-invalid=${described ? "true" : undefined} aria-describedby=${described}
      onInput=${(e) => set(path, e.currentTarget.value)} ...${rest} />`}<//>`;
}

export function Check({ path, label, draft, set, errors }) {
  const id = idOf(path);
  const error = errors[path];
  return html`<div class=${error ? "field check invalid" : "field check"}>
    <label for=${id}><input id=${id} type="checkbox" checked=${Boolean(get(draft, path))}
      onChange=${(e) => set(path, e.currentTarget.checked)} /> ${label}</label>
    ${error && html`<small class="error" role="alert">${error}</small>`}
  </div>`;
}

export function Select({ path, label, draft, set, errors, options }) {
  return html`<${Described} path=${path} errors=${errors} label=${label}>${(id, described) =>
    html`<select id=${id} value=${get(draft, path) ?? ""} aria-describedby=${described}
      onChange=${(e) => set(path, e.currentTarget.value)}>
      ${options.map(([value, text]) => html`<option value=${value}>${text}</option>`)}
    </select>`}<//>`;
}
