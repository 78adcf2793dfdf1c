// Updates: the two slots, the boot gate's verdict, bundles (upload with progress, install with
// the task's progress) and the history of installs.
import { html, Page, Card, Badge, ErrorNote, Table, useApi, useEvents } from "../lib/ui.js";
import { when } from "../lib/format.js";
import { Slots } from "./updates/slots.js";
import { Bundles } from "./updates/bundles.js";

export function Updates() {
  const status = useApi("/update/status");
  const gate = useApi("/update/gate");
  const history = useApi("/update/history");
  // Another browser or the CLI may install: stay current without a reload.
  useEvents(["update:started", "update:completed", "update:failed", "update:verified", "update:rejected", "update:rolled_back"], () => {
    status.reload();
    history.reload();
  });
  const refresh = () => {
    status.reload();
    gate.reload();
    history.reload();
  };
  const s = status.data;
  return html`<${Page} title="Updates">
    <div class="grid">
      <${Card} title="System">
        <${ErrorNote} error=${status.error} />
        ${s && html`<dl class="facts">
          <dt>Version</dt><dd>${s.version}</dd>
          <dt>Compatible</dt><dd>${s.compatible}</dd>
          <dt>Booted slot</dt><dd>${s.bootSlot}</dd>
          <dt>Primary</dt><dd>${s.primary ?? "–"}</dd>
          <dt>RAUC</dt><dd><${Badge} state=${s.operation} /></dd>
          ${s.lastError && html`<dt>Last error</dt><dd>${s.lastError}</dd>`}
        </dl>`}
      <//>
      <${Card} title="Boot health gate">
        <${ErrorNote} error=${gate.error} />
        ${gate.data && html`<p>Verdict: <${Badge} state=${gate.data.state} /></p>
          <p class="hint">Boot slot: ${gate.data.bootSlot ?? "–"}</p>`}
      <//>
      <${Slots} status=${s} onChange=${refresh} />
      <${Bundles} onInstalled=${refresh} />
      <${Card} title="History" wide>
        <${ErrorNote} error=${history.error} />
        <${Table} caption="Installs, newest first" empty="No update installed yet"
          rows=${history.data?.history}
          columns=${[
            { title: "Bundle", render: (h) => h.bundle.split("/").pop() },
            { title: "From", render: (h) => `${h.from_version ?? "–"} (${h.from_slot ?? "–"})` },
            { title: "To", render: (h) => `${h.to_version ?? "–"} (${h.to_slot ?? "–"})` },
            { title: "Result", render: (h) => html`<${Badge} state=${h.result} />` },
            { title: "Message", key: "message" },
            { title: "Started", render: (h) => when(h.started) },
          ]} />
      <//>
    </div>
  <//>`;
}
