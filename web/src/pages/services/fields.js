// The install form's text inputs turned into the API's body, and the API's error paths
// ("ports[0]", "environment.KEY", "volumes[1].target") turned back into the form's inputs.

// Splits a command line into words, honouring single and double quotes.
export function words(text) {
  const out = [];
  let word = null;
  let quote = null;
  for (const ch of String(text || "")) {
    if (quote) {
      if (ch === quote) quote = null;
      else word += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      word ??= "";
    } else if (/\s/.test(ch)) {
      if (word !== null) out.push(word);
      word = null;
    } else {
      word = (word ?? "") + ch;
    }
  }
  if (word !== null) out.push(word);
  return out;
}

// A word written so that `words` reads it back unchanged.
export function quote(word) {
  if (/^[\w@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'"'"'`)}'`;
}

export function lines(text) {
  return String(text || "").split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
}

// "KEY=value" lines as an object.
export function pairs(text) {
  const out = {};
  for (const line of String(text || "").split(/\r?\n/)) {
    if (!line.trim()) continue;
    const at = line.indexOf("=");
    if (at < 0) out[line.trim()] = "";
    else out[line.slice(0, at).trim()] = line.slice(at + 1);
  }
  return out;
}

export function pairsText(object) {
  return Object.entries(object || {}).map(([k, v]) => `${k}=${v}`).join("\n");
}

// The form's state as a service body for install, update and validation.
export function bodyOf(form) {
  const body = { name: form.name.trim() };
  if (form.runtime === "systemd") {
    body.runtime = "systemd";
    if (form.artifact) {
      const [name, version] = form.artifact.split("@");
      body.artifact = { name, version };
    }
    if (form.port) body.port = Number(form.port);
  } else {
    body.image = form.image.trim();
    body.ports = lines(form.ports);
    body.volumes = lines(form.volumes);
  }
  if (form.command.trim()) body.command = words(form.command);
  body.environment = pairs(form.environment);
  body.depends_on = form.dependencies;
  if (form.runtime !== "systemd" && form.healthCommand.trim()) {
    body.healthcheck = {
      test: ["CMD-SHELL", form.healthCommand.trim()],
      interval: `${form.healthInterval || 30}s`,
    };
  }
  return body;
}

// The form's input an error path belongs to.
const INPUTS = {
  name: "name", project_name: "name", image: "image", ports: "ports", volumes: "volumes",
  environment: "environment", depends_on: "dependencies", dependencies: "dependencies",
  healthcheck: "health", health: "health", command: "command", artifact: "artifact",
  exec: "artifact", runtime: "runtime",
};

export function inputOf(path, runtime) {
  const base = String(path || "").split(/[.[]/)[0];
  if (base === "port") return runtime === "systemd" ? "port" : "ports";
  return INPUTS[base] || "general";
}

// Problems (`{field, message}`) grouped by input; a line number leads list items' messages.
export function errorsByInput(problems, runtime) {
  const out = {};
  for (const problem of problems || []) {
    const input = inputOf(problem.field ?? problem.path, runtime);
    const item = /^\w+\[(\d+)\]/.exec(problem.field ?? problem.path ?? "");
    // The API's message repeats the path ("Invalid ports[0]: ..."): the input says it already.
    const message = String(problem.message).replace(/^Invalid [^:]+: /, "");
    const text = item ? `Line ${Number(item[1]) + 1}: ${message}` : message;
    out[input] = out[input] ? `${out[input]}; ${text}` : text;
  }
  return out;
}
