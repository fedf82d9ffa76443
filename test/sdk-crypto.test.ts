// matrix-js-sdk with its Rust crypto: two clients in an encrypted room; one sends, the other
// decrypts the same plaintext. The server only ever stores and relays ciphertext and keys.
import { expect } from "chai";
import { loggedIn, quietClients } from "./helpers/sdk.js";
import { useServer } from "./helpers/server.js";
import { waitFor } from "./helpers/wait.js";

describe("matrix-js-sdk with Rust crypto: an encrypted conversation", () => {
  const t = useServer();
  const clients = quietClients();

  it("one sends in an encrypted room, the other decrypts the same plaintext; the server never sees it", async function () {
    this.timeout(120_000);
    const alice = await loggedIn(t.s.hs.url, "cryptoalice");
    const bob = await loggedIn(t.s.hs.url, "cryptobob");
    clients.push(alice, bob);
    await alice.initRustCrypto({ useIndexedDB: false });
    await bob.initRustCrypto({ useIndexedDB: false });
    await alice.startClient({ initialSyncLimit: 10 });
    await bob.startClient({ initialSyncLimit: 10 });
    await waitFor(() => alice.isInitialSyncComplete() && bob.isInitialSyncComplete());

    const { room_id: roomId } = await alice.createRoom({
      invite: [bob.getUserId()!],
      initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
    });
    await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === "invite");
    await bob.joinRoom(roomId);
    await waitFor(() => alice.getRoom(roomId)?.getMember(bob.getUserId()!)?.membership === "join");

    const secret = "the eagle lands at noon";
    await alice.sendTextMessage(roomId, secret);
    const ev = await waitFor(() => bob.getRoom(roomId)?.getLiveTimeline().getEvents().find((e) => e.getWireType() === "m.room.encrypted"));
    await waitFor(async () => {
      await bob.decryptEventIfNeeded(ev);
      return ev.getClearContent()?.body === secret;
    });
    expect(ev.getContent().body).to.equal(secret);
    // What the server stored is ciphertext.
    const raw = await t.s.client(bob.getAccessToken()!).get(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(ev.getId()!)}`);
    expect(raw.body.type).to.equal("m.room.encrypted");
    expect(JSON.stringify(raw.body)).not.to.contain("eagle");
  });
});
