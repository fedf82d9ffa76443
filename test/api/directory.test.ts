// directory.yaml, list_public_rooms.yaml
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { createRoom, enc, join } from "../helpers/rooms.js";

describe("aliases and the room directory", () => {
  const t = useServer();

  it("PUT, GET and DELETE an alias; duplicates are 409; foreign or malformed aliases are 400", async () => {
    const a = await t.s.client().register();
    const roomId = await createRoom(a);
    const alias = enc("#team:localhost");
    expect((await a.put(`/_matrix/client/v3/directory/room/${alias}`, { room_id: roomId })).status).to.equal(200);
    const got = await t.s.client().get(`/_matrix/client/v3/directory/room/${alias}`);
    expect(got.body).to.deep.equal({ room_id: roomId, servers: ["localhost"] });
    const dup = await a.put(`/_matrix/client/v3/directory/room/${alias}`, { room_id: roomId });
    expect(dup.status).to.equal(409);
    expect((await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/aliases`)).body.aliases).to.deep.equal(["#team:localhost"]);
    const foreign = await a.put(`/_matrix/client/v3/directory/room/${enc("#x:elsewhere.org")}`, { room_id: roomId });
    expect(foreign.status).to.equal(400);
    const bad = await a.put(`/_matrix/client/v3/directory/room/notanalias`, { room_id: roomId });
    expect(bad.status).to.equal(400);
    expect(bad.body.errcode).to.equal("M_INVALID_PARAM");
    expect((await a.del(`/_matrix/client/v3/directory/room/${alias}`)).status).to.equal(200);
    const gone = await t.s.client().get(`/_matrix/client/v3/directory/room/${alias}`);
    expect(gone.status).to.equal(404);
    expect(gone.body.errcode).to.equal("M_NOT_FOUND");
  });

  it("only the alias's creator (or a room moderator) may delete it", async () => {
    const a = await t.s.client().register();
    const b = await t.s.client().register();
    const roomId = await createRoom(a, { preset: "public_chat" });
    await join(b, roomId);
    const alias = enc("#guarded:localhost");
    await a.put(`/_matrix/client/v3/directory/room/${alias}`, { room_id: roomId });
    const r = await b.del(`/_matrix/client/v3/directory/room/${alias}`);
    expect(r.status).to.equal(403);
    expect(r.body.errcode).to.equal("M_FORBIDDEN");
  });

  it("/rooms/{id}/aliases is for members only", async () => {
    const a = await t.s.client().register();
    const b = await t.s.client().register();
    const roomId = await createRoom(a);
    expect((await b.get(`/_matrix/client/v3/rooms/${enc(roomId)}/aliases`)).status).to.equal(403);
  });

  it("directory visibility: set by a moderator, listed by /publicRooms with counts, paginated", async () => {
    const a = await t.s.client().register();
    const b = await t.s.client().register();
    const rooms: string[] = [];
    for (let i = 0; i < 3; i++) rooms.push(await createRoom(a, { preset: "public_chat", name: `Public ${i}`, topic: i === 1 ? "gardening tips" : "misc" }));
    const hidden = await createRoom(a, { preset: "public_chat", name: "Not listed" });
    for (const r of rooms) {
      expect((await a.get(`/_matrix/client/v3/directory/list/room/${enc(r)}`)).body.visibility).to.equal("private");
      expect((await a.put(`/_matrix/client/v3/directory/list/room/${enc(r)}`, { visibility: "public" })).status).to.equal(200);
    }
    await join(b, rooms[2]!);
    const outsider = await b.put(`/_matrix/client/v3/directory/list/room/${enc(hidden)}`, { visibility: "public" });
    expect(outsider.status).to.equal(403);
    expect((await a.get(`/_matrix/client/v3/directory/list/room/${enc(rooms[0]!)}`)).body.visibility).to.equal("public");
    const all = await t.s.client().get("/_matrix/client/v3/publicRooms");
    expect(all.status).to.equal(200);
    const ids = all.body.chunk.map((e: any) => e.room_id);
    expect(ids).to.include.members(rooms);
    expect(ids).to.not.include(hidden);
    expect(ids[0]).to.equal(rooms[2]); // most members first
    const entry = all.body.chunk.find((e: any) => e.room_id === rooms[2]);
    expect(entry).to.include({ num_joined_members: 2, world_readable: false, guest_can_join: false, join_rule: "public", name: "Public 2" });
    // Pagination covers every room once.
    const seen: string[] = [];
    let since: string | undefined;
    for (let i = 0; i < 10; i++) {
      const page = await t.s.client().get(`/_matrix/client/v3/publicRooms?limit=2${since ? `&since=${since}` : ""}`);
      seen.push(...page.body.chunk.map((e: any) => e.room_id));
      if (!page.body.next_batch) break;
      since = page.body.next_batch;
    }
    expect(seen.sort()).to.deep.equal([...ids].sort());
    const search = await a.post("/_matrix/client/v3/publicRooms", { filter: { generic_search_term: "garden" } });
    expect(search.body.chunk.map((e: any) => e.room_id)).to.deep.equal([rooms[1]]);
    expect((await t.s.client().get("/_matrix/client/v3/publicRooms?since=bogus")).status).to.equal(400);
    expect((await t.s.client().get(`/_matrix/client/v3/directory/list/room/${enc("!none:localhost")}`)).status).to.equal(404);
  });

  it("createRoom with visibility public lists the room", async () => {
    const a = await t.s.client().register();
    const roomId = await createRoom(a, { visibility: "public", name: "Listed at birth" });
    const all = await t.s.client().get("/_matrix/client/v3/publicRooms");
    expect(all.body.chunk.map((e: any) => e.room_id)).to.include(roomId);
  });

  it("deleting an alias takes it out of the room's canonical alias event", async () => {
    const a = await t.s.client().register();
    const roomId = await createRoom(a, { room_alias_name: "canon1" });
    expect((await a.put(`/_matrix/client/v3/directory/room/${enc("#canon2:localhost")}`, { room_id: roomId })).status).to.equal(200);
    const set = await a.put(`/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.canonical_alias/`, { alias: "#canon1:localhost", alt_aliases: ["#canon2:localhost"] });
    expect(set.status, set.text).to.equal(200);
    expect((await a.del(`/_matrix/client/v3/directory/room/${enc("#canon1:localhost")}`)).status).to.equal(200);
    const ev = await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.canonical_alias/`);
    expect(ev.body).to.deep.equal({ alt_aliases: ["#canon2:localhost"] });
    // Redacting an event through another room: 400.
    const other = await createRoom(a);
    const msgs = await a.get(`/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=1`);
    const r = await a.put(`/_matrix/client/v3/rooms/${enc(other)}/redact/${enc(msgs.body.chunk[0].event_id)}/x1`, {});
    expect(r.status).to.equal(400);
  });
});
