// npm run register-user
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { useServer } from "./helpers/server.js";
import { runScript } from "./helpers/cli.js";


const runCli = (args: string[], stdin = "") => runScript("src/cli/register-user.ts", args, stdin);

describe("register-user CLI", () => {
  const t = useServer({ registration: { enabled: false, shared_secret: "cli-shared-secret-0123456789" } });

  function configFile(secret: string | null): string {
    const dir = mkdtempSync(path.join(tmpdir(), "ganglion-cli-"));
    const file = path.join(dir, "c.yaml");
    writeFileSync(file, `public_baseurl: ${t.s.hs.url}/\nregistration:\n  shared_secret: ${secret === null ? "null" : JSON.stringify(secret)}\n`);
    return file;
  }

  it("creates a user while open registration is off, password from stdin", async () => {
    const r = await runCli(["--config", configFile("cli-shared-secret-0123456789"), "--user", "cliadmin", "--admin"], "cli-password\n");
    expect(r.code, r.err).to.equal(0);
    expect(r.out).to.include("@cliadmin:localhost");
    const login = await t.s.client().post("/_matrix/client/v3/login", { type: "m.login.password", user: "cliadmin", password: "cli-password" });
    expect(login.status).to.equal(200);
  });

  it("fails clearly with a wrong secret or none", async () => {
    const wrong = await runCli(["--config", configFile("not-the-right-secret-000"), "--user", "x1", "--password", "pw"]);
    expect(wrong.code).to.equal(1);
    expect(wrong.err).to.include("M_FORBIDDEN");
    const none = await runCli(["--config", configFile(null), "--user", "x2", "--password", "pw"]);
    expect(none.code).to.equal(2);
    expect(none.err).to.include("shared_secret");
  });
});
