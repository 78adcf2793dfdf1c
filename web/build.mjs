// Bundles the dashboard into the Python package: `homei/web/index.html` and hashed files under
// `homei/web/assets/`. The page loads nothing but these files (no CDN, no inline script), so the
// daemon can serve them with `default-src 'self'` and cache the hashed ones for a year.
import { build } from "esbuild";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "homei", "web");
const assets = join(out, "assets");
const budget = 100 * 1024; // all JavaScript and CSS of the first page, gzipped

rmSync(out, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });

const result = await build({
  entryPoints: { app: join(here, "src", "main.js") },
  bundle: true,
  format: "esm",
  splitting: true,
  minify: true,
  sourcemap: false,
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  outdir: assets,
  entryNames: "[name]-[hash]",
  chunkNames: "chunk-[hash]",
  assetNames: "[name]-[hash]",
  metafile: true,
  absWorkingDir: here,
  legalComments: "none",
  logLevel: "warning",
});

const outputs = Object.entries(result.metafile.outputs);
const entry = (ext) => {
  const found = outputs.find(([file, meta]) => meta.entryPoint && file.endsWith(ext))
    ?? outputs.find(([file]) => basename(file).startsWith("app-") && file.endsWith(ext));
  if (!found) throw new Error(`no ${ext} output`);
  return basename(found[0]);
};
const script = entry(".js");
const style = entry(".css");

const page = readFileSync(join(here, "src", "index.html"), "utf8")
  .replaceAll("{{script}}", `/assets/${script}`)
  .replaceAll("{{style}}", `/assets/${style}`);
writeFileSync(join(out, "index.html"), page);

let gzipped = 0;
const sizes = {};
for (const [file] of outputs) {
  const size = gzipSync(readFileSync(join(here, file))).length;
  sizes[basename(file)] = size;
  gzipped += size;
}
writeFileSync(
  join(out, "manifest.json"),
  JSON.stringify({ script, style, gzipped, sizes }, null, 2) + "\n",
);
console.log(`dashboard: ${outputs.length} files, ${(gzipped / 1024).toFixed(1)} KiB gzipped`);
if (gzipped > budget) {
  console.error(`over the budget of ${budget / 1024} KiB gzipped`);
  process.exit(1);
}
