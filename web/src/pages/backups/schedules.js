// The backup schedules with their retention and next and last runs. Admins add and remove
// them: they are the `backup.schedules` setting, changed as a whole through `/config`, which
// applies it at once and keeps it in the settings file.
import { useState } from "preact/hooks";
import { html, Card, Action, Badge, ErrorNote, Field, Table, useApi, notify, confirmed } from "../../lib/ui.js";
import { api } from "../../lib/api.js";
import { session } from "../../lib/session.js";
import { duration, when } from "../../lib/format.js";

async function changeSchedules(change) {
  const config = await api("/config");
  const schedules = change(config.orchestrator.backup?.schedules ?? []);
  return api("/config", { method: "PUT", body: { orchestrator: { backup: { schedules } } } });
}

export function Schedules() {
  const list = useApi("/backups/schedules");
  const remove = async (s) => {
    if (!confirmed(`Delete the schedule ${s.name}? Its backups stay.`)) return;
    await changeSchedules((all) => all.filter((x) => x.name !== s.name));
    notify(`Deleted the schedule ${s.name}`);
    list.reload();
  };
  return html`<${Card} title="Schedules" wide>
    <${ErrorNote} error=${list.error} />
    <${Table} caption="Scheduled backups" empty="No schedule" rows=${list.data?.schedules}
      columns=${[
        { title: "Name", key: "name" },
        { title: "When", render: (s) => (s.cron ? `cron ${s.cron}` : s.interval ? `every ${duration(s.interval)}` : "–") },
        { title: "Type", key: "type" },
        { title: "Keeps", render: (s) => `last ${s.keep_last}, daily ${s.keep_daily}, weekly ${s.keep_weekly}` },
        { title: "Next run", render: (s) => when(s.next_run) },
        { title: "Last run", render: (s) => html`${when(s.last_run)} ${s.last_result && html`<${Badge} state=${s.last_result} />`}` },
        { title: "", render: (s) => html`<${Action} permission="admin" kind="danger"
          label=${`Delete schedule ${s.name}`} onClick=${() => remove(s)}>Delete<//>` },
      ]} />
    ${session.isAdmin && html`<${NewSchedule} onAdded=${() => list.reload()} />`}
  <//>`;
}

function NewSchedule({ onAdded }) {
  const [form, setForm] = useState({ name: "", cron: "0 3 * * *", keep_last: "7", keep_daily: "0", keep_weekly: "0" });
  const [withData, setWithData] = useState(true);
  const [error, setError] = useState(null);
  const set = (field) => (e) => setForm({ ...form, [field]: e.currentTarget.value });
  const add = async () => {
    setError(null);
    const schedule = {
      name: form.name.trim(), type: "full", cron: form.cron.trim(), include_data: withData,
      keep_last: Number(form.keep_last), keep_daily: Number(form.keep_daily), keep_weekly: Number(form.keep_weekly),
    };
    try {
      await changeSchedules((all) => [...all.filter((x) => x.name !== schedule.name), schedule]);
      notify(`Added the schedule ${schedule.name}`);
      onAdded();
    } catch (err) {
      setError(err);
    }
  };
  const input = (field, label, props = {}) => html`<${Field} label=${label} id=${`schedule-${field}`}>
    <input id=${`schedule-${field}`} value=${form[field]} onInput=${set(field)} ...${props} />
  <//>`;
  return html`<form class="schedule-form" onSubmit=${(e) => e.preventDefault()}>
    <h3>Add a schedule (full backups)</h3>
    <div class="row">
      ${input("name", "Schedule name")}
      ${input("cron", "When (cron, UTC: minute hour day month weekday)")}
    </div>
    <div class="row">
      ${input("keep_last", "Keep the last", { type: "number", min: 0 })}
      ${input("keep_daily", "Keep one a day for (days)", { type: "number", min: 0 })}
      ${input("keep_weekly", "Keep one a week for (weeks)", { type: "number", min: 0 })}
    </div>
    <div class="check">
      <input type="checkbox" id="schedule-data" checked=${withData} onChange=${(e) => setWithData(e.currentTarget.checked)} />
      <label for="schedule-data">Scheduled backups include the services' data</label>
    </div>
    <${ErrorNote} error=${error} />
    <${Action} permission="admin" kind="primary" disabled=${!form.name.trim()} onClick=${add}>Add schedule<//>
  </form>`;
}
