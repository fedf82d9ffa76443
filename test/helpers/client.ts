// A small HTTP client for tests: sends exactly what a test says (raw bodies included) and
// returns status, headers and the parsed JSON.
import { randomBytes } from "node:crypto";

export interface Resp<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface ReqOpts {
  body?: unknown;
  /** Sent as is (for malformed JSON tests). */
  raw?: string | Buffer;
  headers?: Record<string, string>;
  token?: string | null;
}

export class Client {
  constructor(readonly baseUrl: string, public token?: string) {}

  async req<T = any>(method: string, path: string, opts: ReqOpts = {}): Promise<Resp<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    const token = opts.token === undefined ? this.token : opts.token;
    if (token) headers.Authorization = `Bearer ${token}`;
    let body: string | Buffer | undefined;
    if (opts.raw !== undefined) body = opts.raw;
    else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers["Content-Type"] ??= "application/json";
    }
    const res = await fetch(this.baseUrl + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = undefined;
    try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = undefined; }
    return { status: res.status, headers: res.headers, body: parsed as T, text };
  }

  get<T = any>(path: string, opts?: ReqOpts) { return this.req<T>("GET", path, opts); }
  post<T = any>(path: string, body?: unknown, opts: ReqOpts = {}) { return this.req<T>("POST", path, { ...opts, body: body ?? opts.body }); }
  put<T = any>(path: string, body?: unknown, opts: ReqOpts = {}) { return this.req<T>("PUT", path, { ...opts, body: body ?? opts.body }); }
  del<T = any>(path: string, body?: unknown, opts: ReqOpts = {}) { return this.req<T>("DELETE", path, { ...opts, body: body ?? opts.body }); }

  /** Registers a user with the dummy flow and returns a client logged in as them. */
  async register(localpart?: string, password = "correct horse battery staple", extra: Record<string, unknown> = {}): Promise<UserClient> {
    const username = localpart ?? `u${randomBytes(5).toString("hex")}`;
    const r = await this.post("/_matrix/client/v3/register", { username, password, auth: { type: "m.login.dummy" }, ...extra });
    if (r.status !== 200) throw new Error(`register ${username}: ${r.status} ${r.text}`);
    const c = new UserClient(this.baseUrl, r.body.access_token);
    c.userId = r.body.user_id;
    c.deviceId = r.body.device_id;
    c.password = password;
    return c;
  }
}

export class UserClient extends Client {
  userId!: string;
  deviceId!: string;
  password!: string;
}

export const enc = encodeURIComponent;
