// pushrules.yaml: defaults, CRUD with ordering, enabled/actions, and what the rules do to counts.
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { enc, send, twoInRoom } from "../helpers/rooms.js";

const base = "/_matrix/client/v3/pushrules/global";

describe("push rules", () => {
  const t = useServer();

  it("CRUD with before/after ordering; enabled and actions; defaults cannot be deleted", async () => {
    const u = await t.s.client().register();
    const put = (kind: string, id: string, body: Record<string, unknown>, q = "") => u.put(`${base}/${kind}/${enc(id)}${q}`, body);
    expect((await put("content", "cake", { pattern: "cake", actions: ["notify"] })).status).to.equal(200);
    expect((await put("content", "pie", { pattern: "pie", actions: ["notify"] })).status).to.equal(200);
    expect((await put("content", "tart", { pattern: "tart", actions: ["notify"] }, "?after=cake")).status).to.equal(200);
    expect((await put("content", "bun", { pattern: "bun", actions: ["notify"] }, "?before=pie")).status).to.equal(200);
    const content = (await u.get(`${base}/`)).body.content.filter((r: any) => !r.default).map((r: any) => r.rule_id);
    expect(content).to.deep.equal(["bun", "pie", "cake", "tart"]);
    expect((await put("content", "x", { pattern: "x", actions: [] }, "?before=nosuchrule")).status).to.equal(404);
    expect((await put("content", "nopattern", { actions: [] })).status).to.equal(400);
    expect((await put("override", ".m.rule.mine", { actions: [] })).status).to.equal(400);
    expect((await put("nonsense", "r", { actions: [] })).status).to.equal(400);
    expect((await u.put(`/_matrix/client/v3/pushrules/device/content/cake`, { pattern: "c", actions: [] })).status).to.equal(400);
    // A new override goes after the master rule, before the other defaults.
    await put("override", "mine", { conditions: [{ kind: "event_match", key: "type", pattern: "m.room.message" }], actions: ["notify"] });
    const override = (await u.get(`${base}/`)).body.override.map((r: any) => r.rule_id);
    expect(override.slice(0, 3)).to.deep.equal([".m.rule.master", "mine", ".m.rule.suppress_notices"]);
    expect((await u.get(`${base}/content/cake`)).body.pattern).to.equal("cake");
    expect((await u.put(`${base}/content/cake/enabled`, { enabled: false })).status).to.equal(200);
    expect((await u.get(`${base}/content/cake/enabled`)).body).to.deep.equal({ enabled: false });
    expect((await u.put(`${base}/override/.m.rule.suppress_notices/actions`, { actions: ["notify"] })).status).to.equal(200);
    expect((await u.get(`${base}/override/.m.rule.suppress_notices/actions`)).body).to.deep.equal({ actions: ["notify"] });
    expect((await u.del(`${base}/content/cake`)).status).to.equal(200);
    expect((await u.get(`${base}/content/cake`)).status).to.equal(404);
    expect((await u.del(`${base}/override/.m.rule.master`)).status).to.equal(400);
    expect((await u.put(`${base}/override/.m.rule.master/actions`, { actions: ["bogus"] })).status).to.equal(400);
    // The rule set reaches the client in account data.
    const sync = await u.get("/_matrix/client/v3/sync");
    const rules = sync.body.account_data.events.find((e: any) => e.type === "m.push_rules");
    expect(rules.content.global.content.map((r: any) => r.rule_id)).to.include("tart");
  });

  it("a path that addresses no rule, kind, scope or attribute is 400; an unknown rule is 404", async () => {
    const u = await t.s.client().register();
    const pr = "/_matrix/client/v3/pushrules";
    for (const [method, path] of [["PUT", "/"], ["PUT", "/global"], ["PUT", "/global/room"], ["PUT", "/global/room/"], ["PUT", "/global/override/.m.rule.master/not_an_attr"],
      ["GET", "/global"], ["GET", "/global/room"], ["GET", "/not_a_scope/"], ["GET", "/global/not_a_template/"], ["GET", "/global/override/.m.rule.master/not_an_attr"]] as const) {
      const r = method === "PUT" ? await u.put(`${pr}${path}`, { actions: ["notify"] }) : await u.get(`${pr}${path}`);
      expect(r.status, `${method} ${path}`).to.equal(400);
    }
    expect((await u.get(`${pr}/global/`)).status).to.equal(200);
    expect((await u.get(`${pr}/global/override/not_a_rule_id`)).status).to.equal(404);
  });

  it("changes made at the same moment are all kept", async () => {
    const u = await t.s.client().register();
    const puts = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      u.put(`${base}/content/word${i}`, { actions: ["notify"], pattern: `word${i}` })));
    expect(puts.map((r) => r.status)).to.deep.equal(Array(10).fill(200));
    const all = await u.get("/_matrix/client/v3/pushrules/");
    const ids = all.body.global.content.map((r: any) => r.rule_id).filter((id: string) => id.startsWith("word")).sort();
    expect(ids).to.deep.equal(Array.from({ length: 10 }, (_, i) => `word${i}`).sort());
  });

  it("rules decide the counts: a keyword highlights, a muted room counts nothing, the master rule silences all", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    const counts = async () => (await a.get("/_matrix/client/v3/sync")).body.rooms.join[roomId].unread_notifications;
    await a.put(`${base}/content/lunch`, { pattern: "lunch", actions: ["notify", { set_tweak: "highlight" }] });
    await send(b, roomId, "who wants lunch?");
    await send(b, roomId, "anyone?");
    expect(await counts()).to.deep.equal({ notification_count: 2, highlight_count: 1 });
    await a.put(`${base}/room/${enc(roomId)}`, { actions: [] });
    await send(b, roomId, "hello?");
    // The room rule now stops notifications for this room (it is counted afresh with the new rules).
    expect(await counts()).to.deep.equal({ notification_count: 1, highlight_count: 1 });
    await a.del(`${base}/room/${enc(roomId)}`);
    await a.put(`${base}/override/.m.rule.master/enabled`, { enabled: true });
    expect((await counts()).notification_count).to.equal(0);
  });
});

describe("GET /notifications", () => {
  const t = useServer();

  it("lists what notified, newest first, read or not, highlights only on request, paginated", async () => {
    const { a, b, roomId } = await twoInRoom(t.s.client());
    const m1 = await send(b, roomId, "one");
    await send(b, roomId, { msgtype: "m.notice", body: "a notice" });
    const m2 = await send(b, roomId, { msgtype: "m.text", body: "hi", "m.mentions": { user_ids: [a.userId] } });
    await a.post(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read/${enc(m1)}`, {});
    const all = await a.get("/_matrix/client/v3/notifications");
    expect(all.status, all.text).to.equal(200);
    expect(all.status).to.equal(200);
    const ids = all.body.notifications.map((n: any) => n.event.event_id);
    expect(ids.slice(0, 2)).to.deep.equal([m2, m1]);
    expect(all.body.notifications[0]).to.include({ read: false, room_id: roomId });
    expect(all.body.notifications[1].read).to.equal(true);
    const hl = await a.get("/_matrix/client/v3/notifications?only=highlight");
    expect(hl.body.notifications.map((n: any) => n.event.event_id)).to.deep.equal([m2]);
    const page = await a.get("/_matrix/client/v3/notifications?limit=1");
    expect(page.body.notifications.map((n: any) => n.event.event_id)).to.deep.equal([m2]);
    const next = await a.get(`/_matrix/client/v3/notifications?limit=1&from=${page.body.next_token}`);
    expect(next.body.notifications.map((n: any) => n.event.event_id)).to.deep.equal([m1]);
  });
});
