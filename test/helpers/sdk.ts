// matrix-js-sdk clients for tests: registered and logged in, stopped after the suite, with
// the SDK's and the Rust crypto's console output silenced while it runs.
import * as sdk from "matrix-js-sdk";
import { logger as sdkLogger } from "matrix-js-sdk/lib/logger.js";

(sdkLogger as unknown as { setLevel(level: string): void }).setLevel("silent");

export async function loggedIn(baseUrl: string, username: string): Promise<sdk.MatrixClient> {
  const anon = sdk.createClient({ baseUrl });
  const reg = await anon.registerRequest({ username, password: "pw", auth: { type: "m.login.dummy" } });
  return sdk.createClient({ baseUrl, accessToken: reg.access_token, userId: reg.user_id, deviceId: reg.device_id });
}

/** Call in a describe: returns the list to put the suite's clients in (stopped after it). */
export function quietClients(): sdk.MatrixClient[] {
  const clients: sdk.MatrixClient[] = [];
  // The Rust crypto's tracing writes to the console at debug level: keep the test output readable.
  const saved = { debug: console.debug, info: console.info, log: console.log, warn: console.warn, trace: console.trace, error: console.error };
  before(() => { for (const k of Object.keys(saved) as (keyof typeof saved)[]) console[k] = () => undefined; });
  after(() => {
    for (const c of clients) c.stopClient();
    Object.assign(console, saved);
  });
  return clients;
}
