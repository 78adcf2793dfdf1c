// Running a command now on the systems chosen.
import { useState } from "preact/hooks";
import { html, Card, Action, Field, ErrorNote } from "../../lib/ui.js";
import { api } from "../../lib/api.js";
import { session } from "../../lib/session.js";

export function RunCommand({ systems, onStarted }) {
  const [command, setCommand] = useState("");
  const [name, setName] = useState("");
  const [chosen, setChosen] = useState(new Set());
  const [error, setError] = useState(null);
  if (!session.can("control")) return null;
  // The device itself is for admins only; an operator only the systems opened to operators.
  const usable = systems.filter((s) => s.is_active && (session.isAdmin || (s.id !== "local" && s.operators_allowed)));

  const toggle = (id) => {
    const next = new Set(chosen);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setChosen(next);
  };
  const run = async () => {
    setError(null);
    try {
      const job = await api("/jobs", {
        method: "POST",
        body: { name: name.trim() || command.trim().slice(0, 60) || "command", command, system_ids: [...chosen] },
      });
      onStarted(job);
    } catch (err) {
      setError(err);
    }
  };
  const fields = error?.fields ?? {};
  return html`<${Card} title="Run a command">
    <form onSubmit=${(e) => e.preventDefault()}>
      <${Field} label="Command" id="job-command" error=${fields["body.command"]}>
        <textarea id="job-command" rows="3" value=${command} spellcheck=${false}
          onInput=${(e) => setCommand(e.currentTarget.value)}></textarea>
      <//>
      <${Field} label="Job name (optional)" id="job-name" error=${fields["body.name"]}>
        <input id="job-name" value=${name} onInput=${(e) => setName(e.currentTarget.value)} />
      <//>
      <fieldset class="parts">
        <legend>Systems</legend>
        ${usable.map((s) => html`<div class="check" key=${s.id}>
          <input type="checkbox" id=${`job-system-${s.id}`} checked=${chosen.has(s.id)}
            onChange=${() => toggle(s.id)} />
          <label for=${`job-system-${s.id}`}>${s.name}</label>
        </div>`)}
        ${!usable.length && html`<p class="empty">No system you may run commands on.</p>`}
      </fieldset>
      <${ErrorNote} error=${error && !fields["body.command"] ? error : null} />
      <${Action} permission="control" kind="primary" disabled=${!command.trim() || !chosen.size}
        onClick=${run}>Run<//>
    </form>
  <//>`;
}
