// Users and API keys, for admins: accounts with their roles, and long-lived keys.
import { useState } from "preact/hooks";
import { html, Page, Card, Action, ErrorNote, Field, Table, useApi, notify, confirmed } from "../lib/ui.js";
import { api } from "../lib/api.js";
import { session } from "../lib/session.js";
import { when } from "../lib/format.js";
import { ApiKeys } from "./users/keys.js";

export const ROLES = ["admin", "operator", "viewer", "metrics"];

export function Users() {
  const users = useApi("/users");
  const setRole = async (user, role) => {
    try {
      await api(`/users/${encodeURIComponent(user.username)}`, { method: "PATCH", body: { role } });
      notify(`${user.username} is now ${role}`);
    } catch (err) {
      notify(err.message, "error");
    }
    users.reload();
  };
  const remove = async (user) => {
    if (!confirmed(`Delete the user ${user.username} and their API keys?`)) return;
    await api(`/users/${encodeURIComponent(user.username)}`, { method: "DELETE" });
    notify(`Deleted ${user.username}`);
    users.reload();
  };
  return html`<${Page} title="Users & keys">
    <div class="grid">
      <${Card} title="Users" wide>
        <${ErrorNote} error=${users.error} />
        <${Table} caption="Accounts of this device" rows=${users.data?.users}
          columns=${[
            { title: "User", key: "username" },
            { title: "Role", render: (u) => html`<select aria-label=${`Role of ${u.username}`} value=${u.role}
              onChange=${(e) => setRole(u, e.currentTarget.value)}>
              ${ROLES.map((r) => html`<option value=${r}>${r}</option>`)}
            </select>` },
            { title: "Created", render: (u) => when(u.created) },
            { title: "", render: (u) => u.username !== session.user.username && html`<${Action}
              permission="admin" kind="danger" label=${`Delete ${u.username}`}
              onClick=${() => remove(u)}>Delete<//>` },
          ]} />
      <//>
      <${AddUser} onAdded=${() => users.reload()} />
      <${ApiKeys} />
    </div>
  <//>`;
}

function AddUser({ onAdded }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState("viewer");
  const [error, setError] = useState(null);
  const add = async () => {
    setError(null);
    try {
      const user = await api("/users", { method: "POST", body: { username: username.trim(), password, role } });
      notify(`Added ${user.username}`);
      setUsername("");
      setPassword("");
      onAdded();
    } catch (err) {
      setError(err);
    }
  };
  const fields = error?.fields ?? {};
  return html`<${Card} title="Add a user">
    <form onSubmit=${(e) => e.preventDefault()}>
      <${Field} label="Username" id="user-name" error=${fields["body.username"]}>
        <input id="user-name" autocomplete="off" value=${username} onInput=${(e) => setUsername(e.currentTarget.value)} />
      <//>
      <${Field} label="Password" id="user-password" error=${fields["body.password"]}>
        <input id="user-password" type="password" autocomplete="new-password" value=${password}
          onInput=${(e) => setPassword(e.currentTarget.value)} />
      <//>
      <${Field} label="Role" id="user-role">
        <select id="user-role" value=${role} onChange=${(e) => setRole(e.currentTarget.value)}>
          ${ROLES.map((r) => html`<option value=${r}>${r}</option>`)}
        </select>
      <//>
      <${ErrorNote} error=${error && !Object.keys(fields).length ? error : null} />
      <${Action} permission="admin" kind="primary" onClick=${add}>Add user<//>
    </form>
  <//>`;
}
