// A small application service for tests: an HTTP server that speaks the application service
// API (transactions, user and room queries, ping, third-party protocols) and records what the
// homeserver sent it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { stringify } from "yaml";

export interface Txn { txnId: string; body: any; auth: string | undefined }

export class FakeAppservice {
  readonly txns: Txn[] = [];
  /** Every request, in order. */
  readonly requests: { method: string; path: string; auth: string | undefined; body: any }[] = [];
  /** What the next transaction PUTs answer (then 200 once it is emptied). */
  failWith: number | null = null;
  delayMs = 0;
  onUserQuery: (userId: string) => Promise<boolean> = async () => false;
  onRoomQuery: (alias: string) => Promise<boolean> = async () => false;
  protocols: Record<string, unknown> = {};
  /** Answers to third-party lookups: the path after /thirdparty/ (with its query) → the list. */
  thirdParty: (path: string) => unknown[] = () => [];
  private server!: Server;
  url = "";

  constructor(readonly hsToken: string) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Every event delivered, in order, across transactions (each transaction counted once). */
  events(): any[] {
    const seen = new Set<string>();
    const out: any[] = [];
    for (const t of this.txns) {
      if (seen.has(t.txnId)) continue;
      seen.add(t.txnId);
      out.push(...(t.body.events ?? []));
    }
    return out;
  }

  async waitFor<T>(pick: () => T | undefined | false, ms = 15_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = pick();
      if (v) return v;
      if (Date.now() > end) throw new Error("the application service did not get it in time");
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text = "";
    for await (const c of req) text += c;
    const body = text ? JSON.parse(text) : undefined;
    const auth = req.headers.authorization;
    const p = decodeURIComponent(req.url!.split("?")[0]!);
    this.requests.push({ method: req.method!, path: p, auth, body });
    const json = (status: number, b: unknown) => { res.writeHead(status, { "Content-Type": "application/json" }); res.end(JSON.stringify(b)); };
    if (auth !== `Bearer ${this.hsToken}`) return json(403, { errcode: "M_FORBIDDEN" });
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    let m: RegExpMatchArray | null;
    if (req.method === "PUT" && (m = /^\/_matrix\/app\/v1\/transactions\/(.+)$/.exec(p))) {
      this.txns.push({ txnId: m[1]!, body, auth });
      if (this.failWith !== null) return json(this.failWith, { errcode: "M_UNKNOWN" });
      return json(200, {});
    }
    if (req.method === "GET" && (m = /^\/_matrix\/app\/v1\/users\/(.+)$/.exec(p))) return (await this.onUserQuery(m[1]!)) ? json(200, {}) : json(404, { errcode: "M_NOT_FOUND" });
    if (req.method === "GET" && (m = /^\/_matrix\/app\/v1\/rooms\/(.+)$/.exec(p))) return (await this.onRoomQuery(m[1]!)) ? json(200, {}) : json(404, { errcode: "M_NOT_FOUND" });
    if (req.method === "POST" && p === "/_matrix/app/v1/ping") return this.failWith !== null ? json(this.failWith, { errcode: "M_UNKNOWN" }) : json(200, {});
    if (req.method === "GET" && (m = /^\/_matrix\/app\/v1\/thirdparty\/protocol\/(.+)$/.exec(p))) return this.protocols[m[1]!] ? json(200, this.protocols[m[1]!]) : json(404, { errcode: "M_NOT_FOUND" });
    if (req.method === "GET" && (m = /^\/_matrix\/app\/v1\/thirdparty\/((?:location|user).*)$/.exec(req.url ?? ""))) return json(200, this.thirdParty(decodeURIComponent(m[1]!)));
    json(404, { errcode: "M_UNRECOGNIZED" });
  }
}

/** Writes a registration file (the YAML bridges use) and returns its path. */
export function writeRegistration(reg: Record<string, unknown>): string {
  const dir = mkdtempSync(path.join(tmpdir(), "ganglion-as-"));
  const file = path.join(dir, "registration.yaml");
  writeFileSync(file, stringify(reg));
  return file;
}
