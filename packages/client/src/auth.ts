// Logging in and registering over HTTP, before there is a token (spec: Client Authentication,
// User-Interactive Authentication). What they return is what GanglionClient needs.
import { MatrixError } from "./http.js";
import type { Json } from "./types.js";

export interface Session {
  userId: string;
  accessToken: string;
  deviceId: string;
  /** The homeserver the session belongs to. */
  baseUrl: string;
}

const post = async (baseUrl: string, path: string, body: Json, fetchFn: typeof fetch): Promise<{ status: number; body: Json }> => {
  const res = await fetchFn(baseUrl.replace(/\/$/, "") + path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const parsed = (await res.json().catch(() => ({}))) as Json;
  return { status: res.status, body: parsed };
};

const session = (baseUrl: string, b: Json): Session => ({ userId: String(b.user_id), accessToken: String(b.access_token), deviceId: String(b.device_id), baseUrl });

/** POST /login with a user name (or full user ID) and password. */
export async function login(baseUrl: string, user: string, password: string, opts: { deviceName?: string; fetch?: typeof fetch } = {}): Promise<Session> {
  const r = await post(baseUrl, "/_matrix/client/v3/login", {
    type: "m.login.password", identifier: { type: "m.id.user", user }, password,
    ...(opts.deviceName ? { initial_device_display_name: opts.deviceName } : {}),
  }, opts.fetch ?? globalThis.fetch.bind(globalThis));
  if (r.status !== 200) throw MatrixError.from(r.body, r.status);
  return session(baseUrl, r.body);
}

/**
 * POST /register for a user account. The server answers 401 with its flows first; a flow this
 * client can complete on its own (`m.login.dummy`, or `m.login.registration_token` when a
 * token is given) is completed in the same session.
 */
export async function register(baseUrl: string, username: string, password: string, opts: { deviceName?: string; registrationToken?: string; fetch?: typeof fetch } = {}): Promise<Session> {
  const fetchFn = opts.fetch ?? globalThis.fetch.bind(globalThis);
  const body: Json = { username, password, ...(opts.deviceName ? { initial_device_display_name: opts.deviceName } : {}) };
  let r = await post(baseUrl, "/_matrix/client/v3/register?kind=user", body, fetchFn);
  const done = new Set<string>();
  while (r.status === 401 && typeof r.body.session === "string") {
    const completed = new Set([...(Array.isArray(r.body.completed) ? r.body.completed.map(String) : []), ...done]);
    const flows = (Array.isArray(r.body.flows) ? r.body.flows : []) as { stages?: string[] }[];
    const doable = (s: string) => s === "m.login.dummy" || (s === "m.login.registration_token" && !!opts.registrationToken);
    const flow = flows.find((f) => (f.stages ?? []).every((s) => completed.has(s) || doable(s)));
    const next = flow?.stages?.find((s) => !completed.has(s));
    if (!next) throw new MatrixError("M_FORBIDDEN", "Registration needs a step this client cannot do", 401, r.body);
    done.add(next);
    const auth: Json = { type: next, session: r.body.session, ...(next === "m.login.registration_token" ? { token: opts.registrationToken } : {}) };
    r = await post(baseUrl, "/_matrix/client/v3/register?kind=user", { ...body, auth }, fetchFn);
  }
  if (r.status !== 200) throw MatrixError.from(r.body, r.status);
  return session(baseUrl, r.body);
}
