// Every route we serve, with malformed bodies, odd path parameters and odd query strings, and
// with another user's rooms, events and account: never a 500, every error a Matrix
// {errcode, error}, and nothing of someone else's private room or account data served.
import { expect } from "chai";
import { routeTables } from "../../src/api/index.js";
import { useServer } from "../helpers/server.js";
import { createRoom, enc, send } from "../helpers/rooms.js";
import type { UserClient } from "../helpers/client.js";

const BODIES = [
  "", "null", "[]", "{", "\"x\"", "1e400",
  JSON.stringify({ a: { b: [1, { c: null }] }, n: 1.5, big: 2 ** 60 }),
  JSON.stringify({ type: 1, user_id: ["x"], room_id: {}, content: "x", body: 5, auth: "x", devices: 1, timeout: -1, limit: "all" }),
  JSON.stringify({ "\u0000": "\ud800", deep: JSON.parse("[".repeat(200) + "]".repeat(200)) }),
];
const QUERY = "?limit=-1&from=zz&to=%00&dir=q&timeout=abc&since=s-1&filter=%7B&ts=x&user_id=notauser&include=bad";

interface Route { method: string; path: string; auth: string }
const routes: Route[] = routeTables.flatMap((t) => Object.values(t) as Route[]);
/** Reads that only a member of the room (or the account's owner) may make. */
const private_ = (path: string) => (/:roomId|:eventId/.test(path) && !path.includes("/directory/list/room/")) || /\/user\/:userId\//.test(path);

// Last: they end the session the others use.
const SESSION_ENDERS = /\/logout|\/account\/deactivate/;

describe("fuzz and authorization sweep over every route", () => {
  const t = useServer();

  it("malformed input anywhere: 4xx with an errcode, never a 500; another user's private data: never served", async function () {
    this.timeout(300_000);
    const u = await t.s.client().register();
    const v = await t.s.client().register();
    const mine = await createRoom(u);
    const myEvent = await send(u, mine, "hello");
    const theirs = await createRoom(v, { preset: "private_chat" });
    const theirEvent = await send(v, theirs, "private words");
    await v.put(`/_matrix/client/v3/user/${enc(v.userId)}/account_data/m.secret`, { secret: "private words" });
    await v.put(`/_matrix/client/v3/user/${enc(v.userId)}/rooms/${enc(theirs)}/account_data/m.secret`, { secret: "private words" });

    const values = {
      own: { roomId: mine, roomIdOrAlias: mine, userId: u.userId, eventId: myEvent, deviceId: u.deviceId, type: "m.secret", eventType: "m.room.create", stateKey: "" },
      other: { roomId: theirs, roomIdOrAlias: theirs, userId: v.userId, eventId: theirEvent, deviceId: v.deviceId, type: "m.secret", eventType: "m.room.create", stateKey: "" },
      odd: { roomId: "!%00:x", roomIdOrAlias: "#" + "x".repeat(300), userId: "@%00:x", eventId: "$%00x", deviceId: "%00%F0%9F", type: "m.%00", eventType: "m.%00", stateKey: "%00" },
    } as const;
    const fill = (path: string, set: keyof typeof values) => path.replace(/:([A-Za-z]+)/g, (_m, name: string) => {
      const known = (values[set] as Record<string, string>)[name];
      if (known !== undefined) return set === "odd" ? known : enc(known);
      return set === "odd" ? "%00%FF" : `fz${name}`;
    });
    const ordered = [...routes.filter((r) => !SESSION_ENDERS.test(r.path)), ...routes.filter((r) => SESSION_ENDERS.test(r.path))];
    let requests = 0;
    const served: string[] = [];
    const check = (what: string, res: { status: number; text: string; body: any }) => {
      requests++;
      expect(res.status, `${what}: ${res.text.slice(0, 300)}`).to.be.lessThan(500);
      if (res.status >= 400 && !(res.status === 401 && Array.isArray(res.body?.flows))) {
        expect(res.body?.errcode, `${what}: ${res.text.slice(0, 300)}`).to.be.a("string");
        expect(res.body?.error, `${what}: ${res.text.slice(0, 300)}`).to.be.a("string");
      }
    };
    for (const r of ordered) {
      const c: UserClient = u;
      for (const set of ["own", "odd", "other"] as const) {
        const path = fill(r.path, set);
        if (r.method === "GET") {
          for (const q of ["", QUERY]) {
            const res = await c.get(path + q);
            check(`GET ${path}${q}`, res);
            // Nothing of v's private room or v's account data comes back to u.
            if (set === "other" && res.status === 200 && (res.text.includes("private words") || private_(r.path))) served.push(`GET ${r.path}`);
          }
        } else {
          for (const raw of BODIES) {
            const res = await c.req(r.method, path, { raw, headers: { "Content-Type": "application/json" } });
            check(`${r.method} ${path} ${raw.slice(0, 40)}`, res);
          }
        }
      }
    }
    expect(served, "another user's private data was served").to.deep.equal([]);
    expect(requests).to.be.greaterThan(1500);
    // The server is still up.
    expect((await t.s.client().get("/health")).status).to.equal(200);
    // And v's private room is as it was.
    const back = await v.get(`/_matrix/client/v3/rooms/${enc(theirs)}/event/${enc(theirEvent)}`);
    expect(back.status).to.equal(200);
  });
});
