// A WebSocket client for the extension's tests: calls with ids, collects pushed sync frames.
import { WebSocket } from "ws";

export const WS_PATH = "/_matrix/client/unstable/org.ganglion.ws/v1/stream";

export class WsClient {
  readonly frames: any[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private nextId = 1;
  private readonly waiters: { pred: (f: any) => boolean; resolve: (f: any) => void }[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (d) => {
      const f = JSON.parse(d.toString());
      this.frames.push(f);
      for (const w of [...this.waiters]) {
        if (w.pred(f)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(f);
        }
      }
    });
    this.closed = new Promise((resolve) => ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  /** Opens a connection (with `Authorization: Bearer token` if given). */
  static connect(baseUrl: string, token?: string): Promise<WsClient> {
    const ws = new WebSocket(baseUrl.replace(/^http/, "ws") + WS_PATH, token ? { headers: { Authorization: `Bearer ${token}` } } : {});
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(new WsClient(ws)));
      ws.once("unexpected-response", (_req, res) => {
        let text = "";
        res.on("data", (c) => (text += c));
        res.on("end", () => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode, body: text ? JSON.parse(text) : null })));
      });
      ws.once("error", reject);
    });
  }

  /** The first frame (already received or to come) matching `pred`. */
  waitFor(pred: (f: any) => boolean, ms = 10_000): Promise<any> {
    const seen = this.frames.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching frame within ${ms} ms; got ${JSON.stringify(this.frames).slice(0, 500)}`)), ms);
      this.waiters.push({ pred, resolve: (f) => { clearTimeout(timer); resolve(f); } });
    });
  }

  /** Sends a command and resolves with its answer frame ({id, result} or {id, error}). */
  call(method: string, params?: unknown): Promise<any> {
    const id = `c${this.nextId++}`;
    this.ws.send(JSON.stringify({ id, method, ...(params !== undefined ? { params } : {}) }));
    return this.waitFor((f) => f.id === id);
  }

  sendRaw(text: string): void {
    this.ws.send(text);
  }

  /** Pushed sync frames so far. */
  get syncs(): any[] {
    return this.frames.filter((f) => f.method === "sync");
  }

  close(): void {
    this.ws.close();
  }
}
