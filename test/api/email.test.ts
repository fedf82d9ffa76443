// Email over SMTP (nodemailer) against a local SMTP server: adding an address (requestToken,
// the emailed link, /account/3pid/add with UIA), logging in with it, resetting a forgotten
// password by email, registering with an email stage, deleting the address; errors for
// addresses in use or unknown and for sessions not validated.
import { expect } from "chai";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { startSmtp, type TestSmtp } from "../helpers/smtp.js";

const linkIn = (text: string | undefined) => {
  const m = /(https?:\/\/\S+)/.exec(text ?? "");
  if (!m) throw new Error(`no link in: ${text}`);
  return m[1]!;
};

describe("email", function () {
  this.timeout(60_000);
  let smtp: TestSmtp;
  let s: TestServer;
  const logLines: string[] = [];
  before(async () => {
    smtp = await startSmtp({ user: "mailer", pass: "mail secret" });
    s = await startTestServer({ email: { smtp_host: "127.0.0.1", smtp_port: smtp.port, tls: "none", smtp_user: "mailer", smtp_password: "mail secret", from: "Ganglion <noreply@example.org>" } }, logLines);
  });
  after(async () => { await s?.hs.close(); await smtp?.close(); });

  async function proveAddress(path: string, email: string, secret: string, via: "link" | "submit" = "link"): Promise<string> {
    const r = await s.client().post(path, { client_secret: secret, email, send_attempt: 1 });
    expect(r.status, r.text).to.equal(200);
    expect(r.body.sid).to.be.a("string");
    const mail = await smtp.next(email.toLowerCase());
    expect(mail.from?.text).to.contain("noreply@example.org");
    // The link is on public_baseurl; this test server listens on a port of its own.
    const link = linkIn(mail.text).replace(/^https?:\/\/[^/]+/, s.hs.url);
    expect(link).to.contain("/_ganglion/client/email/validate?");
    if (via === "link") {
      const page = await fetch(link, { headers: { Accept: "text/html,application/xhtml+xml,*/*;q=0.8" } });
      expect(page.status).to.equal(200);
      expect(page.headers.get("content-type")).to.match(/text\/html/);
      expect(await page.text()).to.contain("confirmed");
    } else {
      const u = new URL(link);
      const sub = await s.client().post(r.body.submit_url.replace(/^https?:\/\/[^/]+/, ""), { sid: u.searchParams.get("sid"), client_secret: secret, token: u.searchParams.get("token") });
      expect(sub.body).to.deep.equal({ success: true });
    }
    return r.body.sid;
  }

  it("adds an address to an account, which then logs in with it; others cannot take it", async () => {
    const alice = await s.client().register();
    expect((await alice.get("/_matrix/client/v3/capabilities")).body.capabilities["m.3pid_changes"]).to.deep.equal({ enabled: true });
    const sid = await proveAddress("/_matrix/client/v3/account/3pid/email/requestToken", "Alice@Example.org", "secret-a1");
    const noAuth = await alice.post("/_matrix/client/v3/account/3pid/add", { sid, client_secret: "secret-a1" });
    expect(noAuth.status).to.equal(401);
    const added = await alice.post("/_matrix/client/v3/account/3pid/add", { sid, client_secret: "secret-a1", auth: { type: "m.login.password", session: noAuth.body.session, identifier: { type: "m.id.user", user: alice.userId }, password: alice.password } });
    expect(added.status, added.text).to.equal(200);
    const list = await alice.get("/_matrix/client/v3/account/3pid");
    expect(list.body.threepids).to.have.length(1);
    expect(list.body.threepids[0]).to.include({ medium: "email", address: "alice@example.org" });

    const login = await s.client().post("/_matrix/client/v3/login", { type: "m.login.password", identifier: { type: "m.id.thirdparty", medium: "email", address: "ALICE@example.org" }, password: alice.password });
    expect(login.status, login.text).to.equal(200);
    expect(login.body.user_id).to.equal(alice.userId);
    const legacy = await s.client().post("/_matrix/client/v3/login", { type: "m.login.password", medium: "email", address: "alice@example.org", password: alice.password });
    expect(legacy.body.user_id).to.equal(alice.userId);
    const unknown = await s.client().post("/_matrix/client/v3/login", { type: "m.login.password", identifier: { type: "m.id.thirdparty", medium: "email", address: "nobody@example.org" }, password: "x" });
    expect(unknown.status).to.equal(403);

    const taken = await s.client().post("/_matrix/client/v3/account/3pid/email/requestToken", { client_secret: "secret-b1", email: "alice@example.org", send_attempt: 1 });
    expect(taken.body.errcode).to.equal("M_THREEPID_IN_USE");
    expect((await s.client().post("/_matrix/client/v3/account/3pid/email/requestToken", { client_secret: "bad secret!", email: "x@example.org", send_attempt: 1 })).status).to.equal(400);
    expect((await s.client().post("/_matrix/client/v3/account/3pid/email/requestToken", { client_secret: "s", email: "not an email", send_attempt: 1 })).status).to.equal(400);

    // The same send_attempt does not send again; a higher one does.
    const before = smtp.mails.length;
    const again1 = await s.client().post("/_matrix/client/v3/account/3pid/email/requestToken", { client_secret: "secret-c1", email: "carol@example.org", send_attempt: 1 });
    await smtp.next("carol@example.org");
    const again2 = await s.client().post("/_matrix/client/v3/account/3pid/email/requestToken", { client_secret: "secret-c1", email: "carol@example.org", send_attempt: 1 });
    expect(again2.body.sid).to.equal(again1.body.sid);
    await new Promise((r) => setTimeout(r, 300));
    expect(smtp.mails.length).to.equal(before + 1);

    // An address not yet validated cannot be added.
    const carol = await s.client().register();
    const early = await carol.post("/_matrix/client/v3/account/3pid", { three_pid_creds: { sid: again1.body.sid, client_secret: "secret-c1" } });
    expect(early.status).to.equal(401);
    expect(early.body.errcode).to.equal("M_THREEPID_AUTH_FAILED");
    const bad = await fetch(`${s.hs.url}/_ganglion/client/email/validate?sid=${again1.body.sid}&client_secret=secret-c1&token=wrong`, { headers: { Accept: "text/html" } });
    expect(bad.status).to.equal(400);
    expect(await bad.text()).to.contain("This link does not work");
    const badJson = await s.client().get(`/_ganglion/client/email/validate?sid=${again1.body.sid}&client_secret=secret-c1&token=wrong`);
    expect(badJson.status).to.equal(400);
    expect(badJson.body.errcode).to.equal("M_UNKNOWN");

    // Deleting the address: no more logins with it.
    expect((await alice.post("/_matrix/client/v3/account/3pid/delete", { medium: "email", address: "alice@example.org" })).status).to.equal(200);
    expect((await alice.get("/_matrix/client/v3/account/3pid")).body.threepids).to.deep.equal([]);
  });

  it("resets a forgotten password with the emailed link", async () => {
    const bob = await s.client().register();
    const sid = await proveAddress("/_matrix/client/v3/account/3pid/email/requestToken", "bob@example.org", "secret-bob", "submit");
    expect((await bob.post("/_matrix/client/v3/account/3pid", { three_pid_creds: { sid, client_secret: "secret-bob" } })).status).to.equal(200);

    expect((await s.client().post("/_matrix/client/v3/account/password/email/requestToken", { client_secret: "r1", email: "nobody@example.org", send_attempt: 1 })).body.errcode).to.equal("M_THREEPID_NOT_FOUND");
    const resetSid = await proveAddress("/_matrix/client/v3/account/password/email/requestToken", "bob@example.org", "reset-bob");
    const first = await s.client().post("/_matrix/client/v3/account/password", { new_password: "brand new password" });
    expect(first.status).to.equal(401);
    expect(first.body.flows).to.deep.equal([{ stages: ["m.login.email.identity"] }]);
    const done = await s.client().post("/_matrix/client/v3/account/password", {
      new_password: "brand new password", auth: { type: "m.login.email.identity", session: first.body.session, threepid_creds: { sid: resetSid, client_secret: "reset-bob" } },
    });
    expect(done.status, done.text).to.equal(200);
    expect((await bob.get("/_matrix/client/v3/account/whoami")).status, "old sessions are logged out").to.equal(401);
    const login = await s.client().post("/_matrix/client/v3/login", { type: "m.login.password", identifier: { type: "m.id.user", user: bob.userId }, password: "brand new password" });
    expect(login.status).to.equal(200);
    // The link works once.
    const reuse = await s.client().post("/_matrix/client/v3/account/password", { new_password: "another one", auth: { type: "m.login.email.identity", threepid_creds: { sid: resetSid, client_secret: "reset-bob" } } });
    expect(reuse.status).to.equal(401);
  });

  it("registers with an email stage; the address is the new account's", async () => {
    const flows = await s.client().post("/_matrix/client/v3/register", { username: "mailuser", password: "mail user password" });
    expect(flows.status).to.equal(401);
    expect(flows.body.flows).to.deep.include({ stages: ["m.login.email.identity"] });
    expect(flows.body.flows).to.deep.include({ stages: ["m.login.dummy"] });
    const sid = await proveAddress("/_matrix/client/v3/register/email/requestToken", "mailuser@example.org", "reg-secret");
    const r = await s.client().post("/_matrix/client/v3/register", {
      username: "mailuser", password: "mail user password",
      auth: { type: "m.login.email.identity", session: flows.body.session, threepid_creds: { sid, client_secret: "reg-secret" } },
    });
    expect(r.status, r.text).to.equal(200);
    const me = s.client(r.body.access_token);
    expect((await me.get("/_matrix/client/v3/account/3pid")).body.threepids[0].address).to.equal("mailuser@example.org");
    expect((await s.client().post("/_matrix/client/v3/register/email/requestToken", { client_secret: "x2", email: "mailuser@example.org", send_attempt: 1 })).body.errcode).to.equal("M_THREEPID_IN_USE");
    // Deactivated: the address goes with the account.
    const auth = { type: "m.login.password", identifier: { type: "m.id.user", user: r.body.user_id }, password: "mail user password" };
    expect((await me.post("/_matrix/client/v3/account/deactivate", { auth })).status).to.equal(200);
    expect((await s.client().post("/_matrix/client/v3/account/password/email/requestToken", { client_secret: "x3", email: "mailuser@example.org", send_attempt: 1 })).body.errcode).to.equal("M_THREEPID_NOT_FOUND");
  });

  it("neither the emailed tokens nor the SMTP password reach the server's log", async () => {
    expect(smtp.mails.length).to.be.greaterThan(3);
    const log = logLines.join("\n");
    expect(log).to.contain("/_ganglion/client/email/validate"); // the requests are logged, by path
    for (const m of smtp.mails) {
      const token = new URL(linkIn(m.text)).searchParams.get("token")!;
      expect(log).to.not.contain(token);
    }
    expect(log).to.not.contain("mail secret");
  });
});

describe("email notifications", function () {
  this.timeout(60_000);
  let smtp: TestSmtp;
  let s: TestServer;
  before(async () => {
    smtp = await startSmtp();
    s = await startTestServer({ email: { smtp_host: "127.0.0.1", smtp_port: smtp.port, notifications: { enabled: true, delay_ms: 1500 } } });
  });
  after(async () => { await s?.hs.close(); await smtp?.close(); });

  it("mails unread messages after the delay, once; read ones are not mailed", async () => {
    const alice = await s.client().register();
    const bob = await s.client().register();
    // Alice proves her address and turns email notifications on (an email pusher).
    const r = await s.client().post("/_matrix/client/v3/account/3pid/email/requestToken", { client_secret: "n1", email: "alice-n@example.org", send_attempt: 1 });
    const link = linkIn((await smtp.next("alice-n@example.org")).text).replace(/^https?:\/\/[^/]+/, s.hs.url);
    expect((await fetch(link)).status).to.equal(200);
    expect((await alice.post("/_matrix/client/v3/account/3pid", { three_pid_creds: { sid: r.body.sid, client_secret: "n1" } })).status).to.equal(200);
    const pusher = await alice.post("/_matrix/client/v3/pushers/set", { kind: "email", app_id: "m.email", pushkey: "alice-n@example.org", app_display_name: "Email", device_display_name: "alice-n@example.org", lang: "en", data: {} });
    expect(pusher.status, pusher.text).to.equal(200);
    const room = await s.client(bob.token).post("/_matrix/client/v3/createRoom", { name: "Planning", invite: [alice.userId], is_direct: false });
    await alice.post(`/_matrix/client/v3/join/${encodeURIComponent(room.body.room_id)}`, {});
    await bob.put(`/_matrix/client/v3/rooms/${encodeURIComponent(room.body.room_id)}/send/m.room.message/e1`, { msgtype: "m.text", body: `hey ${alice.userId}, are you there?` });
    const mail = await smtp.next("alice-n@example.org", 20_000);
    expect(mail.subject).to.match(/^\d unread messages? on Ganglion$/);
    expect(mail.text).to.contain("Planning:");
    expect(mail.text).to.contain("are you there?");
    // A message she reads at once is not mailed, and nothing is mailed twice.
    const seen = await bob.put(`/_matrix/client/v3/rooms/${encodeURIComponent(room.body.room_id)}/send/m.room.message/e2`, { msgtype: "m.text", body: `${alice.userId} read this one` });
    expect((await alice.post(`/_matrix/client/v3/rooms/${encodeURIComponent(room.body.room_id)}/receipt/m.read/${encodeURIComponent(seen.body.event_id)}`, {})).status).to.equal(200);
    await new Promise((res) => setTimeout(res, 4000));
    expect(smtp.mails.filter((m) => /unread/.test(m.subject ?? "")).length).to.equal(1);
  });
});

describe("email at registration: off and required", function () {
  this.timeout(60_000);
  let smtp: TestSmtp;
  const servers: TestServer[] = [];
  before(async () => { smtp = await startSmtp(); });
  after(async () => { for (const x of servers) await x.hs.close(); await smtp?.close(); });
  const start = async (mode: "off" | "required") => {
    const x = await startTestServer({ email: { smtp_host: "127.0.0.1", smtp_port: smtp.port, registration: mode } });
    servers.push(x);
    return x;
  };

  it("off: the dummy flow only, and registration's requestToken is refused", async () => {
    const x = await start("off");
    const r = await x.client().post("/_matrix/client/v3/register", { username: "offmode", password: "off mode password" });
    expect(r.body.flows).to.deep.equal([{ stages: ["m.login.dummy"] }]);
    const t = await x.client().post("/_matrix/client/v3/register/email/requestToken", { client_secret: "o1", email: "off@example.org", send_attempt: 1 });
    expect(t.status).to.equal(403);
    expect(t.body.errcode).to.equal("M_THREEPID_DENIED");
    // Adding an address to an account still works; a next_link must be http(s).
    const bad = await x.client().post("/_matrix/client/v3/account/3pid/email/requestToken", { client_secret: "o2", email: "off@example.org", send_attempt: 1, next_link: "javascript:alert(1)" });
    expect(bad.status).to.equal(400);
    expect(bad.body.errcode).to.equal("M_INVALID_PARAM");
  });

  it("required: the only flow proves an address; without it no account is made", async () => {
    const x = await start("required");
    const r = await x.client().post("/_matrix/client/v3/register", { username: "reqmode", password: "req mode password" });
    expect(r.body.flows).to.deep.equal([{ stages: ["m.login.email.identity"] }]);
    const dummy = await x.client().post("/_matrix/client/v3/register", { username: "reqmode", password: "req mode password", auth: { type: "m.login.dummy", session: r.body.session } });
    expect(dummy.status).to.equal(400);
    expect(dummy.body.errcode).to.equal("M_UNRECOGNIZED");
    const early = await x.client().post("/_matrix/client/v3/register", { username: "reqmode", password: "req mode password", auth: { type: "m.login.email.identity", session: r.body.session, threepid_creds: { sid: "nope", client_secret: "nope" } } });
    expect(early.status).to.equal(401);
    expect(early.body.errcode).to.equal("M_THREEPID_AUTH_FAILED");
    expect((await x.client().get("/_matrix/client/v3/register/available?username=reqmode")).body).to.deep.equal({ available: true });
  });
});
