// The one way the pages talk to Homei: JSON over fetch with the session's access token, the
// error envelope turned into an `ApiError`, uploads with progress, downloads as files.
import { session } from "./session.js";

export const API = "/api/v1";

export class ApiError extends Error {
  constructor(status, envelope) {
    const error = envelope?.error ?? {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "HTTP_ERROR";
    this.details = error.details || {};
  }

  // Field errors of a 422, as { "body.ports": "message" }, for forms to show beside fields.
  get fields() {
    const out = {};
    for (const f of this.details.fields || []) out[f.path || f.field || ""] = f.message || this.message;
    return out;
  }
}

function url(path, query) {
  const full = path.startsWith("/") && !path.startsWith(API) && !path.startsWith("/health") && !path.startsWith("/ws")
    ? API + path : path;
  if (!query) return full;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    for (const v of Array.isArray(value) ? value : [value]) params.append(key, String(v));
  }
  const text = params.toString();
  return text ? `${full}?${text}` : full;
}

async function envelope(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

// `api("/services")`, `api("/services", { method: "POST", body })`; resolves to the decoded
// JSON (or null for an empty answer), rejects with ApiError.
export async function api(path, { method = "GET", body, query, signal, headers = {}, retry = true } = {}) {
  const init = { method, signal, headers: { Accept: "application/json", ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const token = session.token;
  if (token) init.headers.Authorization = `Bearer ${token}`;
  const response = await fetch(url(path, query), init);
  if (response.status === 401 && retry && token && (await session.renew())) {
    return api(path, { method, body, query, signal, headers, retry: false });
  }
  if (!response.ok) throw new ApiError(response.status, await envelope(response));
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  return type.includes("json") ? response.json() : response.text();
}

// Sends a file as the raw body (or as `field` of a form), reporting progress as 0..1.
export function upload(path, file, { query, onProgress, method = "POST", field } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url(path, query));
    if (session.token) xhr.setRequestHeader("Authorization", `Bearer ${session.token}`);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress?.(e.loaded / e.total);
    xhr.onerror = () => reject(new ApiError(0, { error: { message: "The upload was cut off" } }));
    xhr.onload = () => {
      let body = null;
      try {
        body = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError(xhr.status, body));
    };
    if (field) {
      const form = new FormData();
      form.append(field, file, file.name);
      xhr.send(form);
    } else {
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      xhr.send(file);
    }
  });
}

// Fetches with the token and hands the body to the browser as a file to save.
export async function download(path, filename) {
  const response = await fetch(url(path), { headers: { Authorization: `Bearer ${session.token}` } });
  if (!response.ok) throw new ApiError(response.status, await envelope(response));
  const blob = await response.blob();
  const href = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = href;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
}

export { url as apiUrl };
