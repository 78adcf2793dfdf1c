// Removing a service, after saying which services depend on it: the API refuses while any
// does (409), unless forced; the answer's reason is shown as it came.
import { useState } from "preact/hooks";
import { api } from "../../lib/api.js";
import { Card, ErrorNote, html, notify } from "../../lib/ui.js";

export function DeletePanel({ name, dependents, onCancel }) {
  const [removeData, setRemoveData] = useState(false);
  const [force, setForce] = useState(false);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const remove = async () => {
    setBusy(true);
    setError(null);
    try {
      await api(`/services/${encodeURIComponent(name)}`, { method: "DELETE", query: { removeData, force: force || undefined } });
      notify(`${name}: deleted`);
      location.hash = "#/services";
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  const blocked = error?.code === "DEPENDENCY_ERROR" ? error.details?.dependents || dependents : null;
  return html`<${Card} title=${`Delete ${name}?`} wide>
    ${dependents.length
      ? html`<p class="note error">${`Needed by ${dependents.join(", ")}: deleting is refused while they depend on it, unless forced (they would then fail to start).`}</p>`
      : html`<p>No other service depends on it.</p>`}
    <label class="check"><input type="checkbox" checked=${removeData} onChange=${(e) => setRemoveData(e.currentTarget.checked)} /> Also remove its data (named volumes and folder)</label>
    ${dependents.length > 0 && html`<label class="check"><input type="checkbox" checked=${force} onChange=${(e) => setForce(e.currentTarget.checked)} /> Delete even though others depend on it</label>`}
    <${ErrorNote} error=${error} />
    ${blocked && html`<p>Blocking: ${blocked.join(", ")}</p>`}
    <div class="row">
      <button type="button" class="btn danger" disabled=${busy} onClick=${remove}>Delete permanently</button>
      <button type="button" class="btn" onClick=${onCancel}>Keep it</button>
    </div>
  <//>`;
}
