// Bundles the web client with esbuild into dist/ (index.html, app.js, app.css). Run at install
// (the root package's `prepare`), by `npm run build`, and by the browser tests before they start.
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

export async function buildWeb({ outDir = path.join(here, "dist"), minify = true } = {}) {
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [path.join(here, "src/main.tsx")],
    bundle: true,
    format: "esm",
    target: ["es2022", "chrome110", "firefox115", "safari16"],
    outfile: path.join(outDir, "app.js"),
    jsx: "automatic",
    jsxImportSource: "preact",
    // The SDK from its sources: no build order between the two packages.
    alias: { "@ganglion/client": path.join(here, "../client/src/index.ts") },
    minify,
    sourcemap: true,
    legalComments: "linked",
    logLevel: "warning",
  });
  for (const f of ["index.html", "app.css"]) copyFileSync(path.join(here, "src", f), path.join(outDir, f));
  return outDir;
}

// No top-level await: the tests import this file, and a module graph with one is loaded twice
// by Node's require(esm) fallback (two copies of the test helpers).
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildWeb().catch((e) => { console.error(e); process.exit(1); });
}
