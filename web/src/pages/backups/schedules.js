// The backup schedules of the settings, with their retention and next and last runs.
import { html, Card, Badge, ErrorNote, Table, useApi } from "../../lib/ui.js";
import { duration, when } from "../../lib/format.js";

export function Schedules() {
  const list = useApi("/backups/schedules");
  return html`<${Card} title="Schedules" wide>
    <${ErrorNote} error=${list.error} />
    <${Table} caption="Scheduled backups" empty="No schedule" rows=${list.data?.schedules}
      columns=${[
        { title: "Name", key: "name" },
        { title: "When", render: (s) => s.cron || (s.interval ? `every ${duration(s.interval)}` : "–") },
        { title: "Type", key: "type" },
        { title: "Keeps", render: (s) => `last ${s.keep_last}, daily ${s.keep_daily}, weekly ${s.keep_weekly}` },
        { title: "Next run", render: (s) => when(s.next_run) },
        { title: "Last run", render: (s) => html`${when(s.last_run)} ${s.last_result && html`<${Badge} state=${s.last_result} />`}` },
      ]} />
  <//>`;
}
