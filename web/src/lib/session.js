// Who is signed in. The access token lives only in this module's memory; the refresh token is
// an HttpOnly cookie the page cannot read, traded for a new access token after a reload and
// shortly before the current one expires. Nothing is written to localStorage.
const PATH = "/api/v1/auth/session";
const HEADERS = { "X-Homei-Session": "1", Accept: "application/json" };

const listeners = new Set();
let timer = null;
let renewing = null;

export const session = {
  token: null,
  user: null,

  can(permission) {
    return Boolean(this.user?.permissions?.includes(permission));
  },

  get isAdmin() {
    return this.user?.role === "admin";
  },

  subscribe(listener) {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },

  // Username and password; resolves to the user or rejects with the API's message.
  async signIn(username, password) {
    const response = await fetch(PATH, {
      method: "POST",
      headers: { ...HEADERS, "Content-Type": "application/json" },
      body: JSON.stringify({ username, password }),
      credentials: "same-origin",
    });
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new Error(body?.error?.message || `Sign-in failed (${response.status})`);
    adopt(body);
    return this.user;
  },

  // A session from the cookie, after a reload; false when there is none.
  async resume() {
    return this.renew();
  },

  renew() {
    renewing ??= (async () => {
      try {
        const response = await fetch(`${PATH}/refresh`, {
          method: "POST",
          headers: HEADERS,
          credentials: "same-origin",
        });
        if (!response.ok) {
          clear();
          return false;
        }
        adopt(await response.json());
        return true;
      } catch {
        return false;
      } finally {
        renewing = null;
      }
    })();
    return renewing;
  },

  async signOut() {
    try {
      await fetch(PATH, { method: "DELETE", headers: HEADERS, credentials: "same-origin" });
    } finally {
      clear();
    }
  },
};

function adopt(answer) {
  session.token = answer.access_token;
  session.user = answer.user;
  clearTimeout(timer);
  // Renew at 80 % of the token's life, so requests never meet an expired one.
  const seconds = Math.max(30, Math.floor((answer.expires_in || 3600) * 0.8));
  timer = setTimeout(() => session.renew(), seconds * 1000);
  notify();
}

function clear() {
  clearTimeout(timer);
  session.token = null;
  session.user = null;
  notify();
}

function notify() {
  for (const listener of listeners) listener(session.user);
}
