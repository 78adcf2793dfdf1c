// API keys: create one (its secret shown once, with a copy button), list them, revoke one.
import { useState } from "preact/hooks";
import { html, Card, Action, ErrorNote, Field, Table, useApi, notify, confirmed } from "../../lib/ui.js";
import { api } from "../../lib/api.js";
import { when } from "../../lib/format.js";

const KEY_ROLES = ["", "admin", "operator", "viewer", "metrics"];

export function ApiKeys() {
  const keys = useApi("/auth/keys");
  const [name, setName] = useState("");
  const [role, setRole] = useState("");
  const [created, setCreated] = useState(null);
  const [error, setError] = useState(null);

  const create = async () => {
    setError(null);
    try {
      const body = { name: name.trim() };
      if (role) body.role = role;
      setCreated(await api("/auth/keys", { method: "POST", body }));
      setName("");
      keys.reload();
    } catch (err) {
      setError(err);
    }
  };
  const revoke = async (key) => {
    if (!confirmed(`Revoke the key ${key.name}? It stops working at once.`)) return;
    await api(`/auth/keys/${encodeURIComponent(key.id)}`, { method: "DELETE" });
    notify(`Revoked ${key.name}`);
    if (created?.id === key.id) setCreated(null);
    keys.reload();
  };
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(created.key);
      notify("Copied");
    } catch {
      notify("Copying was refused: select the key and copy it", "error");
    }
  };
  const fields = error?.fields ?? {};
  return html`<${Card} title="API keys" wide>
    <form class="row" onSubmit=${(e) => e.preventDefault()}>
      <${Field} label="Key name" id="key-name" error=${fields["body.name"]}>
        <input id="key-name" value=${name} onInput=${(e) => setName(e.currentTarget.value)} />
      <//>
      <${Field} label="Key role" id="key-role">
        <select id="key-role" value=${role} onChange=${(e) => setRole(e.currentTarget.value)}>
          ${KEY_ROLES.map((r) => html`<option value=${r}>${r || "mine"}</option>`)}
        </select>
      <//>
      <${Action} permission="read" kind="primary" disabled=${!name.trim()} onClick=${create}>Create key<//>
    </form>
    <${ErrorNote} error=${error && !Object.keys(fields).length ? error : null} />
    ${created && html`<div class="note secret" role="status">
      <p>The key <strong>${created.name}</strong>: copy it now, it is not shown again.</p>
      <div class="row"><code class="hash" aria-label="New API key">${created.key}</code>
        <button type="button" class="btn" onClick=${copy}>Copy</button>
        <button type="button" class="btn link" onClick=${() => setCreated(null)}>Done</button></div>
    </div>`}
    <${ErrorNote} error=${keys.error} />
    <${Table} caption="API keys" empty="No API key" rows=${keys.data?.keys}
      columns=${[
        { title: "Name", key: "name" },
        { title: "User", key: "username" },
        { title: "Role", key: "role" },
        { title: "Created", render: (k) => when(k.created) },
        { title: "Last used", render: (k) => when(k.last_used) },
        { title: "", render: (k) => html`<${Action} permission="read" kind="danger"
          label=${`Revoke ${k.name}`} onClick=${() => revoke(k)}>Revoke<//>` },
      ]} />
  <//>`;
}
