// A backup's or restore's task: its progress bar and how it ended.
import { useEffect } from "preact/hooks";
import { html, Badge, Progress, useTask } from "../../lib/ui.js";

export function TaskProgress({ taskId, title, onDone }) {
  const { task, done } = useTask(taskId);
  useEffect(() => {
    if (done) onDone?.(task);
  }, [done]);
  return html`<div aria-live="polite">
    <h3>${title}</h3>
    <${Progress} value=${(task?.progress ?? 0) / 100} label=${title} />
    <p>${task ? html`<${Badge} state=${task.status} /> ${task.message}` : "Starting…"}</p>
    ${task?.error && html`<p class="note error" role="alert">${task.error}</p>`}
  </div>`;
}
