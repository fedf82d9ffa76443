// The media admin API (a user's media, delete by ID and by age and size, quarantine by media,
// room and user, protection) and server notices; non-admins are refused on every path.
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { registerAdmin } from "../helpers/admin.js";
import { createRoom, enc, join } from "../helpers/rooms.js";
import type { UserClient } from "../helpers/client.js";

const A = "/_synapse/admin";

async function upload(c: UserClient, body: string, name: string): Promise<string> {
  const r = await c.req("POST", `/_matrix/media/v3/upload?filename=${name}`, { raw: Buffer.from(body), headers: { "Content-Type": "text/plain" } });
  expect(r.status, r.text).to.equal(200);
  return r.body.content_uri;
}
const idOf = (mxc: string) => mxc.split("/").pop()!;
const download = (c: UserClient, mxc: string) => c.get(`/_matrix/client/v1/media/download/localhost/${idOf(mxc)}`);

describe("admin API: media and server notices", () => {
  const t = useServer();

  it("refuses non-admins", async () => {
    const plain = await t.s.client().register();
    const u = enc(plain.userId);
    for (const [m, p] of [
      ["GET", `${A}/v1/users/${u}/media`], ["DELETE", `${A}/v1/users/${u}/media`], ["GET", `${A}/v1/media/localhost/x`], ["DELETE", `${A}/v1/media/localhost/x`],
      ["POST", `${A}/v1/media/delete?before_ts=1`], ["POST", `${A}/v1/media/quarantine/localhost/x`], ["POST", `${A}/v1/media/unquarantine/localhost/x`],
      ["POST", `${A}/v1/media/protect/x`], ["POST", `${A}/v1/media/unprotect/x`], ["POST", `${A}/v1/room/${enc("!r:localhost")}/media/quarantine`],
      ["POST", `${A}/v1/user/${u}/media/quarantine`], ["GET", `${A}/v1/room/${enc("!r:localhost")}/media`], ["POST", `${A}/v1/send_server_notice`],
      ["PUT", `${A}/v1/send_server_notice/t1`],
    ] as const) {
      const r = await plain.req(m, p, m === "GET" || m === "DELETE" ? {} : { body: {} });
      expect(r.status, `${m} ${p}`).to.equal(403);
    }
  });

  it("lists and deletes a user's media; deletes by ID and by age", async () => {
    const admin = await registerAdmin(t.s);
    const alice = await t.s.client().register();
    const first = await upload(alice, "one", "one.txt");
    const second = await upload(alice, "second file", "two.txt");
    const list = await admin.get(`${A}/v1/users/${enc(alice.userId)}/media`);
    expect(list.body.total).to.equal(2);
    expect(list.body.media.map((m: { media_id: string }) => m.media_id)).to.deep.equal([idOf(second), idOf(first)]); // newest first
    expect(list.body.media[0]).to.include({ media_type: "text/plain", media_length: 11, upload_name: "two.txt", quarantined_by: null, safe_from_quarantine: false });
    const bySize = await admin.get(`${A}/v1/users/${enc(alice.userId)}/media?order_by=media_length&dir=f&limit=1`);
    expect(bySize.body.media[0].media_id).to.equal(idOf(first));
    expect(bySize.body.next_token).to.equal(1);
    expect((await admin.get(`${A}/v1/media/localhost/${idOf(first)}`)).body.media_info.upload_name).to.equal("one.txt");

    const del = await admin.del(`${A}/v1/media/localhost/${idOf(first)}`);
    expect(del.body).to.deep.equal({ deleted_media: [idOf(first)], total: 1 });
    expect((await download(alice, first)).status).to.equal(404);
    expect((await admin.del(`${A}/v1/media/localhost/${idOf(first)}`)).status).to.equal(404);

    const third = await upload(alice, "third", "three.txt");
    await admin.post(`${A}/v1/media/protect/${idOf(third)}`, {});
    const old = await admin.post(`${A}/v1/media/delete?before_ts=${Date.now() + 1000}&size_gt=0`, {});
    expect(old.body.deleted_media).to.include(idOf(second));
    expect(old.body.deleted_media).to.not.include(idOf(third)); // protected
    expect((await admin.post(`${A}/v1/media/delete`, {})).status).to.equal(400);
    const all = await admin.del(`${A}/v1/users/${enc(alice.userId)}/media`);
    expect(all.body.deleted_media).to.deep.equal([idOf(third)]);
  });

  it("quarantines by media, room and user: quarantined files are not served; protected ones are spared", async () => {
    const admin = await registerAdmin(t.s);
    const alice = await t.s.client().register();
    const bob = await t.s.client().register();
    const roomId = await createRoom(alice, { preset: "public_chat" });
    await join(bob, roomId);
    const inRoom = await upload(alice, "room file", "r.txt");
    const other = await upload(bob, "bob file", "b.txt");
    const safe = await upload(bob, "safe", "s.txt");
    const sent = await alice.put(`/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/m1`, { msgtype: "m.file", body: "r.txt", url: inRoom });
    expect(sent.status).to.equal(200);
    expect((await admin.get(`${A}/v1/room/${enc(roomId)}/media`)).body).to.deep.equal({ local: [inRoom], remote: [] });

    expect((await admin.post(`${A}/v1/media/quarantine/localhost/${idOf(other)}`, {})).status).to.equal(200);
    expect((await download(bob, other)).status).to.equal(404);
    await admin.post(`${A}/v1/media/unquarantine/localhost/${idOf(other)}`, {});
    expect((await download(bob, other)).status).to.equal(200);

    expect((await admin.post(`${A}/v1/room/${enc(roomId)}/media/quarantine`, {})).body).to.deep.equal({ num_quarantined: 1 });
    expect((await download(bob, inRoom)).status).to.equal(404);
    await admin.post(`${A}/v1/media/protect/${idOf(safe)}`, {});
    expect((await admin.post(`${A}/v1/user/${enc(bob.userId)}/media/quarantine`, {})).body).to.deep.equal({ num_quarantined: 1 });
    expect((await download(bob, other)).status).to.equal(404);
    expect((await download(bob, safe)).status).to.equal(200);
    const listed = await admin.get(`${A}/v1/users/${enc(bob.userId)}/media?order_by=media_id`);
    expect(listed.body.media.find((m: { media_id: string }) => m.media_id === idOf(other)).quarantined_by).to.equal(admin.userId);
  });

  it("server notices: a room of the user's own, tagged, where only the server speaks; idempotent with a txn ID", async () => {
    const admin = await registerAdmin(t.s);
    const alice = await t.s.client().register();
    const r = await admin.post(`${A}/v1/send_server_notice`, { user_id: alice.userId, content: { msgtype: "m.text", body: "Maintenance tonight" } });
    expect(r.status, r.text).to.equal(200);
    const sync = await alice.get("/_matrix/client/v3/sync?timeout=0");
    const [roomId, invite] = Object.entries(sync.body.rooms.invite as Record<string, { invite_state: { events: { type: string; sender: string }[] } }>)[0]!;
    expect(invite.invite_state.events.some((e) => e.sender === "@notices:localhost")).to.equal(true);
    expect((await alice.post(`/_matrix/client/v3/join/${enc(roomId)}`, {})).status).to.equal(200);
    const msgs = await alice.get(`/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=10`);
    expect(msgs.body.chunk.some((e: { event_id: string; content: { body?: string } }) => e.event_id === r.body.event_id && e.content.body === "Maintenance tonight")).to.equal(true);
    const tags = await alice.get(`/_matrix/client/v3/user/${enc(alice.userId)}/rooms/${enc(roomId)}/tags`);
    expect(tags.body.tags).to.have.property("m.server_notice");
    expect((await alice.put(`/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/x`, { msgtype: "m.text", body: "reply" })).status).to.equal(403);
    // The second notice lands in the same room; a repeated transaction answers the same event.
    const a = await admin.put(`${A}/v1/send_server_notice/n1`, { user_id: alice.userId, content: { msgtype: "m.text", body: "Done" } });
    const b = await admin.put(`${A}/v1/send_server_notice/n1`, { user_id: alice.userId, content: { msgtype: "m.text", body: "Done" } });
    expect(a.body.event_id).to.equal(b.body.event_id);
    const ev = await alice.get(`/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(a.body.event_id)}`);
    expect(ev.status).to.equal(200);
    expect((await admin.post(`${A}/v1/send_server_notice`, { user_id: "@nobody:localhost", content: { body: "x" } })).status).to.equal(404);
    expect((await t.s.client().post("/_matrix/client/v3/register", { username: "notices", password: "some password", auth: { type: "m.login.dummy" } })).body.errcode).to.equal("M_USER_IN_USE");
  });
});
