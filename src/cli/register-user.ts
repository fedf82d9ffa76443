// npm run register-user -- [--config FILE] --user NAME [--password PW] [--admin] [--url URL]
//
// Creates an account through the running server's shared-secret registration API, so it works
// when open registration is off. The secret comes from registration.shared_secret in the
// config; the URL from --url, else public_baseurl. Without --password it is read from stdin.
import { ConfigError, configPathFromArgs, loadConfig } from "../config/load.js";
import { sharedSecretMac } from "../api/admin/register.js";

export function arg(argv: string[], name: string): string | null {
  const i = argv.indexOf(name);
  if (i >= 0) return argv[i + 1] ?? null;
  const eq = argv.find((a) => a.startsWith(`${name}=`));
  return eq ? eq.slice(name.length + 1) : null;
}

/** The first line of standard input (a prompt is shown on a terminal; input is echoed there). */
export async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write("Password: ");
  let text = "";
  for await (const chunk of process.stdin) {
    text += String(chunk);
    if (text.includes("\n")) break;
  }
  return text.split(/\r?\n/)[0] ?? "";
}

export async function main(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write("usage: npm run register-user -- [--config FILE] --user NAME [--password PW] [--admin] [--url URL]\n");
    return 0;
  }
  let config;
  try {
    config = loadConfig(configPathFromArgs(argv));
  } catch (e) {
    if (e instanceof ConfigError) { process.stderr.write(`${e.message}\n`); return 2; }
    throw e;
  }
  const secret = config.registration.shared_secret;
  if (!secret) {
    process.stderr.write("registration.shared_secret is not set in the config; it is needed to create users.\n");
    return 2;
  }
  const user = arg(argv, "--user") ?? arg(argv, "-u");
  if (!user) { process.stderr.write("--user is required\n"); return 2; }
  const password = arg(argv, "--password") ?? arg(argv, "-p") ?? (await readPassword());
  if (!password) { process.stderr.write("a password is required\n"); return 2; }
  const admin = argv.includes("--admin");
  const base = (arg(argv, "--url") ?? config.public_baseurl!).replace(/\/$/, "");
  try {
    const userId = await registerWithSharedSecret(base, secret, user, password, admin);
    process.stdout.write(`created ${userId}${admin ? " (admin)" : ""}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 1;
  }
}

/** Shared-secret registration (/_synapse/admin/v1/register); resolves with the new user ID. */
export async function registerWithSharedSecret(base: string, secret: string, user: string, password: string, admin: boolean): Promise<string> {
  const endpoint = `${base}/_synapse/admin/v1/register`;
  let nonceRes: Response;
  try {
    nonceRes = await fetch(endpoint);
  } catch (e) {
    throw new Error(`cannot reach the server at ${base}: ${(e as Error).message}`);
  }
  const { nonce } = (await nonceRes.json()) as { nonce?: string };
  if (!nonce) throw new Error(`the server gave no nonce (HTTP ${nonceRes.status})`);
  const mac = sharedSecretMac(secret, { nonce, username: user, password, admin });
  const res = await fetch(endpoint, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ nonce, username: user, password, admin, mac }),
  });
  const body = (await res.json()) as { user_id?: string; errcode?: string; error?: string };
  if (res.status !== 200) throw new Error(`registration failed: ${body.errcode ?? res.status}: ${body.error ?? ""}`);
  return body.user_id!;
}

if (process.argv[1] && /register-user\.(ts|js)$/.test(process.argv[1])) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
