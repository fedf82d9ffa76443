// Application services: the registry (namespaces, tokens, identity assertion) and the HTTP
// calls the homeserver makes to them (queries, ping, third-party protocols).
// https://spec.matrix.org/latest/application-service-api/
import type { Logger } from "pino";
import type { Registration } from "../config/appservices.js";
import { compilePythonRegex } from "../config/python-regex.js";
import { MatrixError, forbidden } from "../http/errors.js";
import type { ClientEvent } from "../matrix/events.js";
import { makeUserId, type DeviceId, type RoomId, type UserId } from "../matrix/ids.js";
import type { Db } from "../store/db.js";
import * as devices from "../store/devices.js";
import * as users from "../store/users.js";
import type { RoomState } from "./room-state.js";
import type { Requester } from "./tokens.js";

export interface Appservice extends Registration {
  sender: UserId;
  users: { exclusive: boolean; re: RegExp }[];
  aliases: { exclusive: boolean; re: RegExp }[];
  rooms: { exclusive: boolean; re: RegExp }[];
}

/** Regexes (Python's dialect) match from the start of the ID, as Synapse's (Python re.match) do. */
const compileNs = (list: { exclusive: boolean; regex: string }[]) => list.map((n) => ({ exclusive: n.exclusive, re: compilePythonRegex(n.regex, true) }));


export class AppserviceRegistry {
  readonly all: Appservice[];
  private readonly byToken = new Map<string, Appservice>();
  private readonly known = new Set<UserId>();

  constructor(regs: Registration[], serverName: string, private readonly db: Db, private readonly log: Logger, private readonly timeoutMs = 10_000) {
    this.all = regs.map((r) => ({
      ...r,
      sender: makeUserId(r.sender_localpart, serverName),
      users: compileNs(r.namespaces.users),
      aliases: compileNs(r.namespaces.aliases),
      rooms: compileNs(r.namespaces.rooms),
    }));
    for (const a of this.all) this.byToken.set(a.as_token, a);
    // Never silently ignored: what a registration asks for that this server does not do.
    for (const a of this.all) for (const what of a.unsupported) log.warn({ appservice: a.id, file: a.file }, `registration asks for ${what}, which this server does not provide`);
  }

  /** The application service whose as_token this is. */
  fromToken(token: string): Appservice | undefined {
    return this.byToken.get(token);
  }

  get(id: string): Appservice | undefined {
    return this.all.find((a) => a.id === id);
  }

  /** Makes each application service's sender user if it does not exist yet. */
  async ensureSenders(): Promise<void> {
    for (const a of this.all) {
      if (await users.selectUser(this.db, a.sender)) continue;
      await users.insertUser(this.db, { userId: a.sender, passwordHash: null, isGuest: false, isAdmin: false, appserviceId: a.id });
      this.log.info({ appservice: a.id, user: a.sender }, "application service sender user created");
    }
  }

  /** A user ID in the application service's user namespaces (or its sender). */
  ownsUser(a: Appservice, userId: string): boolean {
    return userId === a.sender || a.users.some((n) => n.re.test(userId));
  }

  /** Someone other than `appserviceId` may not take this user ID (M_EXCLUSIVE). */
  isExclusiveUser(userId: string, appserviceId: string | null): boolean {
    return this.all.some((a) => a.id !== appserviceId && (a.sender === userId || a.users.some((n) => n.exclusive && n.re.test(userId))));
  }

  isExclusiveAlias(alias: string, appserviceId: string | null): boolean {
    return this.all.some((a) => a.id !== appserviceId && a.aliases.some((n) => n.exclusive && n.re.test(alias)));
  }

  /**
   * The requester for an as_token: the sender, or (identity assertion) the `user_id` asked for
   * if it is in the service's namespaces and registered, with `device_id` if it is theirs.
   * Null when the token is not an application service's.
   */
  async requester(token: string, userId?: string, deviceId?: string): Promise<Requester | null> {
    const a = this.byToken.get(token);
    if (!a) return null;
    const who = (userId ?? a.sender) as UserId;
    if (!this.ownsUser(a, who)) throw forbidden("The application service cannot act as this user");
    if (!this.known.has(who)) {
      const u = await users.selectUser(this.db, who);
      if (!u) throw forbidden("The application service has not registered this user");
      if (u.deactivated) throw new MatrixError(403, "M_USER_DEACTIVATED", "This user has been deactivated");
      if (this.known.size > 100_000) this.known.clear();
      this.known.add(who);
    }
    let device: DeviceId | null = null;
    if (deviceId !== undefined) {
      if (!(await devices.selectDevice(this.db, who, deviceId as DeviceId))) throw new MatrixError(400, "M_UNKNOWN_DEVICE", "No such device for this user");
      device = deviceId as DeviceId;
    }
    this.onActive?.(a.id);
    return { userId: who, deviceId: device, tokenId: null, isGuest: false, isAdmin: false, appserviceId: a.id };
  }

  /** A user's standing may have changed (deactivated): look it up again on their next assertion. */
  forgetUser(userId: UserId): void {
    this.known.delete(userId);
  }

  /** Called on every request a service makes with its as_token: it is alive. */
  onActive: ((asId: string) => void) | null = null;

  /** Is the application service interested in this event (spec: which events to send)? */
  interested(a: Appservice, ev: ClientEvent, room: RoomState | null): boolean {
    const u = (id: unknown) => typeof id === "string" && (id === a.sender || a.users.some((n) => n.re.test(id)));
    if (u(ev.sender)) return true;
    if (ev.type === "m.room.member" && u(ev.state_key)) return true;
    if (a.rooms.some((n) => n.re.test(ev.room_id))) return true;
    if (!room) return false;
    for (const m of room.interested) if (u(m)) return true;
    if (a.aliases.length) {
      const ca = room.get("m.room.canonical_alias", "")?.content;
      const aliases = [ca?.alias, ...(Array.isArray(ca?.alt_aliases) ? ca.alt_aliases : [])].filter((x): x is string => typeof x === "string");
      if (aliases.some((al) => a.aliases.some((n) => n.re.test(al)))) return true;
    }
    return false;
  }

  /** Interest in a room (typing, receipts): a member in the namespaces, or the room itself. */
  interestedInRoom(a: Appservice, roomId: RoomId, room: RoomState | null): boolean {
    if (a.rooms.some((n) => n.re.test(roomId))) return true;
    if (!room) return false;
    for (const m of room.interested) if (m === a.sender || a.users.some((n) => n.re.test(m))) return true;
    return false;
  }

  /** The application service whose namespace covers a user (exclusive ones first), with a URL. */
  forUser(userId: string): Appservice | undefined {
    const withUrl = this.all.filter((a) => a.url);
    return withUrl.find((a) => a.users.some((n) => n.exclusive && n.re.test(userId))) ?? withUrl.find((a) => a.users.some((n) => n.re.test(userId)));
  }

  forAlias(alias: string): Appservice | undefined {
    const withUrl = this.all.filter((a) => a.url);
    return withUrl.find((a) => a.aliases.some((n) => n.exclusive && n.re.test(alias))) ?? withUrl.find((a) => a.aliases.some((n) => n.re.test(alias)));
  }

  /** GET /_matrix/app/v1/users/{userId}: does the service have (and now has made) this user? */
  async queryUser(userId: string): Promise<boolean> {
    const a = this.forUser(userId);
    if (!a) return false;
    const r = await call(a, "GET", `/_matrix/app/v1/users/${encodeURIComponent(userId)}`, undefined, false, this.timeoutMs);
    this.known.delete(userId as UserId);
    return r.status >= 200 && r.status < 300;
  }

  /** GET /_matrix/app/v1/rooms/{alias}: the service creates the room (and alias) if it has it. */
  async queryAlias(alias: string): Promise<boolean> {
    const a = this.forAlias(alias);
    if (!a) return false;
    const r = await call(a, "GET", `/_matrix/app/v1/rooms/${encodeURIComponent(alias)}`, undefined, false, this.timeoutMs);
    return r.status >= 200 && r.status < 300;
  }

  /** POST /_matrix/app/v1/ping, for the client-server ping endpoint. */
  async ping(a: Appservice, transactionId: string | undefined): Promise<number> {
    if (!a.url) throw new MatrixError(400, "M_URL_NOT_SET", "The application service has no URL");
    const started = performance.now();
    const r = await call(a, "POST", "/_matrix/app/v1/ping", transactionId !== undefined ? { transaction_id: transactionId } : {}, true, this.timeoutMs);
    if (r.status < 200 || r.status >= 300) {
      throw new MatrixError(502, "M_BAD_STATUS", "The application service answered with an error", { status: r.status, body: r.text });
    }
    return Math.round(performance.now() - started);
  }

  /**
   * Third-party locations or users: asks the services that declare `protocol` (every service,
   * for a reverse lookup without one) and puts their answers together. A service that fails
   * or does not answer in time adds nothing.
   */
  async thirdParty(kind: "location" | "user", protocol: string | null, query: Record<string, string>): Promise<Record<string, unknown>[]> {
    const services = this.all.filter((x) => x.url && (protocol === null || x.protocols.includes(protocol)));
    const qs = new URLSearchParams(query).toString();
    const path = `/_matrix/app/v1/thirdparty/${kind}${protocol !== null ? `/${encodeURIComponent(protocol)}` : ""}${qs ? `?${qs}` : ""}`;
    const answers = await Promise.all(services.map(async (a) => {
      const r = await call(a, "GET", path, undefined, false, this.timeoutMs);
      if (r.status !== 200) return [];
      try {
        const list = JSON.parse(r.text) as unknown;
        return Array.isArray(list) ? list.filter((x): x is Record<string, unknown> => !!x && typeof x === "object") : [];
      } catch {
        return [];
      }
    }));
    return answers.flat();
  }

  /** GET /_matrix/app/v1/thirdparty/protocol/{protocol} from the service that declares it. */
  async protocol(name: string): Promise<Record<string, unknown> | null> {
    const a = this.all.find((x) => x.url && x.protocols.includes(name));
    if (!a) return null;
    try {
      const r = await call(a, "GET", `/_matrix/app/v1/thirdparty/protocol/${encodeURIComponent(name)}`, undefined, false, this.timeoutMs);
      if (r.status !== 200) return null;
      const body = JSON.parse(r.text) as Record<string, unknown>;
      return body && typeof body === "object" ? body : null;
    } catch {
      return null;
    }
  }
}

/**
 * One HTTP call to an application service with its hs_token. Failures become the spec's
 * errcodes when `strict` (ping); otherwise a query that fails counts as "not found".
 */
export async function call(a: Appservice, method: string, path: string, body: unknown, strict: boolean, timeoutMs: number): Promise<{ status: number; text: string }> {
  if (!a.url) return { status: 0, text: "" };
  const url = a.url.replace(/\/$/, "") + path;
  try {
    const res = await fetch(url, {
      method,
      headers: { Authorization: `Bearer ${a.hs_token}`, ...(body !== undefined ? { "Content-Type": "application/json" } : {}) },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: res.status, text: (await res.text()).slice(0, 65536) };
  } catch (e) {
    if (!strict) return { status: 0, text: "" };
    const name = (e as Error).name;
    if (name === "TimeoutError" || name === "AbortError") throw new MatrixError(504, "M_CONNECTION_TIMEOUT", "The application service did not answer in time");
    throw new MatrixError(502, "M_CONNECTION_FAILED", "Could not connect to the application service");
  }
}
