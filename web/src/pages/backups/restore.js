// Restoring a backup: which of its parts, its password if it has one, and a confirmation.
import { useState } from "preact/hooks";
import { html, Card, Action, Field, ErrorNote, confirmed } from "../../lib/ui.js";
import { api } from "../../lib/api.js";
import { PartsChooser, partsRequest } from "./parts.js";

export function RestoreBackup({ backup, onStarted, onCancel }) {
  const all = new Set([...(backup.homei ? ["homei"] : []), ...backup.services.map((s) => `service:${s}`)]);
  const [chosen, setChosen] = useState(all);
  const [password, setPassword] = useState("");
  const [error, setError] = useState(null);

  const restore = async () => {
    if (!chosen.size) {
      setError(new Error("Choose at least one part to restore"));
      return;
    }
    if (!confirmed(`Restore ${backup.name}? The parts chosen are replaced by the backup's.`)) return;
    setError(null);
    const body = chosen.size === all.size ? {} : partsRequest(chosen);
    if (password) body.password = password;
    try {
      const started = await api(`/backups/${encodeURIComponent(backup.name)}/restore`, { method: "POST", body });
      onStarted(started.taskId);
    } catch (err) {
      setError(err);
    }
  };
  return html`<${Card} title=${`Restore ${backup.name}`} wide id="restore">
    <form onSubmit=${(e) => e.preventDefault()}>
      <${PartsChooser} idPrefix="restore-part" services=${backup.services} chosen=${chosen}
        onChange=${setChosen} legend="Parts to restore" />
      ${!backup.homei && !backup.services.length && html`<p class="empty">This backup holds no part.</p>`}
      ${backup.encrypted && html`<${Field} label="Backup password" id="restore-password">
        <input id="restore-password" type="password" autocomplete="off" value=${password}
          onInput=${(e) => setPassword(e.currentTarget.value)} />
      <//>`}
      <${ErrorNote} error=${error} />
      <div class="row">
        <${Action} permission="control" kind="primary" onClick=${restore}>Restore now<//>
        <button type="button" class="btn" onClick=${onCancel}>Cancel</button>
      </div>
    </form>
  <//>`;
}
