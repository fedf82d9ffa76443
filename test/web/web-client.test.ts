// The reference web client (packages/web) in headless Chromium against the real server: two
// users in two browser contexts register, chat, see each other type, watch a message go
// sent → delivered → read, react, edit, reply, open a thread, search, upload an image, delete,
// and one side's network is cut and restored mid-conversation with nothing lost or doubled.
// Set WEB_SCREENSHOTS to a folder to keep screenshots of the main screens (docs/images).
import { expect } from "chai";
import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import sharp from "sharp";
import { buildWeb } from "../../packages/web/build.mjs";
import { WEB_CLIENT_CSP } from "../../src/http/web-client.js";
import { cutProxy, launchChromium, type CutProxy } from "../helpers/browser.js";
import { testConfig, useServer } from "../helpers/server.js";

const PASSWORD = "correct horse battery staple";
const shots = process.env.WEB_SCREENSHOTS;

describe("web client (Chromium)", function () {
  this.timeout(120_000);
  const t = useServer({ delivery_receipts: { min_interval_ms: 0 } });
  let browser: Browser;
  const proxies: CutProxy[] = [];
  const contexts: BrowserContext[] = [];
  const problems: string[] = [];

  before(async function () {
    this.timeout(120_000);
    await buildWeb();
    browser = await launchChromium();
  });
  // A failed step leaves a picture of each page behind (in WEB_SCREENSHOTS, when set).
  afterEach(async function () {
    if (this.currentTest?.state !== "failed" || !shots) return;
    let i = 0;
    for (const c of contexts) for (const p of c.pages()) await p.screenshot({ path: path.join(shots, `failed-${i++}.png`) }).catch(() => undefined);
  });
  after(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    for (const p of proxies) await p.close();
  });

  /** A user's browser, on its own network path to the server. */
  async function user(): Promise<{ page: Page; net: CutProxy }> {
    const net = await cutProxy(t.s.hs.url);
    proxies.push(net);
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    contexts.push(ctx);
    const page = await ctx.newPage();
    // A CSP violation, an uncaught error: the page is broken even if the test goes on.
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    page.on("console", (m) => { if (m.type() === "error" && /Content.Security.Policy|Refused to/i.test(m.text())) problems.push(`console: ${m.text()}`); });
    page.on("dialog", (d) => void d.accept());
    return { page, net };
  }

  async function signUp(page: Page, base: string, name: string): Promise<void> {
    await page.goto(base + "/");
    await page.getByRole("button", { name: "No account? Create one" }).click();
    await page.fill("input[name=username]", name);
    await page.fill("input[name=password]", PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await page.waitForSelector("[data-testid=me]");
    expect(await page.textContent("[data-testid=me]")).to.equal(`@${name}:localhost`);
  }

  const message = (page: Page, body: string) => page.locator("[data-testid=timeline] [data-testid=message]", { hasText: body });
  const shot = async (page: Page, name: string) => { if (shots) await page.screenshot({ path: path.join(shots, `web-${name}.png`) }); };
  async function say(page: Page, body: string, where = "composer"): Promise<void> {
    await page.fill(`[data-testid=${where}] [data-testid=message-input]`, body);
    await page.click(`[data-testid=${where}] [data-testid=send]`);
  }
  async function tickOf(page: Page, body: string): Promise<string | null> {
    return message(page, body).locator("[data-testid=tick]").getAttribute("data-state");
  }
  async function waitTick(page: Page, body: string, state: string): Promise<void> {
    await message(page, body).locator(`[data-testid=tick][data-state=${state}]`).waitFor({ timeout: 15_000 });
  }

  it("signs in, and says why it could not", async () => {
    const { page, net } = await user();
    await page.goto(net.url + "/");
    await shot(page, "login");
    await page.fill("input[name=username]", "nobody");
    await page.fill("input[name=password]", "wrong password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("[role=alert]").waitFor();
    expect(await page.textContent("[role=alert]")).to.match(/invalid|forbidden|password|user/i);
    expect(await page.locator("[data-testid=me]").count()).to.equal(0);
  });

  it("is served with a strict CSP beside the API, which keeps its own answers", async () => {
    const page = await fetch(t.s.hs.url + "/");
    expect(page.status).to.equal(200);
    expect(page.headers.get("content-security-policy")).to.equal(WEB_CLIENT_CSP);
    expect(page.headers.get("content-security-policy")).to.not.match(/unsafe-inline|unsafe-eval/);
    expect(page.headers.get("x-frame-options")).to.equal("DENY");
    expect(await page.text()).to.contain('<div id="app">');
    const js = await fetch(t.s.hs.url + "/app.js");
    expect(js.status).to.equal(200);
    expect(js.headers.get("content-type")).to.match(/javascript/);
    const api = await fetch(t.s.hs.url + "/_matrix/client/versions");
    expect(api.status).to.equal(200);
    const unknown = await fetch(t.s.hs.url + "/no-such-page");
    expect(unknown.status).to.equal(404);
    expect(((await unknown.json()) as { errcode?: string }).errcode).to.equal("M_UNRECOGNIZED");
    const traversal = await fetch(t.s.hs.url + "/..%2f..%2fpackage.json");
    expect(traversal.status).to.be.oneOf([400, 403, 404]);
  });

  it("two users chat: invite, typing, ticks, reactions, edits, replies, threads, search, images, deletes, a cut network", async () => {
    const alice = await user();
    const bob = await user();
    await signUp(alice.page, alice.net.url, "alice");
    await signUp(bob.page, bob.net.url, "bob");
    await shot(alice.page, "empty");

    // Alice makes a room and invites Bob; Bob joins from the invitation in his list.
    await alice.page.click("[data-testid=new-room]");
    await alice.page.fill("[aria-label='Room name']", "Lunch");
    await alice.page.fill("[aria-label=Invite]", "@bob:localhost");
    await alice.page.click("[data-testid=create-form] button[type=submit]");
    await alice.page.waitForSelector("[data-testid=room-name]:has-text('Lunch')");
    await bob.page.click("[data-testid=accept]");
    await bob.page.waitForSelector("[data-testid=room-name]:has-text('Lunch')");
    await alice.page.locator("[data-testid=members] [data-user='@bob:localhost']").waitFor();

    // Typing shows on the other side.
    await alice.page.fill("[data-testid=composer] [data-testid=message-input]", "hello b");
    await bob.page.locator("[data-testid=typing]", { hasText: "alice is typing" }).waitFor();

    // Bob looks at another room: Alice's message reaches his device (delivered), unread there.
    await bob.page.click("[data-testid=new-room]");
    await bob.page.fill("[aria-label='Room name']", "Notes");
    await bob.page.click("[data-testid=create-form] button[type=submit]");
    await bob.page.waitForSelector("[data-testid=room-name]:has-text('Notes')");
    await say(alice.page, "hello bob");
    expect(await tickOf(alice.page, "hello bob")).to.be.oneOf(["sending", "sent", "delivered"]);
    await waitTick(alice.page, "hello bob", "delivered");
    await bob.page.locator("[data-testid=room-list] li:has-text('Lunch') [data-testid=unread]", { hasText: "1" }).waitFor();
    expect(await bob.page.textContent("[data-testid=room-list] li:has-text('Lunch') .preview")).to.contain("hello bob");
    expect(await tickOf(alice.page, "hello bob")).to.equal("delivered");
    // He opens it: read.
    await bob.page.click("[data-testid=room-list] li:has-text('Lunch')");
    await message(bob.page, "hello bob").waitFor();
    await waitTick(alice.page, "hello bob", "read");
    await bob.page.locator("[data-testid=room-list] li:has-text('Lunch') [data-testid=unread]").waitFor({ state: "detached" });
    expect(await bob.page.locator("[data-testid=typing]").textContent()).to.equal("");

    // Bob reacts; Alice sees the count and who.
    await message(bob.page, "hello bob").hover();
    await message(bob.page, "hello bob").getByRole("button", { name: "React 👍" }).click();
    await message(alice.page, "hello bob").locator("[data-testid=reaction]", { hasText: "👍 1" }).waitFor();

    // Alice edits; Bob sees the new text, marked edited, and no second message.
    await message(alice.page, "hello bob").hover();
    await message(alice.page, "hello bob").locator("[data-testid=act-edit]").click();
    await say(alice.page, "hello bob, lunch at noon?");
    await message(bob.page, "lunch at noon?").locator("[data-testid=edited]").waitFor();
    expect(await message(bob.page, "hello bob").count()).to.equal(1);

    // Bob replies; Alice sees the quote.
    await message(bob.page, "lunch at noon?").hover();
    await message(bob.page, "lunch at noon?").locator("[data-testid=act-reply]").click();
    await say(bob.page, "noon works");
    await message(alice.page, "noon works").locator("[data-testid=quote]", { hasText: "lunch at noon?" }).waitFor();
    await shot(alice.page, "chat");

    // A thread on Bob's reply.
    await message(alice.page, "noon works").hover();
    await message(alice.page, "noon works").locator("[data-testid=act-thread]").click();
    await say(alice.page, "which place?", "thread-composer");
    await alice.page.locator("[data-testid=thread] [data-testid=message]", { hasText: "which place?" }).waitFor();
    await message(bob.page, "noon works").locator("[data-testid=thread-count]", { hasText: "1 reply" }).waitFor();
    expect(await message(bob.page, "which place?").count()).to.equal(0); // in the thread, not the main timeline
    await message(bob.page, "noon works").locator("[data-testid=thread-count]").click();
    await bob.page.locator("[data-testid=thread] [data-testid=message]", { hasText: "which place?" }).waitFor();
    await shot(bob.page, "thread");

    // An image: uploaded, sent, shown to Bob as a thumbnail fetched with his token.
    const png = await sharp({ create: { width: 640, height: 400, channels: 3, background: { r: 11, g: 122, b: 90 } } }).png().toBuffer();
    await alice.page.setInputFiles("[data-testid=file-input]", { name: "menu.png", mimeType: "image/png", buffer: png });
    const thumb = message(bob.page, "alice").locator("[data-testid=thumbnail]");
    await thumb.waitFor();
    expect(await thumb.getAttribute("src")).to.match(/^blob:/);
    await bob.page.waitForFunction("[...document.querySelectorAll('[data-testid=thumbnail]')].some((i) => i.complete && i.naturalWidth > 0)");
    const w = await thumb.evaluate((i) => (i as unknown as { naturalWidth: number }).naturalWidth);
    expect(w).to.be.within(1, 320);

    // Search, with the matched word highlighted.
    await alice.page.fill("[data-testid=search-input]", "noon");
    await alice.page.press("[data-testid=search-input]", "Enter");
    await alice.page.locator("[data-testid=search-result]").first().waitFor();
    expect(await alice.page.locator("[data-testid=search-results] mark").first().textContent()).to.match(/^noon$/i);
    await shot(alice.page, "search");
    await alice.page.locator("[data-testid=search-results] button", { hasText: "Close" }).click();

    // A deleted message.
    await say(alice.page, "oops wrong room");
    await message(bob.page, "oops wrong room").waitFor();
    await message(alice.page, "oops wrong room").hover();
    await message(alice.page, "oops wrong room").locator("[data-testid=act-delete]").click();
    await bob.page.locator("[data-testid=timeline] .msg.deleted").first().waitFor();
    expect(await message(bob.page, "oops wrong room").count()).to.equal(0);

    // Bob's network goes: both keep talking; when it is back nothing is lost or doubled.
    bob.net.cut();
    await bob.page.locator("[data-testid=connection]", { hasText: "Offline" }).waitFor();
    await say(alice.page, "while you were away 1");
    await say(alice.page, "while you were away 2");
    await say(bob.page, "typed offline");
    expect(await tickOf(bob.page, "typed offline")).to.equal("sending");
    await shot(bob.page, "offline");
    await new Promise((r) => setTimeout(r, 1500));
    bob.net.restore();
    await message(bob.page, "while you were away 2").waitFor({ timeout: 60_000 });
    await message(alice.page, "typed offline").waitFor({ timeout: 30_000 });
    await waitTick(bob.page, "typed offline", "read");
    for (const [page, body] of [[bob.page, "while you were away 1"], [bob.page, "while you were away 2"], [alice.page, "typed offline"], [bob.page, "typed offline"]] as const) {
      expect(await message(page, body).count(), body).to.equal(1);
    }
    expect(await bob.page.locator("[data-testid=connection]").count()).to.equal(0);

    // Presence in the member list.
    await bob.page.getByRole("button", { name: /^Members/ }).click();
    await bob.page.locator("[data-testid=members] [data-user='@alice:localhost'] [data-presence=online]").waitFor();

    // Scroll-back: after a reload the page starts from a window of the newest 30 events; older
    // ones come back page by page from /messages, each once.
    const token = await alice.page.evaluate<string>("JSON.parse(localStorage.getItem('ganglion.session')).accessToken");
    const roomId = await alice.page.locator("[data-testid=room-list] li.current").getAttribute("data-room");
    for (let i = 0; i < 35; i++) {
      const r = await fetch(`${t.s.hs.url}/_matrix/client/v3/rooms/${encodeURIComponent(roomId!)}/send/m.room.message/h${i}`, {
        method: "PUT", headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, body: JSON.stringify({ msgtype: "m.text", body: `history ${String(i).padStart(2, "0")}` }),
      });
      expect(r.status).to.equal(200);
    }
    await alice.page.reload();
    await message(alice.page, "history 34").waitFor();
    expect(await message(alice.page, "history 00").count()).to.equal(0);
    for (let i = 0; i < 10 && (await message(alice.page, "typed offline").count()) === 0; i++) {
      await alice.page.click("[data-testid=load-older]");
      await alice.page.waitForSelector("[data-testid=load-older]:not([disabled]), .history .muted");
    }
    for (const body of ["typed offline", "noon works", ...Array.from({ length: 35 }, (_, i) => `history ${String(i).padStart(2, "0")}`)]) {
      expect(await message(alice.page, body).count(), body).to.equal(1);
    }
    expect(problems, problems.join("\n")).to.deep.equal([]);
  });
});

describe("web client: where it is served", () => {
  describe("at a path of its own", () => {
    const t = useServer({ web_client: { path: "/chat/" } });
    it("answers there (a redirect adds the slash), and / stays the API's 404", async () => {
      const bare = await fetch(t.s.hs.url + "/chat", { redirect: "manual" });
      expect(bare.status).to.equal(301);
      expect(bare.headers.get("location")).to.equal("/chat/");
      const page = await fetch(t.s.hs.url + "/chat/");
      expect(page.status).to.equal(200);
      expect(page.headers.get("content-security-policy")).to.equal(WEB_CLIENT_CSP);
      expect((await fetch(t.s.hs.url + "/chat/app.css")).status).to.equal(200);
      const root = await fetch(t.s.hs.url + "/");
      expect(root.status).to.equal(404);
      expect(((await root.json()) as { errcode?: string }).errcode).to.equal("M_UNRECOGNIZED");
    });
  });
  describe("turned off", () => {
    const t = useServer({ web_client: { enabled: false } });
    it("serves nothing", async () => {
      for (const p of ["/", "/app.js", "/index.html"]) expect((await fetch(t.s.hs.url + p)).status, p).to.equal(404);
    });
  });
  it("a path under /_matrix or /_synapse is a config error", () => {
    for (const path of ["/_matrix/", "/_synapse/admin/", "chat/", "/chat"]) {
      expect(() => testConfig("postgres://x/y", { web_client: { path } }), path).to.throw();
    }
  });
});
