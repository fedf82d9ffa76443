// The users admin API, at Synapse's paths and with its shapes (synapse-admin, moderation bots
// and setup scripts speak it): list and query accounts, create or modify them, deactivate,
// reset passwords, whois, devices, rooms, act as a user, shadow bans, rate-limit overrides.
import { MatrixError, invalidParam, missingParam, notFound } from "../../http/errors.js";
import { Reply, defineRoutes, type Ctx } from "../../http/route.js";
import { bool, int, obj, str } from "../../http/validate.js";
import { localpartOf, parseDeviceId, parseUserId, serverNameOf, type UserId } from "../../matrix/ids.js";
import type { Services } from "../../services/index.js";
import * as admin from "../../store/admin-users.js";
import { boolParam, direction, paging } from "./params.js";

/** The user of the path: a local user ID, or 400 as Synapse answers for remote ones. */
function localUser(s: Services, id: string): UserId {
  const userId = parseUserId(id);
  if (serverNameOf(userId) !== s.config.server_name) throw invalidParam("Can only look up local users");
  return userId;
}

async function existing(s: Services, id: string): Promise<UserId> {
  const userId = localUser(s, id);
  if (!(await s.accounts.userExists(userId))) throw notFound("User not found");
  return userId;
}

async function details(s: Services, userId: UserId) {
  const u = await admin.selectAdminUser(s.db, userId);
  if (!u) throw notFound("User not found");
  return {
    // Seconds here, milliseconds in the list: as Synapse answers (and synapse-admin reads).
    ...u, creation_ts: Math.floor(u.creation_ts / 1000), threepids: await admin.selectThreepids(s.db, userId), external_ids: [],
    consent_server_notice_sent: null, consent_version: null, consent_ts: null, suspended: false,
  };
}

function list(v3: boolean) {
  return async ({ query }: Ctx<unknown>, s: Services) => {
    const { from, limit } = paging(query);
    const dir = direction(query.dir, "f");
    if (query.order_by !== undefined && !(query.order_by in admin.USER_ORDERS)) throw invalidParam(`Unknown order_by: ${query.order_by}`);
    const r = await admin.listUsers(s.db, {
      from, limit, dir, orderBy: query.order_by ?? "name",
      guests: boolParam(query.guests, true)!, admins: boolParam(query.admins, null), locked: boolParam(query.locked, false)!,
      // v2: deactivated users are left out unless asked for; v3: no filter unless asked.
      deactivated: v3 ? boolParam(query.deactivated, null) : (boolParam(query.deactivated, false) ? null : false),
      name: query.name ?? null, userId: query.user_id ?? null,
    });
    return { users: r.users, total: r.total, ...(from + r.users.length < r.total ? { next_token: String(from + r.users.length) } : {}) };
  };
}

interface PutUser {
  password?: string; logout_devices?: boolean; displayname?: string | null; avatar_url?: string | null;
  threepids?: { medium: string; address: string }[]; admin?: boolean; deactivated?: boolean; user_type?: string | null; locked?: boolean;
}

/** POST (ban) or DELETE (lift) /shadow_ban: cached requesters carry the flag, so they are dropped. */
function shadowBan(on: boolean) {
  return async ({ params }: Ctx<unknown>, s: Services) => {
    const userId = await existing(s, params.userId!);
    await admin.setFlags(s.db, userId, { shadow_banned: on });
    s.tokens.forgetUser(userId);
    return {};
  };
}

const deviceJson = (userId: UserId) => (d: Record<string, unknown>) => ({ last_seen_user_agent: null, ...d, user_id: userId, dehydrated: false });

export default defineRoutes({
  adminListUsers: { method: "GET", path: "/_synapse/admin/v2/users", auth: "user", admin: true, handler: list(false) },
  adminListUsersV3: { method: "GET", path: "/_synapse/admin/v3/users", auth: "user", admin: true, handler: list(true) },

  adminGetUser: {
    method: "GET", path: "/_synapse/admin/v2/users/:userId", auth: "user", admin: true,
    handler: async ({ params }, s) => details(s, localUser(s, params.userId!)),
  },

  /** PUT /_synapse/admin/v2/users/{userId}: 201 with a new account, 200 with a changed one. */
  adminPutUser: {
    method: "PUT", path: "/_synapse/admin/v2/users/:userId", auth: "user", admin: true,
    body: obj({
      password: str(512), logout_devices: bool, displayname: { type: ["string", "null"], maxLength: 256 }, avatar_url: { type: ["string", "null"], maxLength: 1000 },
      threepids: { type: "array", maxItems: 100, items: obj({ medium: { enum: ["email", "msisdn"] }, address: str(320) }, ["medium", "address"]) },
      external_ids: { type: "array", maxItems: 0 }, admin: bool, deactivated: bool,
      user_type: { type: ["string", "null"], enum: ["bot", "support", null] }, locked: bool,
    }),
    async handler({ user, params, body }, s) {
      const userId = localUser(s, params.userId!);
      const b = body as PutUser;
      const created = !(await s.accounts.userExists(userId));
      if (created) {
        await s.accounts.register({ kind: "user", localpart: localpartOf(userId), password: b.password ?? null, isAdmin: b.admin === true, displayName: b.displayname || null, login: null });
      } else if (b.password !== undefined) {
        await s.accounts.setPassword(userId, b.password, b.logout_devices !== false);
      }
      if (!created || b.displayname === "") {
        if (b.displayname !== undefined) await s.profiles.setField(userId, userId, "displayname", b.displayname || null);
      }
      if (b.avatar_url !== undefined) {
        if (b.avatar_url && !/^mxc:\/\/[^/]+\/[^/]+$/.test(b.avatar_url)) throw invalidParam("avatar_url must be an mxc:// URI");
        await s.profiles.setField(userId, userId, "avatar_url", b.avatar_url || null);
      }
      if (b.threepids) await admin.replaceThreepids(s.db, userId, b.threepids.map((t) => ({ medium: t.medium, address: t.medium === "email" ? t.address.toLowerCase() : t.address })));
      if (!created && b.admin !== undefined) {
        if (userId === user.userId && !b.admin) throw new MatrixError(400, "M_UNKNOWN", "You may not demote yourself");
        await admin.setFlags(s.db, userId, { is_admin: b.admin });
      }
      if (b.user_type !== undefined) await admin.setFlags(s.db, userId, { user_type: b.user_type });
      if (b.locked !== undefined) await admin.setFlags(s.db, userId, { locked: b.locked });
      if (b.deactivated === true) await s.accounts.deactivate(userId, false);
      if (b.deactivated === false) await admin.setFlags(s.db, userId, { deactivated: false });
      s.tokens.forgetUser(userId); // cached requesters carry the flags
      return new Reply(created ? 201 : 200, await details(s, userId));
    },
  },

  /** POST /_synapse/admin/v1/deactivate/{userId} {erase} */
  adminDeactivate: {
    method: "POST", path: "/_synapse/admin/v1/deactivate/:userId", auth: "user", admin: true, body: obj({ erase: bool }),
    async handler({ params, body }, s) {
      const userId = await existing(s, params.userId!);
      await s.accounts.deactivate(userId, (body as { erase?: boolean }).erase === true);
      return { id_server_unbind_result: "success" };
    },
  },

  /** POST /_synapse/admin/v1/reset_password/{userId} {new_password, logout_devices} */
  adminResetPassword: {
    method: "POST", path: "/_synapse/admin/v1/reset_password/:userId", auth: "user", admin: true,
    body: obj({ new_password: str(512), logout_devices: bool }, ["new_password"]),
    async handler({ params, body }, s) {
      const userId = await existing(s, params.userId!);
      const b = body as { new_password: string; logout_devices?: boolean };
      await s.accounts.setPassword(userId, b.new_password, b.logout_devices !== false);
      return {};
    },
  },

  adminGetIsAdmin: {
    method: "GET", path: "/_synapse/admin/v1/users/:userId/admin", auth: "user", admin: true,
    async handler({ params }, s) {
      return { admin: (await details(s, localUser(s, params.userId!))).admin };
    },
  },

  adminSetIsAdmin: {
    method: "PUT", path: "/_synapse/admin/v1/users/:userId/admin", auth: "user", admin: true, body: obj({ admin: bool }, ["admin"]),
    async handler({ user, params, body }, s) {
      const userId = await existing(s, params.userId!);
      const v = (body as { admin: boolean }).admin;
      if (userId === user.userId && !v) throw new MatrixError(400, "M_UNKNOWN", "You may not demote yourself");
      await admin.setFlags(s.db, userId, { is_admin: v });
      s.tokens.forgetUser(userId);
      return {};
    },
  },

  adminWhois: {
    method: "GET", path: "/_synapse/admin/v1/whois/:userId", auth: "user", admin: true,
    handler: async ({ params }, s) => whois(s, await existing(s, params.userId!)),
  },

  adminListDevices: {
    method: "GET", path: "/_synapse/admin/v2/users/:userId/devices", auth: "user", admin: true,
    async handler({ params }, s) {
      const userId = await existing(s, params.userId!);
      const devices = (await s.devices.listDetailed(userId)).map((d) => deviceJson(userId)(d as unknown as Record<string, unknown>));
      return { devices, total: devices.length };
    },
  },

  adminCreateDevice: {
    method: "POST", path: "/_synapse/admin/v2/users/:userId/devices", auth: "user", admin: true, body: obj({ device_id: str(255) }, ["device_id"]),
    async handler({ params, body }, s) {
      const userId = await existing(s, params.userId!);
      await s.devices.create(userId, parseDeviceId((body as { device_id: string }).device_id), null);
      return {};
    },
  },

  adminDeleteDevices: {
    method: "POST", path: "/_synapse/admin/v2/users/:userId/delete_devices", auth: "user", admin: true,
    body: obj({ devices: { type: "array", maxItems: 1000, items: str(255) } }, ["devices"]),
    async handler({ params, body }, s) {
      const userId = await existing(s, params.userId!);
      await s.devices.delete(userId, (body as { devices: string[] }).devices.map(parseDeviceId));
      return {};
    },
  },

  adminGetDevice: {
    method: "GET", path: "/_synapse/admin/v2/users/:userId/devices/:deviceId", auth: "user", admin: true,
    async handler({ params }, s) {
      const userId = await existing(s, params.userId!);
      return deviceJson(userId)(await s.devices.get(userId, parseDeviceId(params.deviceId!)) as unknown as Record<string, unknown>);
    },
  },

  adminUpdateDevice: {
    method: "PUT", path: "/_synapse/admin/v2/users/:userId/devices/:deviceId", auth: "user", admin: true, body: obj({ display_name: str(255) }),
    async handler({ params, body }, s) {
      const userId = await existing(s, params.userId!);
      const name = (body as { display_name?: string }).display_name;
      if (name !== undefined) await s.devices.rename(userId, parseDeviceId(params.deviceId!), name);
      return {};
    },
  },

  adminDeleteDevice: {
    method: "DELETE", path: "/_synapse/admin/v2/users/:userId/devices/:deviceId", auth: "user", admin: true,
    async handler({ params }, s) {
      const userId = await existing(s, params.userId!);
      await s.devices.delete(userId, [parseDeviceId(params.deviceId!)]);
      return {};
    },
  },

  adminJoinedRooms: {
    method: "GET", path: "/_synapse/admin/v1/users/:userId/joined_rooms", auth: "user", admin: true,
    async handler({ params }, s) {
      const userId = await existing(s, params.userId!);
      const all = await admin.selectMemberships(s.db, userId);
      const joined = Object.keys(all).filter((r) => all[r] === "join").sort();
      return { joined_rooms: joined, total: joined.length };
    },
  },

  adminMemberships: {
    method: "GET", path: "/_synapse/admin/v1/users/:userId/memberships", auth: "user", admin: true,
    handler: async ({ params }, s) => ({ memberships: await admin.selectMemberships(s.db, await existing(s, params.userId!)) }),
  },

  adminPushers: {
    method: "GET", path: "/_synapse/admin/v1/users/:userId/pushers", auth: "user", admin: true,
    async handler({ params }, s) {
      const list = await s.pushers.list(await existing(s, params.userId!));
      return { pushers: list, total: list.length };
    },
  },

  adminAccountData: {
    method: "GET", path: "/_synapse/admin/v1/users/:userId/accountdata", auth: "user", admin: true,
    async handler({ params }, s) {
      const rows = await admin.selectAllAccountData(s.db, await existing(s, params.userId!));
      const global: Record<string, unknown> = {};
      const rooms: Record<string, Record<string, unknown>> = {};
      for (const r of rows) {
        if (r.roomId === "") global[r.type] = r.content;
        else (rooms[r.roomId] ??= {})[r.type] = r.content;
      }
      return { account_data: { global, rooms } };
    },
  },

  /** POST /_synapse/admin/v1/users/{userId}/login {valid_until_ms}: a token to act as the user. */
  adminLoginAsUser: {
    method: "POST", path: "/_synapse/admin/v1/users/:userId/login", auth: "user", admin: true, body: obj({ valid_until_ms: int(0) }),
    async handler({ user, params, body }, s) {
      const userId = await existing(s, params.userId!);
      if (userId === user.userId) throw new MatrixError(400, "M_UNKNOWN", "Cannot use admin API to login as self");
      const until = (body as { valid_until_ms?: number }).valid_until_ms ?? null;
      if (until !== null && until <= Date.now()) throw invalidParam("valid_until_ms must be in the future");
      return { access_token: await s.accounts.adminLogin(userId, until) };
    },
  },

  adminShadowBan: { method: "POST", path: "/_synapse/admin/v1/users/:userId/shadow_ban", auth: "user", admin: true, handler: shadowBan(true) },
  adminUnShadowBan: { method: "DELETE", path: "/_synapse/admin/v1/users/:userId/shadow_ban", auth: "user", admin: true, handler: shadowBan(false) },

  adminGetRatelimit: {
    method: "GET", path: "/_synapse/admin/v1/users/:userId/override_ratelimit", auth: "user", admin: true,
    handler: async ({ params }, s) => (await admin.selectRatelimit(s.db, await existing(s, params.userId!))) ?? {},
  },

  adminSetRatelimit: {
    method: "POST", path: "/_synapse/admin/v1/users/:userId/override_ratelimit", auth: "user", admin: true,
    body: obj({ messages_per_second: int(0, 1_000_000), burst_count: int(0, 1_000_000) }),
    async handler({ params, body }, s) {
      const userId = await existing(s, params.userId!);
      const b = body as { messages_per_second?: number; burst_count?: number };
      const v = { messages_per_second: b.messages_per_second ?? 0, burst_count: b.burst_count ?? 0 };
      await s.limits.overrides.set(userId, v);
      return v;
    },
  },

  adminDeleteRatelimit: {
    method: "DELETE", path: "/_synapse/admin/v1/users/:userId/override_ratelimit", auth: "user", admin: true,
    async handler({ params }, s) {
      await s.limits.overrides.set(await existing(s, params.userId!), null);
      return {};
    },
  },

  adminUsernameAvailable: {
    method: "GET", path: "/_synapse/admin/v1/username_available", auth: "user", admin: true,
    async handler({ query }, s) {
      if (!query.username) throw missingParam("username is required");
      await s.accounts.checkAvailable(query.username);
      return { available: true };
    },
  },

  adminUserByThreepid: {
    method: "GET", path: "/_synapse/admin/v1/threepid/:medium/users/:address", auth: "user", admin: true,
    async handler({ params }, s) {
      const address = params.medium === "email" ? params.address!.toLowerCase() : params.address!;
      const userId = await admin.userByThreepid(s.db, params.medium!, address);
      if (!userId) throw notFound("User not found");
      return { user_id: userId };
    },
  },

  /** GET /_synapse/admin/v1/server_version */
  adminServerVersion: {
    method: "GET", path: "/_synapse/admin/v1/server_version", auth: "none",
    handler: () => ({ server_version: `Ganglion ${SERVER_VERSION}` }),
  },
});

export const SERVER_VERSION = "0.1.0";

/** The whois answer (spec: admin.yaml), shared with the client API's /admin/whois. */
export async function whois(s: Services, userId: UserId) {
  const devices = await s.devices.listDetailed(userId);
  return {
    user_id: userId,
    devices: Object.fromEntries(devices.map((d) => [d.device_id, {
      sessions: [{ connections: d.last_seen_ts !== undefined ? [{ ip: d.last_seen_ip ?? "", last_seen: d.last_seen_ts, user_agent: d.last_seen_user_agent ?? "" }] : [] }],
    }])),
  };
}
