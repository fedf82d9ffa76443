// The admin API's refusals of bad input, each with its errcode: parameters out of their range or
// set, remote users and servers, unknown targets, conflicting fields; and numbers too big to
// store answered 400, not 500.
import { expect } from "chai";
import { useServer } from "../helpers/server.js";
import { registerAdmin } from "../helpers/admin.js";
import { createRoom, enc } from "../helpers/rooms.js";

const A = "/_synapse/admin";

describe("admin API: bad input", () => {
  const t = useServer();

  it("answers each with a 4xx and the spec's errcode", async () => {
    const admin = await registerAdmin(t.s);
    const alice = await t.s.client().register();
    const u = enc(alice.userId);
    const roomId = enc(await createRoom(alice));
    const cases: [string, string, unknown, number, string][] = [
      // registration tokens
      ["POST", `${A}/v1/registration_tokens/new`, { token: "abc", length: 5 }, 400, "M_INVALID_PARAM"],
      ["POST", `${A}/v1/registration_tokens/new`, { uses_allowed: 3_000_000_000 }, 400, "M_BAD_JSON"],
      ["POST", `${A}/v1/registration_tokens/new`, { expiry_time: 1e300 }, 400, "M_BAD_JSON"],
      ["POST", `${A}/v1/registration_tokens/new`, { uses_allowed: "3" }, 400, "M_BAD_JSON"],
      ["GET", `${A}/v1/registration_tokens?valid=maybe`, undefined, 400, "M_INVALID_PARAM"],
      // users
      ["GET", `${A}/v2/users?dir=sideways`, undefined, 400, "M_INVALID_PARAM"],
      ["GET", `${A}/v2/users?guests=maybe`, undefined, 400, "M_INVALID_PARAM"],
      ["GET", `${A}/v2/users?from=1.5`, undefined, 400, "M_INVALID_PARAM"],
      ["PUT", `${A}/v2/users/${u}`, { external_ids: [{ auth_provider: "x", external_id: "y" }] }, 400, "M_BAD_JSON"],
      ["PUT", `${A}/v2/users/${u}`, { user_type: "wizard" }, 400, "M_BAD_JSON"],
      ["PUT", `${A}/v2/users/${u}`, { threepids: [{ medium: "fax", address: "1" }] }, 400, "M_BAD_JSON"],
      ["PUT", `${A}/v2/users/${enc("@x:elsewhere")}`, {}, 400, "M_INVALID_PARAM"],
      ["POST", `${A}/v1/deactivate/${enc("@nobody:localhost")}`, {}, 404, "M_NOT_FOUND"],
      ["POST", `${A}/v1/reset_password/${enc("@x:elsewhere")}`, { new_password: "p" }, 400, "M_INVALID_PARAM"],
      ["POST", `${A}/v1/users/${u}/login`, { valid_until_ms: 1000 }, 400, "M_INVALID_PARAM"],
      ["POST", `${A}/v2/users/${u}/delete_devices`, { devices: "all" }, 400, "M_BAD_JSON"],
      ["GET", `${A}/v2/users/${u}/devices/NOSUCH`, undefined, 404, "M_NOT_FOUND"],
      ["GET", `${A}/v1/username_available`, undefined, 400, "M_MISSING_PARAM"],
      ["GET", `${A}/v1/threepid/email/users/${enc("nobody@example.org")}`, undefined, 404, "M_NOT_FOUND"],
      // rooms
      ["GET", `${A}/v1/rooms?dir=q`, undefined, 400, "M_INVALID_PARAM"],
      ["GET", `${A}/v1/rooms?public_rooms=perhaps`, undefined, 400, "M_INVALID_PARAM"],
      ["GET", `${A}/v1/rooms/not-a-room-id`, undefined, 400, "M_INVALID_PARAM"],
      ["GET", `${A}/v1/rooms/${enc("!nope:localhost")}/members`, undefined, 404, "M_NOT_FOUND"],
      ["DELETE", `${A}/v2/rooms/${roomId}`, { new_room_user_id: "@mod:elsewhere" }, 400, "M_INVALID_PARAM"],
      ["GET", `${A}/v2/rooms/${enc("!nope:localhost")}/delete_status`, undefined, 404, "M_NOT_FOUND"],
      ["GET", `${A}/v2/rooms/delete_status/nope`, undefined, 404, "M_NOT_FOUND"],
      ["POST", `${A}/v1/rooms/${enc("!nope:localhost")}/make_room_admin`, {}, 404, "M_NOT_FOUND"],
      ["PUT", `${A}/v1/rooms/${roomId}/block`, { block: "yes" }, 400, "M_BAD_JSON"],
      ["POST", `${A}/v1/purge_history/${roomId}/${enc("$nope")}`, {}, 404, "M_NOT_FOUND"],
      ["POST", `${A}/v1/purge_history/${roomId}`, { purge_up_to_ts: -5 }, 400, "M_BAD_JSON"],
      ["GET", `${A}/v1/event_reports?dir=x`, undefined, 400, "M_INVALID_PARAM"],
      ["DELETE", `${A}/v1/event_reports/12345678`, undefined, 404, "M_NOT_FOUND"],
      // media
      ["GET", `${A}/v1/users/${u}/media?order_by=colour`, undefined, 400, "M_INVALID_PARAM"],
      ["GET", `${A}/v1/users/${u}/media?dir=up`, undefined, 400, "M_INVALID_PARAM"],
      ["GET", `${A}/v1/users/${enc("@nobody:localhost")}/media`, undefined, 404, "M_NOT_FOUND"],
      ["GET", `${A}/v1/media/elsewhere/abc`, undefined, 400, "M_INVALID_PARAM"],
      ["DELETE", `${A}/v1/media/localhost/nosuchmedia`, undefined, 404, "M_NOT_FOUND"],
      ["POST", `${A}/v1/media/delete?before_ts=abc`, {}, 400, "M_INVALID_PARAM"],
      ["POST", `${A}/v1/media/delete?before_ts=1&size_gt=-1`, {}, 400, "M_INVALID_PARAM"],
      ["GET", `${A}/v1/statistics/users/media?order_by=colour`, undefined, 400, "M_INVALID_PARAM"],
      ["POST", `${A}/v1/send_server_notice`, { user_id: "@x:elsewhere", content: {} }, 400, "M_UNKNOWN"],
      ["POST", `${A}/v1/send_server_notice`, { user_id: alice.userId }, 400, "M_MISSING_PARAM"],
    ];
    for (const [m, p, body, status, errcode] of cases) {
      const r = await admin.req(m, p, body === undefined ? {} : { body });
      expect(r.status, `${m} ${p} ${JSON.stringify(body)}: ${r.text}`).to.equal(status);
      expect(r.body.errcode, `${m} ${p} ${JSON.stringify(body)}`).to.equal(errcode);
    }
    // The validity check of an over-long token is a plain "no".
    expect((await t.s.client().get(`/_matrix/client/v1/register/m.login.registration_token/validity?token=${"x".repeat(100)}`)).body).to.deep.equal({ valid: false });
  });
});
