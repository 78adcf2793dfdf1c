// Creating a backup: full or partial with the parts chosen, with data or not, and a password.
import { useState } from "preact/hooks";
import { html, Card, Action, Field, ErrorNote, useApi, notify } from "../../lib/ui.js";
import { api } from "../../lib/api.js";
import { session } from "../../lib/session.js";
import { PartsChooser, partsRequest } from "./parts.js";

export function CreateBackup({ onStarted }) {
  const services = useApi("/services", { query: { limit: 100 } });
  const [kind, setKind] = useState("full");
  const [chosen, setChosen] = useState(new Set(["homei"]));
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [includeData, setIncludeData] = useState(true);
  const [error, setError] = useState(null);
  if (!session.can("control")) return null;

  const create = async () => {
    setError(null);
    const body = { type: kind, include_data: includeData };
    if (name.trim()) body.name = name.trim();
    if (password) body.password = password;
    if (kind === "partial") Object.assign(body, partsRequest(chosen));
    try {
      const started = await api("/backups", { method: "POST", body });
      notify(`Backup ${started.name} started`);
      setPassword("");
      onStarted(started.taskId, started.name);
    } catch (err) {
      setError(err);
    }
  };
  const names = (services.data?.services ?? []).map((s) => s.name);
  const fields = error?.fields ?? {};
  return html`<${Card} title="Create a backup">
    <form onSubmit=${(e) => e.preventDefault()}>
      <${Field} label="Name (optional)" id="backup-name" error=${fields["body.name"]}>
        <input id="backup-name" value=${name} onInput=${(e) => setName(e.currentTarget.value)} />
      <//>
      <fieldset class="parts">
        <legend>Type</legend>
        ${[["full", "Full: Homei and every service"], ["partial", "Partial: the parts chosen"]].map(
          ([value, label]) => html`<div class="check" key=${value}>
            <input type="radio" name="backup-type" id=${`backup-type-${value}`} value=${value}
              checked=${kind === value} onChange=${() => setKind(value)} />
            <label for=${`backup-type-${value}`}>${label}</label>
          </div>`,
        )}
      </fieldset>
      ${kind === "partial" && html`<${PartsChooser} idPrefix="backup-part" services=${names}
        chosen=${chosen} onChange=${setChosen} legend="Parts to back up" />`}
      <div class="check">
        <input type="checkbox" id="backup-data" checked=${includeData}
          onChange=${(e) => setIncludeData(e.currentTarget.checked)} />
        <label for="backup-data">Include the services' data (volumes)</label>
      </div>
      <${Field} label="Password (optional, 8 characters or more)" id="backup-password"
        error=${fields["body.password"]} hint="Encrypts the backup; needed to restore it">
        <input id="backup-password" type="password" autocomplete="new-password" value=${password}
          onInput=${(e) => setPassword(e.currentTarget.value)} />
      <//>
      <${ErrorNote} error=${error && !Object.keys(fields).length ? error : null} />
      <${Action} permission="control" kind="primary" onClick=${create}>Create backup<//>
    </form>
  <//>`;
}
