// Start, stop and restart a service: buttons only for roles that may control services.
import { api } from "../../lib/api.js";
import { Action, html, notify } from "../../lib/ui.js";

// `runtime` of a service as the list shows it: native services' image names their program.
export function runtimeOf(service) {
  return String(service.image || "").startsWith("systemd:") ? "systemd" : "docker";
}

// Names of the services that depend on `name`, from the list of all services.
export function dependentsOf(name, services) {
  return (services || []).filter((s) => (s.depends_on || []).includes(name)).map((s) => s.name);
}

export function Controls({ service, onDone }) {
  const running = ["running", "restarting", "paused"].includes(service.status);
  const act = (verb) => async () => {
    const answer = await api(`/services/${encodeURIComponent(service.name)}/${verb}`, { method: "POST" });
    notify(answer?.message || `${service.name}: ${verb}`);
    onDone?.();
  };
  const label = (verb) => `${verb} ${service.name}`;
  return html`<div class="row">
    ${!running && html`<${Action} permission="control" onClick=${act("start")} label=${label("Start")}>Start<//>`}
    ${running && html`<${Action} permission="control" onClick=${act("stop")} label=${label("Stop")}>Stop<//>`}
    <${Action} permission="control" onClick=${act("restart")} label=${label("Restart")}>Restart<//>
  </div>`;
}
