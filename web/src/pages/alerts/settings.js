// `alerts/settings` as a form: thresholds with their timing, and the notification channels
// (desktop, webhook, email). Saved as a whole; each field error shows beside its field.
import { useEffect, useState } from "preact/hooks";
import { api } from "../../lib/api.js";
import { session } from "../../lib/session.js";
import { html, Card, ErrorNote, notify, useApi } from "../../lib/ui.js";
import { Check, Input, Select } from "./fields.js";

const FAMILIES = [
  ["cpu", "CPU", "%"], ["memory", "Memory", "%"], ["disk", "Disk", "%"],
  ["swap", "Swap", "%"], ["inodes", "Inodes", "%"], ["temperature", "Temperature", "°C"],
];
const LEVELS = [["info", "info"], ["warning", "warning"], ["error", "error"], ["critical", "critical"]];
const CHANNEL_LEVELS = [["", "as above"], ...LEVELS];

// The answer as the form edits it: numbers as text, optional channels as empty strings.
function draftOf(settings) {
  const text = (v) => (v === null || v === undefined ? "" : String(v));
  const thresholds = {};
  for (const [name] of FAMILIES) {
    const pair = settings.thresholds[name];
    const timing = settings.rules.thresholds[name] || { for: 60, hysteresis: 5 };
    thresholds[name] = { warning: text(pair.warning), critical: text(pair.critical),
      for: text(timing.for), hysteresis: text(timing.hysteresis) };
  }
  const n = settings.notifications;
  const w = n.webhook || {};
  const s = n.smtp || {};
  return {
    thresholds,
    notifications: {
      desktop: n.desktop, email: n.email, minLevel: n.minLevel,
      webhook: { url: w.url || "", secret: "", hasSecret: Boolean(w.hasSecret), dropSecret: false,
        minLevel: w.minLevel || "" },
      smtp: { host: s.host || "", port: text(s.port ?? 587), starttls: s.starttls ?? true,
        username: s.username || "", password: "", hasPassword: Boolean(s.hasPassword), dropPassword: false,
        sender: s.sender || "homei@localhost", recipients: (s.recipients || []).join(", "),
        minLevel: s.minLevel || "" },
    },
  };
}

function number(text) {
  return text === "" ? null : Number(text);
}

// A secret typed in replaces the stored one, one asked to be removed is "", else null keeps it.
function secret(typed, drop) {
  if (typed) return typed;
  return drop ? "" : null;
}

// The request, whole.
function bodyOf(draft, current) {
  const thresholds = {};
  const timing = {};
  for (const [name] of FAMILIES) {
    const t = draft.thresholds[name];
    thresholds[name] = { warning: number(t.warning), critical: number(t.critical) };
    timing[name] = { for: number(t.for), hysteresis: number(t.hysteresis) };
  }
  const n = draft.notifications;
  const w = n.webhook;
  const s = n.smtp;
  return {
    thresholds,
    rules: { ...current.rules, thresholds: timing },
    notifications: {
      desktop: n.desktop, email: n.email, minLevel: n.minLevel,
      webhook: w.url.trim() ? { url: w.url.trim(), secret: secret(w.secret, w.dropSecret), minLevel: w.minLevel || null } : null,
      smtp: s.host.trim() ? {
        host: s.host.trim(), port: number(s.port), starttls: s.starttls, username: s.username,
        password: secret(s.password, s.dropPassword), sender: s.sender,
        recipients: s.recipients.split(",").map((r) => r.trim()).filter(Boolean),
        minLevel: s.minLevel || null,
      } : null,
    },
  };
}

function set(draft, path, value) {
  const next = structuredClone(draft);
  const keys = path.split(".");
  let node = next;
  for (const key of keys.slice(0, -1)) node = node[key];
  node[keys[keys.length - 1]] = value;
  return next;
}

// `body.rules.thresholds.cpu.for` names the form's `thresholds.cpu.for`.
function formPath(path) {
  return path.replace(/^body\./, "").replace(/^rules\.thresholds\./, "thresholds.").replace(/\[\d+\]$/, "");
}

export function AlertSettings() {
  const settings = useApi("/alerts/settings");
  const [draft, setDraft] = useState(null);
  const [errors, setErrors] = useState({});
  const [failure, setFailure] = useState(null);
  const [busy, setBusy] = useState(false);
  const admin = session.isAdmin;

  useEffect(() => {
    if (settings.data) setDraft(draftOf(settings.data));
  }, [settings.data]);

  if (!draft) return html`<${Card} title="Settings" wide><${ErrorNote} error=${settings.error} /><p>Loading…</p><//>`;
  const edit = (path, value) => setDraft((d) => set(d, path, value));
  const props = { draft, set: edit, errors };

  const save = async (event) => {
    event.preventDefault();
    setBusy(true);
    setFailure(null);
    try {
      await api("/alerts/settings", { method: "POST", body: bodyOf(draft, settings.data) });
      setErrors({});
      await settings.reload();
      notify("Alert settings saved");
    } catch (error) {
      const fields = {};
      for (const [path, message] of Object.entries(error.fields || {})) fields[formPath(path)] = message;
      setErrors(fields);
      setFailure(error);
    } finally {
      setBusy(false);
    }
  };

  const n = "notifications";
  return html`<${Card} title="Settings" wide id="alert-settings">
    <form onSubmit=${save} novalidate aria-label="Alert settings">
      <fieldset class="plain" disabled=${!admin}>
        <h3>Thresholds</h3>
        <p class="muted small">An alert fires once a figure has stayed at or over a line for the time given,
          and clears once it is the hysteresis below it.</p>
        <div class="families">${FAMILIES.map(([name, label, unit]) => html`<fieldset class="family" key=${name}>
          <legend>${label}</legend>
          <${Input} path=${`thresholds.${name}.warning`} label=${`Warning (${unit})`} type="number" step="any" ...${props} />
          <${Input} path=${`thresholds.${name}.critical`} label=${`Critical (${unit})`} type="number" step="any" ...${props} />
          <${Input} path=${`thresholds.${name}.for`} label="Hold for (s)" type="number" step="any" ...${props} />
          <${Input} path=${`thresholds.${name}.hysteresis`} label=${`Hysteresis (${unit})`} type="number" step="any" ...${props} />
        </fieldset>`)}</div>

        <h3>Notifications</h3>
        <div class="channels">
          <fieldset class="family"><legend>All channels</legend>
            <${Check} path=${`${n}.desktop`} label="Desktop notifications in the browser" ...${props} />
            <${Select} path=${`${n}.minLevel`} label="Lowest level" options=${LEVELS} ...${props} />
          </fieldset>
          <fieldset class="family"><legend>Webhook</legend>
            <${Input} path=${`${n}.webhook.url`} label="URL (empty: none)" type="url" ...${props} />
            <${Input} path=${`${n}.webhook.secret`} label="Signing secret" type="password" autocomplete="new-password"
              placeholder=${draft.notifications.webhook.hasSecret ? "set; empty keeps it" : "none"} ...${props} />
            ${draft.notifications.webhook.hasSecret && html`<${Check} path=${`${n}.webhook.dropSecret`}
              label="Remove the stored secret" ...${props} />`}
            <${Select} path=${`${n}.webhook.minLevel`} label="Lowest level" options=${CHANNEL_LEVELS} ...${props} />
          </fieldset>
          <fieldset class="family"><legend>Email</legend>
            <${Check} path=${`${n}.email`} label="Send email" ...${props} />
            <${Input} path=${`${n}.smtp.host`} label="Mail server (empty: none)" ...${props} />
            <${Input} path=${`${n}.smtp.port`} label="Port" type="number" ...${props} />
            <${Check} path=${`${n}.smtp.starttls`} label="STARTTLS" ...${props} />
            <${Input} path=${`${n}.smtp.username`} label="Username" autocomplete="off" ...${props} />
            <${Input} path=${`${n}.smtp.password`} label="Password" type="password" autocomplete="new-password"
              placeholder=${draft.notifications.smtp.hasPassword ? "set; empty keeps it" : "none"} ...${props} />
            ${draft.notifications.smtp.hasPassword && html`<${Check} path=${`${n}.smtp.dropPassword`}
              label="Remove the stored password" ...${props} />`}
            <${Input} path=${`${n}.smtp.sender`} label="Sender" ...${props} />
            <${Input} path=${`${n}.smtp.recipients`} label="Recipients (comma-separated)" ...${props} />
            <${Select} path=${`${n}.smtp.minLevel`} label="Lowest level" options=${CHANNEL_LEVELS} ...${props} />
          </fieldset>
        </div>
      </fieldset>
      <${ErrorNote} error=${failure} />
      ${admin
        ? html`<div class="row"><button class="btn primary" type="submit" disabled=${busy}>Save settings</button>
            <button class="btn" type="button" onClick=${() => { setDraft(draftOf(settings.data)); setErrors({}); setFailure(null); }}>Reset</button></div>`
        : html`<p class="muted small">Only an admin can change these settings.</p>`}
    </form>
  <//>`;
}
