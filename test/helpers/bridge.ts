// Shared set-up of the bridge tests: a free port for the bridge, and a homeserver started with
// the bridge's registration (as an operator would register it).
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { pino } from "pino";
import type { BaseBridgeConfig } from "../../bridges/kit/config.js";
import { registrationYaml } from "../../bridges/kit/registration.js";
import { startHomeserver, type Homeserver } from "../../src/server.js";
import { testConfig } from "./server.js";

export const freePort = () => new Promise<number>((r) => {
  const s = createServer().listen(0, "127.0.0.1", () => { const p = (s.address() as { port: number }).port; s.close(() => r(p)); });
});

/** A homeserver on `dbUrl` with the bridge registered. */
export async function homeserverFor(dbUrl: string, c: Pick<BaseBridgeConfig, "appservice">): Promise<Homeserver> {
  const a = c.appservice;
  const reg = path.join(mkdtempSync(path.join(tmpdir(), "ganglion-bridge-")), "registration.yaml");
  writeFileSync(reg, registrationYaml({ id: a.id, url: a.url, asToken: a.as_token, hsToken: a.hs_token, botLocalpart: a.bot_localpart, userPrefix: a.user_prefix, domain: "localhost" }));
  return startHomeserver(testConfig(dbUrl, { appservices: { registration_files: [reg] } }), { log: pino({ level: "silent" }), shutdownGraceMs: 1000 });
}

/** Runs a bridge's main with --generate-registration on its sample config; returns the file. */
export function generateRegistration(bridge: "whatsapp" | "googlechat"): { status: number | null; stderr: string; file: string; sample: string } {
  const root = path.resolve(import.meta.dirname, "../..");
  const sample = path.join(root, `bridges/${bridge}/config.sample.yaml`);
  const file = path.join(mkdtempSync(path.join(tmpdir(), "ganglion-reg-")), "reg.yaml");
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(root, `bridges/${bridge}/main.ts`), "--config", sample, "--generate-registration", file], { cwd: root, encoding: "utf8" });
  return { status: r.status, stderr: r.stderr, file, sample };
}
