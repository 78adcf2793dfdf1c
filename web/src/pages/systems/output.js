// One job's executions as they run: `/ws/jobs/{id}` sends each execution's state and its
// output so far, then what comes, per system.
import { useEffect, useState } from "preact/hooks";
import { html, Card, Badge } from "../../lib/ui.js";
import { socket } from "../../lib/ws.js";

export function JobOutput({ jobId, names, onEnd }) {
  const [runs, setRuns] = useState({});
  const [status, setStatus] = useState("running");
  useEffect(() => {
    setRuns({});
    setStatus("running");
    const ws = socket(`/ws/jobs/${jobId}`, (message) => {
      const data = message.data ?? {};
      if (message.type === "job:execution") {
        setRuns((r) => ({ ...r, [data.execution_id]: { ...blank(data), ...r[data.execution_id], ...data } }));
      } else if (message.type === "job:output") {
        setRuns((r) => {
          const next = { ...r };
          for (const c of data.chunks) {
            const run = { ...blank(c), ...next[c.execution_id] };
            // `offset` is where the text starts in its stream: a repeat overwrites, never doubles.
            run[c.stream] = run[c.stream].slice(0, c.offset) + c.text;
            next[c.execution_id] = run;
          }
          return next;
        });
      } else if (message.type === "job:completed" || message.type === "job:cancelled") {
        setStatus(data.status ?? "cancelled");
        ws.close();
        onEnd?.();
      }
    });
    return () => ws.close();
  }, [jobId]);

  const list = Object.values(runs).sort((a, b) => name(a, names).localeCompare(name(b, names)));
  return html`<${Card} title="Output" wide id="job-output">
    <p aria-live="polite">Job <${Badge} state=${status} /></p>
    ${list.map((run) => html`<section class="run" key=${run.execution_id} aria-label=${`Output on ${name(run, names)}`}>
      <h3>${name(run, names)} <${Badge} state=${run.status} />
        ${run.exit_code !== null && run.exit_code !== undefined && html` <small>exit ${run.exit_code}</small>`}</h3>
      ${run.error_message && html`<p class="note error">${run.error_message}</p>`}
      ${(run.stdout || run.stderr) && html`<pre class="logs">${run.stdout}${run.stderr}</pre>`}
    </section>`)}
  <//>`;
}

function blank(data) {
  return { execution_id: data.execution_id, system_id: data.system_id, status: "pending", exit_code: null, stdout: "", stderr: "" };
}

function name(run, names) {
  return names[run.system_id] ?? run.system_id;
}
