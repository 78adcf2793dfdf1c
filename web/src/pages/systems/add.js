// Registering a system reached over SSH: with a password, or with the device's own key.
import { useState } from "preact/hooks";
import { html, Card, Action, Field, ErrorNote, useApi, notify } from "../../lib/ui.js";
import { api } from "../../lib/api.js";
import { session } from "../../lib/session.js";

const EMPTY = { name: "", hostname: "", port: "22", username: "", password: "", description: "" };

export function AddSystem({ onAdded }) {
  const [form, setForm] = useState(EMPTY);
  const [operators, setOperators] = useState(false);
  const [error, setError] = useState(null);
  const key = useApi(() => (session.isAdmin ? api("/systems/key") : null));
  if (!session.isAdmin) return null;

  const set = (field) => (e) => setForm({ ...form, [field]: e.currentTarget.value });
  const add = async () => {
    setError(null);
    const body = {
      name: form.name.trim(), hostname: form.hostname.trim(), username: form.username.trim(),
      port: Number(form.port) || 22, description: form.description, operators_allowed: operators,
    };
    if (form.password) body.password = form.password;
    try {
      const system = await api("/systems", { method: "POST", body });
      notify(`Added ${system.name}`);
      setForm(EMPTY);
      onAdded();
    } catch (err) {
      setError(err);
    }
  };
  const fields = error?.fields ?? {};
  const input = (field, label, props = {}) => html`<${Field} label=${label} id=${`system-${field}`}
    error=${fields[`body.${field}`]}>
    <input id=${`system-${field}`} value=${form[field]} onInput=${set(field)} ...${props} />
  <//>`;
  return html`<${Card} title="Add a system">
    <form onSubmit=${(e) => e.preventDefault()}>
      ${input("name", "Name")}
      ${input("hostname", "Host name or address")}
      ${input("port", "SSH port", { type: "number", min: 1, max: 65535 })}
      ${input("username", "User")}
      ${input("password", "Password (empty: the device's key)", { type: "password", autocomplete: "new-password" })}
      ${input("description", "Description")}
      <div class="check">
        <input type="checkbox" id="system-operators" checked=${operators}
          onChange=${(e) => setOperators(e.currentTarget.checked)} />
        <label for="system-operators">Operators may run commands on it</label>
      </div>
      <${ErrorNote} error=${error && !Object.keys(fields).length ? error : null} />
      <${Action} permission="admin" kind="primary" onClick=${add}>Add system<//>
    </form>
    ${key.data && html`<details class="key"><summary>The device's public key</summary>
      <p class="hint">Add it to the system's <code>authorized_keys</code> for key login.</p>
      <pre class="logs">${key.data.public_key}</pre></details>`}
  <//>`;
}
