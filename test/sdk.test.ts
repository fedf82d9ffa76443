// matrix-js-sdk (the library Element is built on) against the server: register, log in,
// whoami, log out.
import { expect } from "chai";
import * as sdk from "matrix-js-sdk";
import { logger as sdkLogger } from "matrix-js-sdk/lib/logger.js";
import { useServer } from "./helpers/server.js";

// The SDK logs through loglevel; keep test output to the results.
(sdkLogger as unknown as { setLevel(level: string): void }).setLevel("silent");

describe("matrix-js-sdk", () => {
  const t = useServer();

  it("registers (UIA dummy flow), logs in, asks whoami and logs out", async () => {
    const anon = sdk.createClient({ baseUrl: t.s.hs.url });
    // The SDK's own UIA helper: first request gets the 401 with a session, the second completes it.
    let session: string | undefined;
    try {
      await anon.registerRequest({ username: "sdkuser", password: "sdk-password" });
      expect.fail("registration without auth must answer 401");
    } catch (e) {
      const err = e as sdk.MatrixError;
      expect(err.httpStatus).to.equal(401);
      session = (err.data as { session?: string }).session;
      expect(session).to.be.a("string");
    }
    const reg = await anon.registerRequest({ username: "sdkuser", password: "sdk-password", auth: { type: "m.login.dummy", session } });
    expect(reg.user_id).to.equal("@sdkuser:localhost");

    const login = await anon.loginRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: "sdkuser" }, password: "sdk-password" });
    expect(login.user_id).to.equal("@sdkuser:localhost");
    const client = sdk.createClient({ baseUrl: t.s.hs.url, accessToken: login.access_token, userId: login.user_id, deviceId: login.device_id });
    const who = await client.whoami();
    expect(who.user_id).to.equal("@sdkuser:localhost");
    expect(who.device_id).to.equal(login.device_id);

    const versions = await client.getVersions();
    expect(versions.versions).to.include("v1.1");
    expect(await client.isVersionSupported("v1.1")).to.equal(true);

    await client.logout(true);
    try {
      await client.whoami();
      expect.fail("token must be revoked");
    } catch (e) {
      expect((e as sdk.MatrixError).errcode).to.equal("M_UNKNOWN_TOKEN");
    }
  });

  it("sets and reads a display name through the SDK", async () => {
    const anon = sdk.createClient({ baseUrl: t.s.hs.url });
    const reg = await anon.registerRequest({ username: "sdkprofile", password: "pw", auth: { type: "m.login.dummy" } });
    const client = sdk.createClient({ baseUrl: t.s.hs.url, accessToken: reg.access_token, userId: reg.user_id });
    await client.setDisplayName("SDK Person");
    const p = await client.getProfileInfo(reg.user_id);
    expect(p.displayname).to.equal("SDK Person");
  });
});
