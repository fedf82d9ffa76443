// A real bridge library against the server: matrix-bot-sdk's Appservice (the Element fork,
// which runs on Node 20), driven as a bridge drives it: ghosts registered through their
// intents, rooms joined, messages both ways, identity assertion with a device (MSC3202's
// device_id, which the library sends on every ghost request).
//
// The library loads its native end-to-end encryption module when it is imported; that module
// is fetched at install time from outside the package registry (which this project's installs
// never reach), and nothing here encrypts. So the import is given a stub for that module only;
// everything the test exercises is the library's own code.
import Module from "node:module";
import { expect } from "chai";
import type { Homeserver } from "../../src/server.js";
import { Client, type UserClient } from "../helpers/client.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { writeRegistration } from "../helpers/appservice.js";
import { freePort } from "../helpers/bridge.js";
import { waitFor } from "../helpers/wait.js";

const CRYPTO = "@matrix-org/matrix-sdk-crypto-nodejs";

/** Imports matrix-bot-sdk with its native crypto module stubbed (see the header). */
async function importBotSdk(): Promise<typeof import("@vector-im/matrix-bot-sdk")> {
  const m = Module as unknown as { _load: (request: string, parent: unknown, isMain: boolean) => unknown };
  const load = m._load;
  m._load = function (request: string, parent: unknown, isMain: boolean) {
    if (request === CRYPTO) return new Proxy({}, { get: (_t, k) => (k === "__esModule" ? false : class {}) });
    return load.call(this, request, parent, isMain);
  };
  try {
    return await import("@vector-im/matrix-bot-sdk");
  } finally {
    m._load = load;
  }
}

describe("matrix-bot-sdk's Appservice against the server", function () {
  this.timeout(60_000);
  let s: TestServer;
  let hs: Homeserver;
  let sdk: Awaited<ReturnType<typeof importBotSdk>>;
  let appservice: InstanceType<typeof sdk.Appservice>;
  let alice: UserClient;
  const received: { roomId: string; body: string; sender: string }[] = [];

  before(async () => {
    sdk = await importBotSdk();
    sdk.LogService.setLevel(sdk.LogLevel.ERROR);
    sdk.LogService.muteModule("MatrixHttpClient"); // it reports the bot user's expected M_USER_IN_USE
    const port = await freePort();
    // The registration as such a bridge writes it (regexes escaped the Python way).
    const registration = {
      id: "botsdk", url: `http://127.0.0.1:${port}`, as_token: "botsdk-as", hs_token: "botsdk-hs",
      sender_localpart: "sdkbot", rate_limited: false, "de.sorunome.msc2409.push_ephemeral": true,
      namespaces: { users: [{ exclusive: true, regex: "@_sdk_.*:localhost" }], aliases: [{ exclusive: true, regex: "\\#_sdk_.*:localhost" }], rooms: [] },
    };
    s = await startTestServer({ appservices: { registration_files: [writeRegistration(registration)], query_timeout_ms: 2000 } });
    hs = s.hs;
    appservice = new sdk.Appservice({
      port, bindAddress: "127.0.0.1", homeserverName: "localhost", homeserverUrl: hs.url,
      registration: registration as never, storage: new sdk.MemoryStorageProvider(),
    });
    appservice.on("room.message", (roomId: string, ev: { sender: string; content?: { body?: string } }) => {
      received.push({ roomId, sender: ev.sender, body: String(ev.content?.body ?? "") });
    });
    await appservice.begin();
    alice = await new Client(hs.url).register("sdk_alice");
  });

  after(async () => {
    appservice?.stop();
    await hs?.close();
  });

  it("a ghost registers, joins on invite, receives what people say and speaks", async () => {
    const ghost = appservice.getIntentForSuffix("bob");
    expect(ghost.userId).to.equal("@_sdk_bob:localhost");
    await ghost.ensureRegistered();
    const roomId = (await alice.post("/_matrix/client/v3/createRoom", { invite: [ghost.userId] })).body.room_id as string;
    await ghost.joinRoom(roomId);
    const msg = await alice.put(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/sdk1`, { msgtype: "m.text", body: "hello bridge" });
    expect(msg.status).to.equal(200);
    await waitFor(() => received.some((r) => r.roomId === roomId && r.body === "hello bridge" && r.sender === alice.userId), 10_000);
    const eventId = await ghost.sendText(roomId, "hello from the other side");
    const seen = await alice.get(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(eventId)}`);
    expect(seen.body).to.deep.include({ sender: ghost.userId, type: "m.room.message" });
    expect(seen.body.content.body).to.equal("hello from the other side");
    // The bridge's own bot user, and the ghost's profile through its intent.
    expect(await appservice.botClient.getUserId()).to.equal("@sdkbot:localhost");
    await ghost.underlyingClient.setDisplayName("Bob (bridged)");
    expect((await alice.get(`/_matrix/client/v3/profile/${encodeURIComponent(ghost.userId)}/displayname`)).body.displayname).to.equal("Bob (bridged)");
  });

  it("identity assertion with a device, as the library sends it (org.matrix.msc3202.device_id)", async () => {
    const ghost = appservice.getIntentForSuffix("carol");
    await ghost.ensureRegistered();
    // The bridge makes the device (MSC4190), then speaks as it.
    const made = await new Client(hs.url, "botsdk-as").put(`/_matrix/client/v3/devices/SDKDEV?user_id=${encodeURIComponent(ghost.userId)}`, {});
    expect(made.status, made.text).to.equal(201);
    const client = new sdk.MatrixClient(hs.url, "botsdk-as");
    client.impersonateUserId(ghost.userId, "SDKDEV");
    const who = await client.getWhoAmI();
    expect(who).to.deep.include({ user_id: ghost.userId, device_id: "SDKDEV" });
  });
});
