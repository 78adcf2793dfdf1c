// Loading an image from a `docker save` tarball: the upload's progress, then the engine's
// import until the API answers with the images it now has.
import { useState } from "preact/hooks";
import { upload } from "../../lib/api.js";
import { bytes } from "../../lib/format.js";
import { session } from "../../lib/session.js";
import { ErrorNote, Field, html, notify, Progress } from "../../lib/ui.js";

export function ImageLoader({ onLoaded }) {
  const [file, setFile] = useState(null);
  const [sent, setSent] = useState(null);
  const [phase, setPhase] = useState("idle");
  const [loaded, setLoaded] = useState([]);
  const [error, setError] = useState(null);
  if (!session.can("admin")) return null;

  const load = async (event) => {
    event.preventDefault();
    if (!file) return;
    setError(null);
    setLoaded([]);
    setPhase("uploading");
    setSent(0);
    try {
      const answer = await upload("/images/load", file, {
        onProgress: (part) => {
          setSent(part);
          if (part >= 1) setPhase("importing");
        },
      });
      setSent(1);
      setPhase("done");
      setLoaded(answer?.images || []);
      notify(`Loaded ${(answer?.images || []).join(", ") || "the image"}`);
      onLoaded?.();
    } catch (failure) {
      setPhase("failed");
      setError(failure);
    }
  };
  const working = phase === "uploading" || phase === "importing";
  return html`<form class="loader" onSubmit=${load} aria-label="Load an image">
    <${Field} label="Image tarball" id="image-file" hint="A docker save archive (.tar)">
      <input id="image-file" type="file" accept=".tar,application/x-tar" disabled=${working}
        onChange=${(e) => setFile(e.currentTarget.files[0] || null)} />
    <//>
    <div class="row">
      <button type="submit" class="btn primary" disabled=${!file || working}>Load image</button>
      ${file && html`<span class="hint">${file.name}, ${bytes(file.size)}</span>`}
    </div>
    ${sent !== null && html`<${Progress} value=${sent} label="Upload progress" />
      <p role="status">${{ uploading: "Uploading…", importing: "Uploaded; the engine is importing it…", done: `Loaded: ${loaded.join(", ")}`, failed: "Failed" }[phase]}</p>`}
    <${ErrorNote} error=${error} />
  </form>`;
}
