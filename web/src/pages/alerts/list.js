// The alerts, newest first, kept current by the `alert:*` events; acknowledging for the
// roles that may.
import { useState } from "preact/hooks";
import { api } from "../../lib/api.js";
import { html, Action, Badge, Card, ErrorNote, Table, notify, useApi, useEvents } from "../../lib/ui.js";
import { when } from "../../lib/format.js";

const FILTERS = [["", "All"], ["firing", "Firing"], ["resolved", "Resolved"]];

export function AlertList() {
  const [state, setState] = useState("");
  const alerts = useApi("/alerts", { query: { state, limit: 100 } });
  useEvents("alert:*", () => alerts.reload());

  const acknowledge = async (alert) => {
    await api(`/alerts/${alert.id}/acknowledge`, { method: "POST" });
    notify("Alert acknowledged");
    await alerts.reload();
  };

  const columns = [
    { title: "Level", render: (a) => html`<${Badge} state=${a.level} />` },
    { title: "Alert", render: (a) => html`<span class="alert-message">${a.message}</span>
      <small class="muted block">${a.source} · ${a.rule} · ${a.subject}</small>` },
    { title: "State", render: (a) => html`<${Badge} state=${a.state} />` },
    { title: "Fired", render: (a) => when(a.firedAt) },
    { title: "Resolved", render: (a) => when(a.resolvedAt) },
    {
      title: "Acknowledged",
      render: (a) => (a.acknowledgedAt
        ? `${a.acknowledgedBy || "someone"}, ${when(a.acknowledgedAt)}`
        : html`<${Action} permission="control" label=${`Acknowledge: ${a.message}`}
            onClick=${() => acknowledge(a)}>Acknowledge<//>`),
    },
  ];

  const total = alerts.data?.total ?? 0;
  return html`<${Card} title="Alerts" wide id="alert-list">
    <div class="row filters">
      <label for="alert-state">Show</label>
      <select id="alert-state" value=${state} onChange=${(e) => setState(e.currentTarget.value)}>
        ${FILTERS.map(([value, label]) => html`<option value=${value}>${label}</option>`)}
      </select>
      <span class="muted small" role="status">${alerts.loading ? "Loading…" : `${total} alert${total === 1 ? "" : "s"}`}</span>
    </div>
    <${ErrorNote} error=${alerts.error} />
    <${Table} columns=${columns} rows=${alerts.data?.alerts} empty="No alerts." caption="Alerts, newest first" />
  <//>`;
}
