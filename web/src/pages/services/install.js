// Installing (or changing) a service: checked by the API as the user types, each problem shown
// beside its input, then the install task followed until the service runs.
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../../lib/api.js";
import { TaskProgress } from "../../lib/task.js";
import { Card, ErrorNote, Field, html, notify, useApi } from "../../lib/ui.js";
import { bodyOf, errorsByInput, lines, pairsText, quote } from "./fields.js";

const EMPTY = {
  name: "", runtime: "docker", image: "", artifact: "", port: "", command: "", ports: "",
  volumes: "", environment: "", dependencies: [], healthCommand: "", healthInterval: "30",
};
const DEBOUNCE_MS = 400;

// The form's state from a service as the API shows it (for editing).
export function formOf(service) {
  const health = service.config?.healthcheck;
  return {
    ...EMPTY,
    name: service.name,
    image: service.image,
    command: (service.config?.command || []).map(quote).join(" "),
    ports: (service.ports || []).join("\n"),
    volumes: (service.volumes || []).join("\n"),
    environment: pairsText(service.environment),
    dependencies: service.depends_on || [],
    healthCommand: Array.isArray(health?.test) ? health.test.slice(1).join(" ") : "",
    healthInterval: health ? String(parseInt(health.interval, 10) || 30) : "30",
  };
}

// A service being changed keeps its own name, and its running container holds its own ports:
// neither is a problem of the change.
function ownProblem(problem, form, initial) {
  if (problem.code === "DUPLICATE_PROJECT_NAME") return true;
  if (problem.code !== "PORT_IN_USE") return false;
  const current = lines(form.ports);
  const item = /^ports\[(\d+)\]$/.exec(problem.field);
  const line = item ? current[Number(item[1])] : current.length === 1 ? current[0] : null;
  return line !== null && lines(initial.ports).includes(line);
}

export function InstallForm({ initial, editing, services = [], onDone }) {
  const [form, setForm] = useState(initial || EMPTY);
  const [errors, setErrors] = useState({});
  const [failure, setFailure] = useState(null);
  const [taskId, setTaskId] = useState(null);
  const touched = useRef(false);
  const [ended, setEnded] = useState(null);
  const artifacts = useApi("/artifacts");

  // Ask the API about the form a moment after the user stops typing.
  useEffect(() => {
    if (!touched.current || !form.name.trim()) return undefined;
    const timer = setTimeout(async () => {
      try {
        const verdict = await api("/validate/service", { method: "POST", body: bodyOf(form) });
        const problems = editing ? verdict.errors.filter((e) => !ownProblem(e, form, initial)) : verdict.errors;
        setErrors(errorsByInput(problems, form.runtime));
      } catch (error) {
        setErrors(error.fields ? errorsByInput(error.details.fields, form.runtime) : {});
      }
    }, DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [form]);

  const finished = (task) => {
    setEnded(task.status);
    if (task.status === "completed" || task.status === "succeeded") {
      notify(`${form.name}: ${editing ? "updated" : "installed"}`);
      onDone?.(form.name);
    }
  };

  const set = (key) => (event) => {
    touched.current = true;
    const value = event.currentTarget.type === "checkbox" ? event.currentTarget.checked : event.currentTarget.value;
    setForm((f) => ({ ...f, [key]: value }));
  };
  const toggleDependency = (name) => (event) => {
    touched.current = true;
    const on = event.currentTarget.checked;
    setForm((f) => ({ ...f, dependencies: on ? [...f.dependencies, name] : f.dependencies.filter((d) => d !== name) }));
  };

  const submit = async (event) => {
    event.preventDefault();
    setFailure(null);
    const body = bodyOf(form);
    try {
      const answer = editing
        ? await api(`/services/${encodeURIComponent(form.name)}`, { method: "PUT", body })
        : await api("/services", { method: "POST", body });
      setEnded(null);
      setTaskId(answer.taskId);
    } catch (error) {
      if (error.details?.fields) setErrors(errorsByInput(error.details.fields, form.runtime));
      setFailure(error);
    }
  };

  const id = (key) => `svc-${key}`;
  const described = (key) => (errors[key] ? `${id(key)}-error` : undefined);
  const input = (key, props = {}) => html`<input id=${id(key)} value=${form[key]} onInput=${set(key)}
    aria-invalid=${Boolean(errors[key])} aria-describedby=${described(key)} ...${props} />`;
  const area = (key, placeholder) => html`<textarea id=${id(key)} rows="3" value=${form[key]}
    onInput=${set(key)} placeholder=${placeholder} aria-invalid=${Boolean(errors[key])}
    aria-describedby=${described(key)}></textarea>`;
  const native = form.runtime === "systemd";
  const others = services.filter((s) => s.name !== form.name);
  const busy = taskId && !["failed", "cancelled", "canceled"].includes(ended);

  return html`<${Card} title=${editing ? `Edit ${form.name}` : "Install a service"} wide>
    <form onSubmit=${submit} novalidate aria-label=${editing ? "Edit service" : "Install service"}>
      <div class="grid">
        <div>
          <${Field} label="Name" id=${id("name")} error=${errors.name}>${input("name", { disabled: editing, autocomplete: "off" })}<//>
          <${Field} label="Runtime" id=${id("runtime")} error=${errors.runtime}>
            <select id=${id("runtime")} value=${form.runtime} onChange=${set("runtime")} disabled=${editing}>
              <option value="docker">Container (Docker)</option>
              <option value="systemd">Native (systemd)</option>
            </select>
          <//>
          ${native
            ? html`<${Field} label="Artefact" id=${id("artifact")} error=${errors.artifact}>
                <select id=${id("artifact")} value=${form.artifact} onChange=${set("artifact")}>
                  <option value="">Choose an uploaded artefact</option>
                  ${(artifacts.data?.artifacts || []).map((a) => html`<option value=${`${a.name}@${a.version}`}>${a.name} ${a.version}</option>`)}
                </select>
              <//>
              <${Field} label="Port" id=${id("port")} error=${errors.port} hint="Where it listens on loopback">${input("port", { inputmode: "numeric" })}<//>`
            : html`<${Field} label="Image" id=${id("image")} error=${errors.image} hint="e.g. nginx:1.27">${input("image", { autocomplete: "off" })}<//>`}
          <${Field} label="Command" id=${id("command")} error=${errors.command} hint="Words as a shell splits them">${input("command", { autocomplete: "off" })}<//>
        </div>
        <div>
          ${!native && html`<${Field} label="Ports" id=${id("ports")} error=${errors.ports} hint="One per line: host:container">${area("ports", "8080:80")}<//>
          <${Field} label="Volumes" id=${id("volumes")} error=${errors.volumes} hint="One per line: source:/target[:ro]">${area("volumes", "data:/data")}<//>`}
          <${Field} label="Environment" id=${id("environment")} error=${errors.environment} hint="One per line: NAME=value">${area("environment", "TZ=UTC")}<//>
        </div>
        <div>
          <fieldset class="field">
            <legend>Dependencies</legend>
            ${others.length ? others.map((s) => html`<label class="check"><input type="checkbox"
              checked=${form.dependencies.includes(s.name)} onChange=${toggleDependency(s.name)} /> ${s.name}</label>`)
              : html`<small class="hint">No other services</small>`}
            ${errors.dependencies && html`<small class="error" role="alert">${errors.dependencies}</small>`}
          </fieldset>
          ${!native && html`<${Field} label="Health check command" id=${id("healthCommand")} error=${errors.health} hint="Run in the container; exit 0 is healthy">${input("healthCommand", { autocomplete: "off" })}<//>
          <${Field} label="Health check interval (s)" id=${id("healthInterval")}>${input("healthInterval", { inputmode: "numeric" })}<//>`}
        </div>
      </div>
      ${errors.general && html`<p class="note error" role="alert">${errors.general}</p>`}
      <${ErrorNote} error=${failure} />
      ${taskId && html`<div class="task"><${TaskProgress} key=${taskId} taskId=${taskId}
        title=${editing ? "Update progress" : "Install progress"} onDone=${finished} /></div>`}
      <div class="row">
        <button type="submit" class="btn primary" disabled=${busy}>${editing ? "Save changes" : "Install"}</button>
        <button type="button" class="btn" onClick=${() => onDone?.(null)}>Cancel</button>
      </div>
    </form>
  <//>`;
}
