// A service's configuration: its variables, its secrets (redacted; an admin may reveal them),
// a new version from an edit, and the versions before it with a way back to each.
import { useState } from "preact/hooks";
import { api } from "../../lib/api.js";
import { when } from "../../lib/format.js";
import { session } from "../../lib/session.js";
import { Action, Card, ErrorNote, Field, html, notify, Table, useApi } from "../../lib/ui.js";
import { pairs, pairsText } from "./fields.js";

const REDACTED = "***REDACTED***";

function Values({ values, secret }) {
  const entries = Object.entries(values || {});
  if (!entries.length) return html`<p class="empty">${secret ? "No secrets" : "No variables"}</p>`;
  return html`<dl class="facts">${entries.map(([k, v]) => html`<dt class="mono">${k}</dt>
    <dd class="mono">${secret && v === REDACTED ? html`<span class="badge idle">set (hidden)</span>` : v}</dd>`)}</dl>`;
}

function Editor({ name, config, onSaved, onCancel }) {
  const [variables, setVariables] = useState(pairsText(config.variables));
  const [secrets, setSecrets] = useState(pairsText(config.secrets));
  const [error, setError] = useState(null);
  const save = async () => {
    setError(null);
    try {
      const saved = await api(`/config/${encodeURIComponent(name)}`, {
        method: "PUT",
        body: { environment: config.environment, variables: pairs(variables), secrets: pairs(secrets) },
      });
      notify(`${name}: configuration version ${saved.version} saved`);
      onSaved();
    } catch (failure) {
      setError(failure);
    }
  };
  return html`<div>
    <${Field} label="Variables" id="cfg-variables" hint="One per line: NAME=value">
      <textarea id="cfg-variables" rows="4" value=${variables} onInput=${(e) => setVariables(e.currentTarget.value)}></textarea><//>
    <${Field} label="Secrets" id="cfg-secrets" hint=${`One per line; a value left as ${REDACTED} keeps the stored one`}>
      <textarea id="cfg-secrets" rows="3" value=${secrets} onInput=${(e) => setSecrets(e.currentTarget.value)}></textarea><//>
    <${ErrorNote} error=${error} />
    <div class="row">
      <${Action} permission="admin" kind="primary" onClick=${save}>Save new version<//>
      <button type="button" class="btn" onClick=${onCancel}>Cancel</button>
    </div>
  </div>`;
}

export function ConfigCard({ name }) {
  const [reveal, setReveal] = useState(false);
  const [editing, setEditing] = useState(false);
  const path = `/config/${encodeURIComponent(name)}`;
  const config = useApi(path, { query: { includeSecrets: reveal || undefined } });
  const versions = useApi(`${path}/versions`);
  const reload = () => {
    config.reload();
    versions.reload();
  };
  const restore = (version) => async () => {
    await api(`${path}/versions/${version}/restore`, { method: "POST" });
    notify(`${name}: version ${version} restored`);
    reload();
  };
  const c = config.data;
  const columns = [
    { title: "Version", key: "version" },
    { title: "Saved", render: (v) => when(v.lastModified) },
    { title: "By", key: "modifiedBy" },
    { title: "Contents", render: (v) => `${v.variables} variables, ${v.secrets} secrets` },
    { title: "", render: (v) => v.version !== c?.version && html`<${Action} permission="admin"
      onClick=${restore(v.version)} label=${`Restore version ${v.version}`}>Restore<//>` },
  ];
  return html`<${Card} title="Configuration" wide>
    <${ErrorNote} error=${config.error} />
    ${c && html`<p class="hint">Environment ${c.environment}, version ${c.version || "none yet"}</p>
      ${editing ? html`<${Editor} name=${name} config=${c} onSaved=${() => { setEditing(false); reload(); }} onCancel=${() => setEditing(false)} />`
        : html`<h3>Variables</h3><${Values} values=${c.variables} />
          <h3>Secrets</h3><${Values} values=${c.secrets} secret />
          <div class="row">
            ${session.isAdmin && Object.keys(c.secrets).length > 0 && html`<button type="button" class="btn"
              aria-pressed=${reveal} onClick=${() => setReveal(!reveal)}>${reveal ? "Hide secrets" : "Reveal secrets"}</button>`}
            <${Action} permission="admin" onClick=${() => setEditing(true)}>Edit configuration<//>
          </div>`}`}
    <h3>Versions</h3>
    <${Table} caption="Configuration versions" columns=${columns} rows=${versions.data?.versions} empty="No versions yet" />
  <//>`;
}
