// Push rule evaluation against the spec's examples and the default rules.
import { expect } from "chai";
import { evaluatePushRules, globMatch, splitPath, type PushContext, type RuleSet } from "../../src/matrix/push-rules.js";
import { defaultPushRules } from "../../src/matrix/push-rules-default.js";

const ctx = (over: Partial<PushContext> = {}): PushContext => ({ userId: "@me:hs", displayName: "Me", memberCount: 5, senderPower: 0, notificationLevels: {}, ...over });
const msg = (content: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ type: "m.room.message", sender: "@you:hs", room_id: "!r:hs", content, ...extra });

describe("push rules: evaluation", () => {
  const rules = defaultPushRules("@me:hs") as unknown as RuleSet;

  it("the deprecated mention rules: display name, user name and @room highlight only without m.mentions", () => {
    const ids = [...(rules.override ?? []), ...(rules.content ?? [])].map((r) => r.rule_id);
    for (const id of [".m.rule.contains_display_name", ".m.rule.roomnotif", ".m.rule.contains_user_name"]) expect(ids).to.include(id);
    expect(evaluatePushRules(rules, msg({ msgtype: "m.text", body: "hello Me, lunch?" }), ctx())).to.include({ notify: true, highlight: true });
    expect(evaluatePushRules(rules, msg({ msgtype: "m.text", body: "is me around" }), ctx({ displayName: "Someone" }))).to.include({ notify: true, highlight: true });
    expect(evaluatePushRules(rules, msg({ msgtype: "m.text", body: "@room meeting" }), ctx({ senderPower: 50 }))).to.include({ notify: true, highlight: true });
    expect(evaluatePushRules(rules, msg({ msgtype: "m.text", body: "@room meeting" }), ctx({ senderPower: 0 }))).to.include({ highlight: false });
    // An event that says whom it mentions is not matched on its text.
    expect(evaluatePushRules(rules, msg({ msgtype: "m.text", body: "hello Me", "m.mentions": {} }), ctx())).to.include({ notify: true, highlight: false });
  });

  it("glob matching as the spec's examples say", () => {
    expect(globMatch("lunc?*", "Lunch plans", false)).to.equal(true);
    expect(globMatch("lunc?*", "LUNCH", false)).to.equal(true);
    expect(globMatch("lunc?*", " lunch", false)).to.equal(false);
    expect(globMatch("lunc?*", "lunc", false)).to.equal(false);
    expect(globMatch("ex*ple", "An example event.", true)).to.equal(true);
    expect(globMatch("ex*ple", "exple", true)).to.equal(true);
    expect(globMatch("ex*ple", "An exciting triple-whammy", true)).to.equal(true);
    expect(globMatch("ample", "An example event.", true)).to.equal(false);
    expect(splitPath("content.m\\.federate")).to.deep.equal(["content", "m.federate"]);
  });

  it("one event evaluated for many members in turn: each gets their own answer (shared conditions, per-member ones)", () => {
    const ev = msg({ msgtype: "m.text", body: "ask Alice or bob" });
    const alice = defaultPushRules("@alice:hs") as unknown as RuleSet;
    const bob = defaultPushRules("@bob:hs") as unknown as RuleSet;
    const carol = defaultPushRules("@carol:hs") as unknown as RuleSet;
    // Carol silenced this sender with a rule of her own.
    const carolMuted = { ...carol, override: [{ rule_id: "mute", enabled: true, conditions: [{ kind: "event_match", key: "sender", pattern: "@you:hs" }], actions: [] }, ...(carol.override ?? [])] };
    for (let round = 0; round < 2; round++) {
      expect(evaluatePushRules(alice, ev, ctx({ userId: "@alice:hs", displayName: "Alice" }))).to.include({ notify: true, highlight: true });
      expect(evaluatePushRules(bob, ev, ctx({ userId: "@bob:hs", displayName: "Robert" }))).to.include({ notify: true, highlight: true }, "the user name rule");
      expect(evaluatePushRules(carol, ev, ctx({ userId: "@carol:hs", displayName: "Carol" }))).to.include({ notify: true, highlight: false });
      expect(evaluatePushRules(carolMuted, ev, ctx({ userId: "@carol:hs", displayName: "Carol" }))).to.include({ notify: false });
      // The room's facts change the answer of the conditions that read them (one-to-one rooms).
      const two = evaluatePushRules(carol, ev, ctx({ userId: "@carol:hs", displayName: "Carol", memberCount: 2 }));
      expect(two.actions).to.deep.include({ set_tweak: "sound", value: "default" });
      const five = evaluatePushRules(carol, ev, ctx({ userId: "@carol:hs", displayName: "Carol", memberCount: 5 }));
      expect(five.actions).to.not.deep.include({ set_tweak: "sound", value: "default" });
    }
    // The shared objects cannot be changed by accident.
    expect(Object.isFrozen((alice.override![1]!.conditions as object[])[0])).to.equal(true);
    expect(alice.override![1]!.conditions![0]).to.equal(bob.override![1]!.conditions![0]);
  });

  it("literal patterns (no glob): whole values and words, case-insensitive, ASCII or not", () => {
    // Matched without a regular expression when pattern and value are ASCII; the same answers.
    expect(globMatch("Alice", "hi alice!", true)).to.equal(true);
    expect(globMatch("alice", "hi ALICE", true)).to.equal(true);
    expect(globMatch("alice", "malice", true)).to.equal(false);
    expect(globMatch("alice", "alice_b alice", true)).to.equal(true);
    expect(globMatch("alice", "alice_b", true)).to.equal(false);
    expect(globMatch("@room", "hey @room.", true)).to.equal(true);
    expect(globMatch("a.b", "axb", true)).to.equal(false);
    expect(globMatch("m.notice", "M.NOTICE", false)).to.equal(true);
    expect(globMatch("m.notice", "m.notices", false)).to.equal(false);
    expect(globMatch("", "", false)).to.equal(true);
    expect(globMatch("", "abc", true)).to.equal(false);
    expect(globMatch("", "abc ", true)).to.equal(true);
    // Beyond ASCII the regular expression's Unicode case folding answers.
    expect(globMatch("élodie", "salut ÉLODIE", true)).to.equal(true);
    expect(globMatch("kelvin", "\u212Aelvin", false)).to.equal(true);
    expect(globMatch("Zoë", "zoË?", true)).to.equal(true);
  });

  it("a plain message notifies without highlight; in a two-person room too", () => {
    expect(evaluatePushRules(rules, msg({ msgtype: "m.text", body: "hi" }), ctx())).to.include({ notify: true, highlight: false });
    expect(evaluatePushRules(rules, msg({ msgtype: "m.text", body: "hi" }), ctx({ memberCount: 2 }))).to.include({ notify: true, highlight: false });
  });

  it("a mention (m.mentions) highlights; notices, edits and reactions do not notify", () => {
    expect(evaluatePushRules(rules, msg({ msgtype: "m.text", body: "hey", "m.mentions": { user_ids: ["@me:hs"] } }), ctx())).to.include({ notify: true, highlight: true });
    expect(evaluatePushRules(rules, msg({ msgtype: "m.notice", body: "bot" }), ctx()).notify).to.equal(false);
    expect(evaluatePushRules(rules, msg({ msgtype: "m.text", body: "* fixed", "m.relates_to": { rel_type: "m.replace", event_id: "$x" } }), ctx()).notify).to.equal(false);
    expect(evaluatePushRules(rules, { type: "m.reaction", sender: "@you:hs", content: {} }, ctx()).notify).to.equal(false);
  });

  it("@room highlights only when the sender may notify the room", () => {
    const ev = msg({ msgtype: "m.text", body: "all", "m.mentions": { room: true } });
    expect(evaluatePushRules(rules, ev, ctx({ senderPower: 50 }))).to.include({ notify: true, highlight: true });
    expect(evaluatePushRules(rules, ev, ctx({ senderPower: 0 })).highlight).to.equal(false);
  });

  it("an invite for me notifies; other membership changes do not", () => {
    expect(evaluatePushRules(rules, { type: "m.room.member", state_key: "@me:hs", sender: "@you:hs", content: { membership: "invite" } }, ctx()).notify).to.equal(true);
    expect(evaluatePushRules(rules, { type: "m.room.member", state_key: "@x:hs", sender: "@x:hs", content: { membership: "join" } }, ctx()).notify).to.equal(false);
  });

  it("the master rule, when enabled, silences everything; unknown conditions never match", () => {
    const muted = structuredClone(defaultPushRules("@me:hs")) as unknown as RuleSet; // the defaults are shared and frozen
    muted.override![0]!.enabled = true;
    expect(evaluatePushRules(muted, msg({ msgtype: "m.text", body: "hi" }), ctx()).notify).to.equal(false);
    const odd: RuleSet = { override: [{ rule_id: "x", conditions: [{ kind: "nonsense" }], actions: ["notify"] }] };
    expect(evaluatePushRules(odd, msg({ body: "hi" }), ctx()).notify).to.equal(false);
  });

  it("content, room and sender rules; contains_display_name; room_member_count forms", () => {
    const r: RuleSet = {
      content: [{ rule_id: "kw", pattern: "cake", actions: ["notify", { set_tweak: "highlight" }] }],
      sender: [{ rule_id: "@boss:hs", actions: ["notify", { set_tweak: "highlight", value: true }] }],
      underride: [
        { rule_id: "dn", conditions: [{ kind: "contains_display_name" }], actions: ["notify", { set_tweak: "highlight" }] },
        { rule_id: "small", conditions: [{ kind: "room_member_count", is: "<=3" }], actions: ["notify"] },
      ],
    };
    expect(evaluatePushRules(r, msg({ body: "Cake time!" }), ctx()).highlight).to.equal(true);
    expect(evaluatePushRules(r, msg({ body: "pancakes" }), ctx()).notify).to.equal(false);
    expect(evaluatePushRules(r, msg({ body: "x" }, { sender: "@boss:hs" }), ctx()).highlight).to.equal(true);
    expect(evaluatePushRules(r, msg({ body: "hello me there" }), ctx()).highlight).to.equal(true);
    expect(evaluatePushRules(r, msg({ body: "x" }), ctx({ memberCount: 3 })).notify).to.equal(true);
    expect(evaluatePushRules(r, msg({ body: "x" }), ctx({ memberCount: 4 })).notify).to.equal(false);
  });
});
