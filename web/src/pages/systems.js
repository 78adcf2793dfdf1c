// Systems and jobs: the systems commands run on, a command run on several of them with the
// output arriving live per system, and the jobs run before.
import { useState } from "preact/hooks";
import { html, Page, Card, Action, Badge, ErrorNote, Table, useApi, useEvents, notify, confirmed } from "../lib/ui.js";
import { api } from "../lib/api.js";
import { when } from "../lib/format.js";
import { AddSystem } from "./systems/add.js";
import { RunCommand } from "./systems/run.js";
import { JobOutput } from "./systems/output.js";

export function Systems() {
  const systems = useApi("/systems", { query: { limit: 500 } });
  const jobs = useApi("/jobs", { query: { limit: 20 } });
  const [watching, setWatching] = useState(null);
  const [tests, setTests] = useState({});
  // Jobs started elsewhere (another browser, the API, a schedule) show up without a reload.
  useEvents(["job:created", "job:completed", "job:cancelled"], () => jobs.reload());
  const list = systems.data?.systems ?? [];
  const names = Object.fromEntries(list.map((s) => [s.id, s.name]));

  const test = async (s) => {
    const result = await api(`/systems/${s.id}/test`, { method: "POST" });
    setTests((t) => ({ ...t, [s.id]: result }));
    systems.reload();
  };
  const remove = async (s) => {
    if (!confirmed(`Forget the system ${s.name}?`)) return;
    await api(`/systems/${s.id}`, { method: "DELETE" });
    notify(`Deleted ${s.name}`);
    systems.reload();
  };
  const started = (job) => {
    setWatching(job.id);
    jobs.reload();
  };

  return html`<${Page} title="Systems & jobs">
    <div class="grid">
      <${Card} title="Systems" wide>
        <${ErrorNote} error=${systems.error} />
        <${Table} caption="Systems jobs can run on" empty="No system" rows=${list}
          columns=${[
            { title: "Name", key: "name" },
            { title: "Address", render: (s) => (s.id === "local" ? "this device" : `${s.username}@${s.hostname}:${s.port}`) },
            { title: "Health", render: (s) => html`<${Badge} state=${s.health_status} />` },
            { title: "Checked", render: (s) => when(s.last_health_check) },
            { title: "Test", render: (s) => testResult(tests[s.id]) },
            { title: "", render: (s) => html`<div class="row">
              <${Action} permission="admin" label=${`Test ${s.name}`} onClick=${() => test(s)}>Test<//>
              ${s.id !== "local" && html`<${Action} permission="admin" kind="danger"
                label=${`Delete ${s.name}`} onClick=${() => remove(s)}>Delete<//>`}
            </div>` },
          ]} />
      <//>
      <${RunCommand} systems=${list} onStarted=${started} />
      <${AddSystem} onAdded=${() => systems.reload()} />
      ${watching && html`<${JobOutput} jobId=${watching} names=${names} onEnd=${() => jobs.reload()} />`}
      <${Card} title="Job history" wide>
        <${ErrorNote} error=${jobs.error} />
        <${Table} caption="Jobs, newest first" empty="No job yet" rows=${jobs.data?.jobs}
          columns=${[
            { title: "Job", key: "name" },
            { title: "Command", render: (j) => html`<code>${j.command}</code>` },
            { title: "Systems", render: (j) => j.system_ids.map((id) => names[id] ?? id).join(", ") },
            { title: "Status", render: (j) => html`<${Badge} state=${j.status} />` },
            { title: "Created", render: (j) => `${when(j.created_at)} by ${j.created_by}` },
            { title: "", render: (j) => html`<button type="button" class="btn"
              aria-label=${`Output of ${j.name}`} onClick=${() => setWatching(j.id)}>Output</button>` },
          ]} />
      <//>
    </div>
  <//>`;
}

function testResult(result) {
  if (!result) return "–";
  if (result.success) return html`<${Badge} state="ok" /> ${result.system_info?.hostname ?? ""} (${Math.round(result.response_time_ms)} ms)`;
  return html`<${Badge} state="failed" /> ${result.error?.message ?? ""}`;
}
