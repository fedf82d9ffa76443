// matrix-js-sdk's SlidingSync (simplified sliding sync, MSC4186) driving a client: the room
// list, a room subscription, the E2EE extensions with Rust crypto (a message encrypted by a
// /sync client decrypted by a sliding-sync one), and a reconnect after M_UNKNOWN_POS.
import { expect } from "chai";
import { SlidingSync, SlidingSyncEvent, SlidingSyncState } from "matrix-js-sdk/lib/sliding-sync.js";
import { loggedIn, quietClients } from "./helpers/sdk.js";
import { useServer } from "./helpers/server.js";
import { waitFor } from "./helpers/wait.js";

describe("matrix-js-sdk SlidingSync", () => {
  const t = useServer();
  const clients = quietClients();

  it("room list, subscription, encrypted messages through the e2ee and to_device extensions, reconnect after M_UNKNOWN_POS", async function () {
    this.timeout(120_000);
    const alice = await loggedIn(t.s.hs.url, "slidealice");
    const bob = await loggedIn(t.s.hs.url, "slidebob");
    clients.push(alice, bob);
    await alice.initRustCrypto({ useIndexedDB: false });
    await bob.initRustCrypto({ useIndexedDB: false });
    await alice.startClient({ initialSyncLimit: 10 });
    await waitFor(() => alice.isInitialSyncComplete());

    // Bob's client syncs with sliding sync only: one list of every room, by activity.
    const lists = new Map([["all", { ranges: [[0, 20]], timeline_limit: 10, required_state: [["*", "*"]] }]]);
    const slidingSync = new SlidingSync(t.s.hs.url, lists, { timeline_limit: 20, required_state: [["*", "*"]] }, bob, 2000);
    const errors: unknown[] = [];
    slidingSync.on(SlidingSyncEvent.Lifecycle, (state: SlidingSyncState, _resp: unknown, err?: unknown) => { if (state === SlidingSyncState.RequestFinished && err) errors.push(err); });
    await bob.startClient({ slidingSync });

    const { room_id: roomId } = await alice.createRoom({
      name: "Secret plans",
      invite: [bob.getUserId()!],
      initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
    });
    // The invite reaches Bob through the list.
    await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === "invite", 30_000, "the invite through sliding sync");
    await bob.joinRoom(roomId);
    await waitFor(() => alice.getRoom(roomId)?.getMember(bob.getUserId()!)?.membership === "join");
    await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === "join", 30_000, "the join through sliding sync");
    expect(slidingSync.getListData("all")?.joinedCount).to.equal(1);

    // A subscription to the room (as a client does when it opens it).
    slidingSync.modifyRoomSubscriptions(new Set([roomId]));

    const secret = "meet at the old mill";
    await alice.sendTextMessage(roomId, secret);
    const ev = await waitFor(() => bob.getRoom(roomId)?.getLiveTimeline().getEvents().find((e) => e.getWireType() === "m.room.encrypted"), 30_000, "the encrypted event");
    await waitFor(async () => {
      await bob.decryptEventIfNeeded(ev);
      return ev.getClearContent()?.body === secret;
    }, 30_000, "decryption with keys from the to_device extension");
    expect(ev.getContent().body).to.equal(secret);
    expect(bob.getRoom(roomId)!.name).to.equal("Secret plans");

    // The server forgets the connection (as a restart does): the client starts a new one.
    t.s.hs.services.slidingSync.forgetAll();
    await alice.sendTextMessage(roomId, "after the restart");
    await waitFor(() => errors.some((e) => (e as { errcode?: string }).errcode === "M_UNKNOWN_POS"), 30_000, "M_UNKNOWN_POS");
    const again = await waitFor(() => bob.getRoom(roomId)?.getLiveTimeline().getEvents().filter((e) => e.getWireType() === "m.room.encrypted").find((e) => e.getId() !== ev.getId()), 30_000, "the next message on the new connection");
    await waitFor(async () => {
      await bob.decryptEventIfNeeded(again);
      return again.getClearContent()?.body === "after the restart";
    }, 30_000, "decrypting the next message");
  });
});
