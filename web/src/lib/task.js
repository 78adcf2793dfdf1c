// A long-running task's progress: its bar and how it ended. The task's `task:progress` events
// move the bar as they come; polling the task (`useTask`) brings its final state.
import { useEffect, useState } from "preact/hooks";
import { html, Badge, Progress, useEvents, useTask } from "./ui.js";

export function TaskProgress({ taskId, title, onDone }) {
  const { task, done } = useTask(taskId);
  const [live, setLive] = useState(null);
  useEvents(["task:progress"], (event) => {
    if (event.data?.taskId === taskId) setLive(event.data);
  });
  useEffect(() => {
    if (done) onDone?.(task);
  }, [done]);
  const progress = done ? task.progress : Math.max(task?.progress ?? 0, live?.progress ?? 0);
  const message = done ? task.message : live?.message || task?.message;
  return html`<div aria-live="polite">
    <h3>${title}</h3>
    <${Progress} value=${progress / 100} label=${title} />
    <p>${task ? html`<${Badge} state=${task.status} /> ${message}` : "Starting…"}</p>
    ${task?.error && html`<p class="note error" role="alert">${task.error}</p>`}
  </div>`;
}
