import { useState } from "preact/hooks";
import { session } from "../lib/session.js";
import { html } from "../lib/ui.js";

export function SignIn() {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError(null);
    try {
      await session.signIn(form.get("username"), form.get("password"));
    } catch (err) {
      setError(err.message);
      setBusy(false);
    }
  };
  return html`<main class="signin" id="main">
    <form class="card" onSubmit=${submit} aria-labelledby="signin-title">
      <h1 id="signin-title">Homei</h1>
      <p>Sign in to this device.</p>
      <div class="field"><label for="username">Username</label>
        <input id="username" name="username" autocomplete="username" required /></div>
      <div class="field"><label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required /></div>
      ${error && html`<p class="note error" role="alert">${error}</p>`}
      <button class="btn primary" type="submit" disabled=${busy}>Sign in</button>
    </form>
  </main>`;
}
