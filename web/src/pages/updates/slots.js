// The slots RAUC reports, which one is booted and primary, and the admin's marks.
import { html, Card, Badge, Action, Table, notify } from "../../lib/ui.js";
import { api } from "../../lib/api.js";

export function Slots({ status, onChange }) {
  const mark = async (state, slot) => {
    const answer = await api(`/update/mark-${state}`, { method: "POST", body: { slot } });
    notify(answer.message);
    onChange();
  };
  const slots = status?.slots ?? [];
  return html`<${Card} title="Slots" wide>
    <${Table} caption="Root file system slots" empty="No slot reported" rows=${slots}
      columns=${[
        { title: "Slot", render: (s) => html`<strong>${s.bootname ?? s.name}</strong> <small>${s.name}</small>` },
        { title: "Role", render: (s) => roles(s, status) },
        { title: "State", render: (s) => html`<${Badge} state=${s.state} />` },
        { title: "Boot status", render: (s) => html`<${Badge} state=${s.boot_status ?? "–"} />` },
        { title: "Version", render: (s) => s.bundle_version ?? "–" },
        { title: "Marks", render: (s) => s.bootname && html`<div class="row">
          <${Action} permission="admin" label=${`Mark ${s.bootname} good`}
            onClick=${() => mark("good", s.name)}>Good<//>
          <${Action} permission="admin" kind="danger" label=${`Mark ${s.bootname} bad`}
            onClick=${() => mark("bad", s.name)}>Bad<//>
        </div>` },
      ]} />
  <//>`;
}

function roles(slot, status) {
  const names = [slot.name, slot.bootname].filter(Boolean);
  const out = [];
  if (names.includes(status.bootSlot) || names.includes(status.booted)) out.push("booted");
  if (names.includes(status.primary)) out.push("primary");
  return out.join(", ") || "–";
}
