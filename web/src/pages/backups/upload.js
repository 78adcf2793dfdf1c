// Uploading a backup file taken from this or another device, with a progress bar.
import { useState } from "preact/hooks";
import { html, Card, Action, Field, Progress, ErrorNote, notify } from "../../lib/ui.js";
import { upload } from "../../lib/api.js";
import { session } from "../../lib/session.js";

export function UploadBackup({ onUploaded }) {
  const [file, setFile] = useState(null);
  const [sent, setSent] = useState(null);
  const [error, setError] = useState(null);
  if (!session.can("control")) return null;
  const send = async () => {
    setError(null);
    setSent(0);
    try {
      const stored = await upload("/backups/upload", file, { query: { filename: file.name }, onProgress: setSent });
      setSent(1);
      notify(`Uploaded ${stored.name}`);
      onUploaded();
    } catch (err) {
      setError(err);
      setSent(null);
    }
  };
  return html`<${Card} title="Upload a backup">
    <form onSubmit=${(e) => e.preventDefault()}>
      <${Field} label="Backup file (.tar)" id="backup-file">
        <input id="backup-file" type="file" accept=".tar"
          onChange=${(e) => { setFile(e.currentTarget.files[0] ?? null); setSent(null); }} />
      <//>
      <${Action} permission="control" kind="primary" disabled=${!file} onClick=${send}>Upload backup<//>
      ${sent !== null && html`<${Progress} value=${sent} label="Backup upload" />`}
      <${ErrorNote} error=${error} />
    </form>
  <//>`;
}
