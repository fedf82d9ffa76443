// npm run admin: the operator's CLI against the running server's admin API (shared secret for
// creating users, an admin token for the rest) and offline, on the database.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { useServer } from "./helpers/server.js";
import { createRoom } from "./helpers/rooms.js";
import { runScript } from "./helpers/cli.js";

const SECRET = "cli-admin-shared-secret-0123456789";

const admin = (args: string[], stdin = "") => runScript("src/cli/admin.ts", args, stdin, { GANGLION_ADMIN_TOKEN: "" });

describe("admin CLI", function () {
  this.timeout(120_000);
  const t = useServer({ registration: { enabled: false, shared_secret: SECRET } });
  let config: string;
  before(() => {
    const dir = mkdtempSync(path.join(tmpdir(), "ganglion-admin-cli-"));
    config = path.join(dir, "c.yaml");
    writeFileSync(config, [
      `public_baseurl: ${t.s.hs.url}/`, "server_name: localhost", `database:\n  url: ${JSON.stringify(t.s.dbUrl)}`,
      `registration:\n  enabled: false\n  shared_secret: ${SECRET}`, `media:\n  store_path: ${JSON.stringify(path.join(dir, "media"))}`, "logging:\n  level: silent", "",
    ].join("\n"));
  });

  it("creates users with the shared secret, then manages users, tokens and rooms with an admin token", async () => {
    const made = await admin(["create-user", "opsadmin", "--admin", "--config", config], "ops password 1\n");
    expect(made.code, made.err).to.equal(0);
    expect(made.out).to.contain("created @opsadmin:localhost (admin)");
    const login = await t.s.client().post("/_matrix/client/v3/login", { type: "m.login.password", identifier: { type: "m.id.user", user: "opsadmin" }, password: "ops password 1" });
    const token = login.body.access_token as string;
    const run = (...a: string[]) => admin([...a, "--config", config, "--token", token]);

    const bob = await run("create-user", "opsbob", "--password", "bob password 1");
    expect(bob.code, bob.err).to.equal(0);
    expect((await run("make-admin", "opsbob")).out).to.contain("@opsbob:localhost is now a server admin");
    const users = await run("list-users", "--search", "ops");
    expect(users.out).to.contain("@opsbob:localhost (admin)");
    expect((await run("make-admin", "@opsbob:localhost", "--revoke")).code).to.equal(0);
    expect((await run("reset-password", "opsbob", "--password", "bob password 2")).code).to.equal(0);
    expect((await t.s.client().post("/_matrix/client/v3/login", { type: "m.login.password", identifier: { type: "m.id.user", user: "opsbob" }, password: "bob password 2" })).status).to.equal(200);

    const tok = await run("token-create", "invite-2027", "--uses", "3", "--json");
    expect(tok.code, tok.err).to.equal(0);
    expect(JSON.parse(tok.out)).to.include({ token: "invite-2027", uses_allowed: 3 });
    expect((await run("token-list")).out).to.contain("invite-2027  used 0/3");

    const owner = await t.s.client(token);
    const roomId = await createRoom(owner, { name: "Ops room" });
    expect((await run("list-rooms", "--search", "Ops")).out).to.contain(`${roomId}  Ops room  members: 1`);
    const del = await run("delete-room", roomId, "--block");
    expect(del.code, del.err).to.equal(0);
    expect(del.out).to.contain("1 local users removed; blocked");
    expect((await run("deactivate", "opsbob", "--erase")).out).to.contain("@opsbob:localhost deactivated and erased");

    // Errors are said plainly, with an exit code.
    const noToken = await admin(["list-users", "--config", config]);
    expect(noToken.code).to.equal(1);
    expect(noToken.err).to.contain("--token");
    const unknown = await run("frobnicate");
    expect(unknown.code).to.equal(1);
    expect(unknown.err).to.contain("unknown command");
  });

  it("a non-admin's token is refused", async () => {
    const made = await admin(["create-user", "opsplain", "--password", "plain password 1", "--config", config]);
    expect(made.code, made.err).to.equal(0);
    const login = await t.s.client().post("/_matrix/client/v3/login", { type: "m.login.password", identifier: { type: "m.id.user", user: "opsplain" }, password: "plain password 1" });
    const r = await admin(["list-users", "--config", config, "--token", login.body.access_token]);
    expect(r.code).to.equal(1);
    expect(r.err).to.contain("M_FORBIDDEN");
  });

  it("--offline works on the database without the API", async () => {
    const made = await admin(["create-user", "offline-user", "--password", "offline password", "--offline", "--config", config]);
    expect(made.code, made.err).to.equal(0);
    expect(made.out).to.contain("created @offline-user:localhost");
    const listed = await admin(["list-users", "--search", "offline", "--offline", "--config", config]);
    expect(listed.code, listed.err).to.equal(0);
    expect(listed.out).to.contain("@offline-user:localhost");
    expect(listed.out).to.not.contain("_ganglion_admin_cli");
    const login = await t.s.client().post("/_matrix/client/v3/login", { type: "m.login.password", identifier: { type: "m.id.user", user: "offline-user" }, password: "offline password" });
    expect(login.status).to.equal(200);
  });
});
