// Backups: the list with download, restore and delete; create one (full or partial, with a
// password) and follow its task; upload a backup file; the schedules.
import { useState } from "preact/hooks";
import { html, Page, Card, Action, Badge, ErrorNote, Table, useApi, useEvents, notify, confirmed } from "../lib/ui.js";
import { api, download } from "../lib/api.js";
import { bytes, when } from "../lib/format.js";
import { CreateBackup } from "./backups/create.js";
import { RestoreBackup } from "./backups/restore.js";
import { UploadBackup } from "./backups/upload.js";
import { Schedules } from "./backups/schedules.js";
import { TaskProgress } from "../lib/task.js";

export function Backups() {
  const list = useApi("/backups");
  const [task, setTask] = useState(null); // { id, title }
  const [restoring, setRestoring] = useState(null);
  useEvents(["backup:completed", "backup:failed", "backup:deleted", "backup:uploaded", "backup:restored"], () => list.reload());

  const remove = async (b) => {
    if (!confirmed(`Delete the backup ${b.name}?`)) return;
    await api(`/backups/${encodeURIComponent(b.name)}`, { method: "DELETE" });
    notify(`Deleted ${b.name}`);
    list.reload();
  };
  const parts = (b) => [b.homei && "Homei", ...b.services].filter(Boolean).join(", ") || "–";

  return html`<${Page} title="Backups">
    <div class="grid">
      <${CreateBackup} onStarted=${(id, name) => setTask({ id, title: `Creating ${name}` })} />
      <${UploadBackup} onUploaded=${() => list.reload()} />
      ${task && html`<${Card} title="Progress" wide>
        <${TaskProgress} key=${task.id} taskId=${task.id} title=${task.title} onDone=${() => list.reload()} />
      <//>`}
      ${restoring && html`<${RestoreBackup} backup=${restoring} onCancel=${() => setRestoring(null)}
        onStarted=${(id) => { setTask({ id, title: `Restoring ${restoring.name}` }); setRestoring(null); }} />`}
      <${Card} title="Backups on the device" wide>
        <${ErrorNote} error=${list.error} />
        <${Table} caption="Backups, newest first" empty="No backup yet" rows=${list.data?.backups}
          columns=${[
            { title: "Name", key: "name" },
            { title: "Created", render: (b) => when(b.created_at) },
            { title: "Type", render: (b) => b.problem ? html`<${Badge} state="bad" /> ${b.problem}` : b.type },
            { title: "Parts", render: parts },
            { title: "Size", render: (b) => bytes(b.size) },
            { title: "Encrypted", render: (b) => (b.encrypted ? "yes" : "no") },
            { title: "", render: (b) => html`<div class="row">
              <${Action} permission="control" label=${`Download ${b.name}`}
                onClick=${() => download(`/backups/${encodeURIComponent(b.name)}/download`, b.name)}>Download<//>
              <${Action} permission="control" label=${`Restore ${b.name}`}
                onClick=${() => setRestoring(b)}>Restore<//>
              <${Action} permission="control" kind="danger" label=${`Delete ${b.name}`}
                onClick=${() => remove(b)}>Delete<//>
            </div>` },
          ]} />
      <//>
      <${Schedules} />
    </div>
  <//>`;
}
