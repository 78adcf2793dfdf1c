// Bundles: upload one with a progress bar, list those on the device, install one and follow
// the install's task to its end.
import { useState } from "preact/hooks";
import { html, Card, Action, Field, Progress, Table, ErrorNote, useApi, notify, confirmed } from "../../lib/ui.js";
import { TaskProgress } from "../../lib/task.js";
import { api, upload } from "../../lib/api.js";
import { session } from "../../lib/session.js";
import { bytes, when } from "../../lib/format.js";

export function Bundles({ onInstalled }) {
  const list = useApi("/update/bundles");
  const [file, setFile] = useState(null);
  const [sent, setSent] = useState(null);
  const [error, setError] = useState(null);
  const [taskId, setTaskId] = useState(null);

  const send = async () => {
    if (!file) return;
    setError(null);
    setSent(0);
    try {
      const stored = await upload("/update/bundles", file, { query: { filename: file.name }, onProgress: setSent });
      setSent(1);
      notify(`Uploaded ${stored.name}`);
      list.reload();
    } catch (err) {
      setError(err);
      setSent(null);
    }
  };
  const install = async (bundle) => {
    if (!confirmed(`Install ${bundle.name} into the other slot?`)) return;
    const started = await api("/update/install", { method: "POST", body: { bundle_path: bundle.name } });
    setTaskId(started.taskId);
  };
  const remove = async (bundle) => {
    if (!confirmed(`Delete ${bundle.name}?`)) return;
    await api(`/update/bundles/${encodeURIComponent(bundle.name)}`, { method: "DELETE" });
    list.reload();
  };

  return html`<${Card} title="Bundles" wide>
    <${Install} key=${taskId} taskId=${taskId} onDone=${onInstalled} />
    <${Table} caption="Bundles on the device" empty="No bundle uploaded" rows=${list.data?.bundles}
      columns=${[
        { title: "Name", key: "name" },
        { title: "Size", render: (b) => bytes(b.size) },
        { title: "Uploaded", render: (b) => when(b.modified) },
        { title: "SHA-256", render: (b) => html`<code class="hash">${(b.sha256 ?? "").slice(0, 12)}</code>` },
        { title: "", render: (b) => html`<div class="row">
          <${Action} permission="admin" kind="primary" label=${`Install ${b.name}`}
            onClick=${() => install(b)}>Install<//>
          <${Action} permission="admin" kind="danger" label=${`Delete ${b.name}`}
            onClick=${() => remove(b)}>Delete<//>
        </div>` },
      ]} />
    <${ErrorNote} error=${list.error} />
    ${list.data && session.can("admin") && html`<form class="upload" onSubmit=${(e) => e.preventDefault()}>
      <${Field} label="Bundle file (.raucb)" id="bundle-file">
        <input id="bundle-file" type="file" accept=".raucb"
          onChange=${(e) => { setFile(e.currentTarget.files[0] ?? null); setSent(null); }} />
      <//>
      <${Action} permission="admin" kind="primary" disabled=${!file} onClick=${send}>Upload bundle<//>
      ${sent !== null && html`<${Progress} value=${sent} label="Upload" />`}
      <${ErrorNote} error=${error} />
    </form>`}
  <//>`;
}

function Install({ taskId, onDone }) {
  if (!taskId) return null;
  return html`<div class="install"><${TaskProgress} taskId=${taskId} title="Install" onDone=${onDone} /></div>`;
}
