// Serves the reference web client (packages/web, bundled into its dist/ at install) at
// `web_client.path`, under a strict Content-Security-Policy: scripts, styles and connections
// only from this origin (the page's homeserver), images also from blob: URLs (authenticated
// media is fetched with the token and shown from blobs), nothing framed, no inline code.
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import express, { type Express, type NextFunction, type Request, type Response } from "express";
import type { Logger } from "pino";
import type { Config } from "../config/schema.js";

export const WEB_CLIENT_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** packages/web/dist from this file, whether it runs from src/ (tsx) or dist/src/ (built). */
function bundledDir(): string | null {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, "packages", "web", "dist");
    if (existsSync(path.join(candidate, "index.html"))) return candidate;
    dir = path.dirname(dir);
  }
  return null;
}

export function mountWebClient(app: Express, config: Config, log: Logger): void {
  if (!config.web_client.enabled) return;
  const base = config.web_client.path;
  const dir = config.web_client.dir ?? bundledDir();
  const headers = (res: Response) => {
    res.setHeader("Content-Security-Policy", WEB_CLIENT_CSP);
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.setHeader("X-Frame-Options", "DENY");
    res.setHeader("Referrer-Policy", "no-referrer");
    // Revalidated on each load (Last-Modified), so an upgraded server serves its own bundle.
    res.setHeader("Cache-Control", "no-cache");
  };
  if (!dir || !existsSync(path.join(dir, "index.html"))) {
    log.warn({ dir }, "web client enabled but not built (npm run build:web); its path answers 503");
    app.get(base, (_req: Request, res: Response) => {
      headers(res);
      res.status(503).type("text/plain").send("The web client is not built on this server: run `npm run build:web`.\n");
    });
    return;
  }
  // "/chat" → "/chat/" (the page's relative asset URLs need the slash). Express matches the
  // route for "/chat/" too, which goes on to the files.
  if (base !== "/") app.get(base.slice(0, -1), (req: Request, res: Response, next: NextFunction) => (req.path.endsWith("/") ? next() : res.redirect(301, base)));
  app.use(base, express.static(dir, {
    index: "index.html",
    dotfiles: "deny",
    etag: false,
    redirect: false,
    setHeaders: headers,
  }));
}
