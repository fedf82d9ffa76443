// npm run admin -- <command> [arguments] [--config FILE] [--url URL] [--token TOKEN] [--offline] [--json]
//
// The operator's tool. Online (the default) it talks to the running server's admin API with an
// admin's access token (--token, or GANGLION_ADMIN_TOKEN); creating a user needs no token when
// the config has registration.shared_secret (shared-secret registration, as
// register_new_matrix_user does). --offline works on the database with the server stopped: it
// starts the homeserver in this process on a loopback port and acts through its services.
import { ConfigError, configPathFromArgs, loadConfig } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { makeUserId, parseRoomId, parseUserId, type UserId } from "../matrix/ids.js";
import { pino } from "pino";
import { arg, readPassword, registerWithSharedSecret } from "./register-user.js";

const USAGE = `usage: npm run admin -- <command> [options]

commands:
  create-user NAME [--password PW] [--admin]   make an account (password read from stdin if not given)
  make-admin USER [--revoke]                   grant (or take back) server admin
  reset-password USER [--password PW] [--keep-devices]
  deactivate USER [--erase]                    no more logins; --erase also hides their messages from later joiners
  list-users [--search TERM]
  token-create [TOKEN] [--uses N] [--expires-in-days D]   a registration token (generated if not given)
  token-list
  list-rooms [--search TERM]
  delete-room ROOM_ID [--block] [--no-purge]   everyone local leaves; purged unless --no-purge

options:
  --config FILE    the server's config (for its URL, shared secret and database)
  --url URL        the server (default: public_baseurl, else the listen address)
  --token TOKEN    an admin's access token (or GANGLION_ADMIN_TOKEN)
  --offline        work on the database directly (the server must be stopped when it uses the embedded Postgres)
  --json           print the answers as JSON
`;

type Json = Record<string, unknown>;

/** What each command needs, over HTTP or in process. */
interface Backend {
  call(method: string, path: string, body?: unknown): Promise<Json>;
  close(): Promise<void>;
}

class HttpBackend implements Backend {
  constructor(private readonly base: string, private readonly token: string) {}
  async call(method: string, path: string, body?: unknown): Promise<Json> {
    const res = await fetch(this.base + path, {
      method, headers: { Authorization: `Bearer ${this.token}`, ...(body !== undefined ? { "Content-Type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    }).catch((e: Error) => { throw new Error(`cannot reach the server at ${this.base}: ${e.message}`); });
    const json = (await res.json().catch(() => ({}))) as Json;
    if (res.status >= 400) throw new Error(`${json.errcode ?? res.status}: ${json.error ?? res.statusText}`);
    return json;
  }
  async close(): Promise<void> {}
}

/**
 * Offline: the homeserver runs in this process on a loopback port, and the CLI calls its admin
 * API as a short-lived admin session of a dedicated account, removed again when done.
 */
async function offlineBackend(config: Config): Promise<Backend> {
  const { startHomeserver } = await import("../server.js");
  const hs = await startHomeserver({ ...config, listen: { host: "127.0.0.1", port: 0 }, web_client: { ...config.web_client, enabled: false } }, { log: pino({ level: "warn" }) });
  const cliUser = makeUserId("_ganglion_admin_cli", config.server_name) as UserId;
  const users = await import("../store/users.js");
  const admin = await import("../store/admin-users.js");
  if (!(await users.selectUser(hs.services.db, cliUser))) {
    await users.insertUser(hs.services.db, { userId: cliUser, passwordHash: null, isGuest: false, isAdmin: true, appserviceId: null });
  }
  await admin.setFlags(hs.services.db, cliUser, { is_admin: true, deactivated: false });
  const token = await hs.services.accounts.adminLogin(cliUser, Date.now() + 3_600_000);
  const http = new HttpBackend(hs.url, token);
  return {
    call: (m, p, b) => http.call(m, p, b),
    close: async () => {
      await hs.services.accounts.deactivate(cliUser, false).catch(() => undefined);
      await hs.close();
    },
  };
}

const enc = encodeURIComponent;

function userArg(config: Config, v: string | undefined): UserId {
  if (!v) throw new Error("a user is required (a name or @name:server)");
  return v.startsWith("@") ? parseUserId(v) : makeUserId(v.toLowerCase(), config.server_name);
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...positional] = positionals(argv);
  if (!command || command === "--help" || command === "-h" || argv.includes("--help")) { process.stdout.write(USAGE); return command ? 0 : 2; }
  let config: Config;
  try {
    config = loadConfig(configPathFromArgs(argv));
  } catch (e) {
    if (e instanceof ConfigError) { process.stderr.write(`${e.message}\n`); return 2; }
    throw e;
  }
  const json = argv.includes("--json");
  const host = config.listen.host === "0.0.0.0" || config.listen.host === "::" ? "127.0.0.1" : config.listen.host;
  const base = (arg(argv, "--url") ?? config.public_baseurl ?? `http://${host.includes(":") ? `[${host}]` : host}:${config.listen.port}`).replace(/\/$/, "");
  const token = arg(argv, "--token") ?? process.env.GANGLION_ADMIN_TOKEN ?? null;
  const offline = argv.includes("--offline");
  const out = (v: unknown, human: string) => process.stdout.write(json ? `${JSON.stringify(v, null, 2)}\n` : `${human}\n`);

  try {
    // Creating a user online without a token: the shared secret, like register_new_matrix_user.
    if (command === "create-user" && !token && !offline) {
      const secret = config.registration.shared_secret;
      if (!secret) throw new Error("give --token (an admin's), or set registration.shared_secret in the config, or use --offline");
      const name = positional[0];
      if (!name) throw new Error("create-user needs a NAME");
      const password = arg(argv, "--password") ?? (await readPassword());
      const userId = await registerWithSharedSecret(base, secret, name, password, argv.includes("--admin"));
      out({ user_id: userId }, `created ${userId}${argv.includes("--admin") ? " (admin)" : ""}`);
      return 0;
    }
    if (!token && !offline) throw new Error("give an admin's access token with --token (or GANGLION_ADMIN_TOKEN), or use --offline with the server stopped");
    const b: Backend = offline ? await offlineBackend(config) : new HttpBackend(base, token!);
    try {
      await run(b, command, positional, argv, config, out);
    } finally {
      await b.close();
    }
    return 0;
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 1;
  }
}

/** Options that take a value (so the value is not read as a positional argument). */
const FLAGS_WITH_VALUES = new Set(["--config", "-c", "--url", "--token", "--password", "--uses", "--expires-in-days", "--search"]);

function positionals(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith("-")) { if (FLAGS_WITH_VALUES.has(a)) i++; continue; }
    out.push(a);
  }
  return out;
}

async function run(b: Backend, command: string, pos: string[], argv: string[], config: Config, out: (v: unknown, human: string) => void): Promise<void> {
  const A = "/_synapse/admin";
  switch (command) {
    case "create-user": {
      const userId = userArg(config, pos[0]);
      const password = arg(argv, "--password") ?? (await readPassword());
      const r = await b.call("PUT", `${A}/v2/users/${enc(userId)}`, { password, admin: argv.includes("--admin") });
      return out(r, `created ${r.name}${r.admin ? " (admin)" : ""}`);
    }
    case "make-admin": {
      const userId = userArg(config, pos[0]);
      const admin = !argv.includes("--revoke");
      await b.call("PUT", `${A}/v1/users/${enc(userId)}/admin`, { admin });
      return out({ user_id: userId, admin }, `${userId} is ${admin ? "now" : "no longer"} a server admin`);
    }
    case "reset-password": {
      const userId = userArg(config, pos[0]);
      const password = arg(argv, "--password") ?? (await readPassword());
      await b.call("POST", `${A}/v1/reset_password/${enc(userId)}`, { new_password: password, logout_devices: !argv.includes("--keep-devices") });
      return out({ user_id: userId }, `password of ${userId} changed${argv.includes("--keep-devices") ? "" : "; its devices are logged out"}`);
    }
    case "deactivate": {
      const userId = userArg(config, pos[0]);
      await b.call("POST", `${A}/v1/deactivate/${enc(userId)}`, { erase: argv.includes("--erase") });
      return out({ user_id: userId }, `${userId} deactivated${argv.includes("--erase") ? " and erased" : ""}`);
    }
    case "list-users": {
      const search = arg(argv, "--search");
      const r = await b.call("GET", `${A}/v2/users?limit=1000${search ? `&name=${enc(search)}` : ""}`);
      const users = r.users as Json[];
      return out(r, users.map((u) => `${u.name}${u.admin ? " (admin)" : ""}${u.displayname ? `  ${u.displayname}` : ""}`).join("\n") || "(no users)");
    }
    case "token-create": {
      const uses = arg(argv, "--uses");
      const days = arg(argv, "--expires-in-days");
      const t = pos[0];
      const r = await b.call("POST", `${A}/v1/registration_tokens/new`, {
        ...(t ? { token: t } : {}), ...(uses ? { uses_allowed: Number(uses) } : {}),
        ...(days ? { expiry_time: Date.now() + Number(days) * 86_400_000 } : {}),
      });
      return out(r, `${r.token}${r.uses_allowed !== null ? `  (uses: ${r.uses_allowed})` : ""}${r.expiry_time ? `  (expires ${new Date(Number(r.expiry_time)).toISOString()})` : ""}`);
    }
    case "token-list": {
      const r = await b.call("GET", `${A}/v1/registration_tokens`);
      const list = r.registration_tokens as Json[];
      return out(r, list.map((x) => `${x.token}  used ${x.completed}${x.uses_allowed !== null ? `/${x.uses_allowed}` : ""}${x.pending ? `, ${x.pending} pending` : ""}${x.expiry_time ? `, expires ${new Date(Number(x.expiry_time)).toISOString()}` : ""}`).join("\n") || "(no tokens)");
    }
    case "list-rooms": {
      const search = arg(argv, "--search");
      const r = await b.call("GET", `${A}/v1/rooms?limit=1000${search ? `&search_term=${enc(search)}` : ""}`);
      const rooms = r.rooms as Json[];
      return out(r, rooms.map((x) => `${x.room_id}  ${x.name ?? x.canonical_alias ?? "(no name)"}  members: ${x.joined_members}`).join("\n") || "(no rooms)");
    }
    case "delete-room": {
      const roomId = parseRoomId(pos[0] ?? "");
      const r = await b.call("DELETE", `${A}/v1/rooms/${enc(roomId)}`, { block: argv.includes("--block"), purge: !argv.includes("--no-purge") });
      return out(r, `deleted ${roomId}: ${(r.kicked_users as string[]).length} local users removed${argv.includes("--block") ? "; blocked" : ""}`);
    }
    default:
      throw new Error(`unknown command ${command}\n\n${USAGE}`);
  }
}

if (process.argv[1] && /cli\/admin\.(ts|js)$/.test(process.argv[1])) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
