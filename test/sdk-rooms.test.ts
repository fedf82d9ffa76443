// matrix-js-sdk end to end: two clients, create a room, invite, join, send, receive through
// /sync, and page back with scrollback.
import { expect } from "chai";
import * as sdk from "matrix-js-sdk";
import { logger as sdkLogger } from "matrix-js-sdk/lib/logger.js";
import { useServer } from "./helpers/server.js";

(sdkLogger as unknown as { setLevel(level: string): void }).setLevel("silent");

async function loggedIn(baseUrl: string, username: string): Promise<sdk.MatrixClient> {
  const anon = sdk.createClient({ baseUrl });
  const reg = await anon.registerRequest({ username, password: "pw", auth: { type: "m.login.dummy" } });
  return sdk.createClient({ baseUrl, accessToken: reg.access_token, userId: reg.user_id, deviceId: reg.device_id });
}

function waitFor<T>(fn: () => T | undefined, ms = 15000): Promise<T> {
  return new Promise((resolve, reject) => {
    const end = Date.now() + ms;
    const tick = () => {
      const v = fn();
      if (v !== undefined && v !== null && v !== false) return resolve(v as T);
      if (Date.now() > end) return reject(new Error("timed out"));
      setTimeout(tick, 50);
    };
    tick();
  });
}

describe("matrix-js-sdk: two people chat", () => {
  const t = useServer();
  const clients: sdk.MatrixClient[] = [];
  after(() => { for (const c of clients) c.stopClient(); });

  it("create, invite, join, send, receive via sync, scrollback", async function () {
    this.timeout(60_000);
    const alice = await loggedIn(t.s.hs.url, "sdkalice");
    const bob = await loggedIn(t.s.hs.url, "sdkbob");
    clients.push(alice, bob);
    await alice.startClient({ initialSyncLimit: 10 });
    await bob.startClient({ initialSyncLimit: 10 });
    await waitFor(() => alice.isInitialSyncComplete() && bob.isInitialSyncComplete());

    const { room_id: roomId } = await alice.createRoom({ name: "SDK room", invite: ["@sdkbob:localhost"] });
    for (let i = 0; i < 15; i++) await alice.sendTextMessage(roomId, `early ${i}`);
    await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === "invite");
    await bob.joinRoom(roomId);
    await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === "join");
    expect(bob.getRoom(roomId)!.name).to.equal("SDK room");

    await alice.sendTextMessage(roomId, "hello bob");
    const got = await waitFor(() => bob.getRoom(roomId)?.getLiveTimeline().getEvents().find((e) => e.getContent().body === "hello bob"));
    expect(got.getSender()).to.equal("@sdkalice:localhost");

    await bob.sendTextMessage(roomId, "hi alice");
    await waitFor(() => alice.getRoom(roomId)?.getLiveTimeline().getEvents().find((e) => e.getContent().body === "hi alice"));

    // Typing and read receipts, as the SDK parses them.
    await bob.sendTyping(roomId, true, 20000);
    await waitFor(() => alice.getRoom(roomId)?.getMember("@sdkbob:localhost")?.typing === true);
    await bob.sendTyping(roomId, false, 0);
    await waitFor(() => alice.getRoom(roomId)?.getMember("@sdkbob:localhost")?.typing === false);
    await alice.sendTextMessage(roomId, "read me");
    const readMe = await waitFor(() => bob.getRoom(roomId)?.getLiveTimeline().getEvents().find((e) => e.getContent().body === "read me"));
    await bob.sendReadReceipt(readMe);
    await waitFor(() => alice.getRoom(roomId)?.getUsersReadUpTo(alice.getRoom(roomId)!.findEventById(readMe.getId()!)!).includes("@sdkbob:localhost"));

    // Page back to the start of the room.
    const room = bob.getRoom(roomId)!;
    for (let i = 0; i < 10 && room.getLiveTimeline().getPaginationToken(sdk.EventTimeline.BACKWARDS); i++) {
      await bob.scrollback(room, 10);
    }
    const bodies = room.getLiveTimeline().getEvents().map((e) => e.getContent().body).filter(Boolean);
    // Everything alice sent, in the order she sent it (the server's order).
    expect(bodies.filter((b) => String(b).startsWith("early "))).to.deep.equal(Array.from({ length: 15 }, (_, i) => `early ${i}`));
    expect(room.getLiveTimeline().getEvents()[0]!.getType()).to.equal("m.room.create");
  });
});
