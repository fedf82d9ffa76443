// The server-default push rules, as the spec lists them (client-server API, push notifications:
// predefined rules). "[the user's Matrix ID]" is filled in per user.
// Generated from the spec's own examples; keep in step with it.
export const DEFAULT_PUSH_RULES: Record<string, Record<string, unknown>[]> = {
  "override": [
    {
      "rule_id": ".m.rule.master",
      "default": true,
      "enabled": false,
      "conditions": [],
      "actions": []
    },
    {
      "rule_id": ".m.rule.suppress_notices",
      "default": true,
      "enabled": true,
      "conditions": [
        {
          "kind": "event_match",
          "key": "content.msgtype",
          "pattern": "m.notice"
        }
      ],
      "actions": []
    },
    {
      "rule_id": ".m.rule.invite_for_me",
      "default": true,
      "enabled": true,
      "conditions": [
        {
          "key": "type",
          "kind": "event_match",
          "pattern": "m.room.member"
        },
        {
          "key": "content.membership",
          "kind": "event_match",
          "pattern": "invite"
        },
        {
          "key": "state_key",
          "kind": "event_match",
          "pattern": "[the user's Matrix ID]"
        }
      ],
      "actions": [
        "notify",
        {
          "set_tweak": "sound",
          "value": "default"
        }
      ]
    },
    {
      "rule_id": ".m.rule.member_event",
      "default": true,
      "enabled": true,
      "conditions": [
        {
          "key": "type",
          "kind": "event_match",
          "pattern": "m.room.member"
        }
      ],
      "actions": []
    },
    {
      "rule_id": ".m.rule.is_user_mention",
      "default": true,
      "enabled": true,
      "conditions": [
        {
          "kind": "event_property_contains",
          "key": "content.m\\.mentions.user_ids",
          "value": "[the user's Matrix ID]"
        }
      ],
      "actions": [
        "notify",
        {
          "set_tweak": "sound",
          "value": "default"
        },
        {
          "set_tweak": "highlight"
        }
      ]
    },
    {
      "rule_id": ".m.rule.contains_display_name",
      "default": true,
      "enabled": true,
      "conditions": [
        {
          "kind": "contains_display_name"
        }
      ],
      "actions": [
        "notify",
        {
          "set_tweak": "sound",
          "value": "default"
        },
        {
          "set_tweak": "highlight"
        }
      ]
    },
    {
      "rule_id": ".m.rule.is_room_mention",
      "default": true,
      "enabled": true,
      "conditions": [
        {
          "kind": "event_property_is",
          "key": "content.m\\.mentions.room",
          "value": true
        },
        {
          "kind": "sender_notification_permission",
          "key": "room"
        }
      ],
      "actions": [
        "notify",
        {
          "set_tweak": "highlight"
        }
      ]
    },
    {
      "rule_id": ".m.rule.roomnotif",
      "default": true,
      "enabled": true,
      "conditions": [
        {
          "kind": "event_match",
          "key": "content.body",
          "pattern": "@room"
        },
        {
          "kind": "sender_notification_permission",
          "key": "room"
        }
      ],
      "actions": [
        "notify",
        {
          "set_tweak": "highlight"
        }
      ]
    },
    {
      "rule_id": ".m.rule.tombstone",
      "default": true,
      "enabled": true,
      "conditions": [
        {
          "kind": "event_match",
          "key": "type",
          "pattern": "m.room.tombstone"
        },
        {
          "kind": "event_match",
          "key": "state_key",
          "pattern": ""
        }
      ],
      "actions": [
        "notify",
        {
          "set_tweak": "highlight"
        }
      ]
    },
    {
      "rule_id": ".m.rule.reaction",
      "default": true,
      "enabled": true,
      "conditions": [
        {
          "kind": "event_match",
          "key": "type",
          "pattern": "m.reaction"
        }
      ],
      "actions": []
    },
    {
      "rule_id": ".m.rule.room.server_acl",
      "default": true,
      "enabled": true,
      "conditions": [
        {
          "kind": "event_match",
          "key": "type",
          "pattern": "m.room.server_acl"
        },
        {
          "kind": "event_match",
          "key": "state_key",
          "pattern": ""
        }
      ],
      "actions": []
    },
    {
      "rule_id": ".m.rule.suppress_edits",
      "default": true,
      "enabled": true,
      "conditions": [
        {
          "kind": "event_property_is",
          "key": "content.m\\.relates_to.rel_type",
          "value": "m.replace"
        }
      ],
      "actions": []
    }
  ],
  "content": [
    {
      "rule_id": ".m.rule.contains_user_name",
      "default": true,
      "enabled": true,
      "pattern": "[the user's localpart]",
      "actions": [
        "notify",
        {
          "set_tweak": "sound",
          "value": "default"
        },
        {
          "set_tweak": "highlight"
        }
      ]
    }
  ],
  "room": [],
  "sender": [],
  "underride": [
    {
      "rule_id": ".m.rule.call",
      "default": true,
      "enabled": true,
      "conditions": [
        {
          "key": "type",
          "kind": "event_match",
          "pattern": "m.call.invite"
        }
      ],
      "actions": [
        "notify",
        {
          "set_tweak": "sound",
          "value": "ring"
        }
      ]
    },
    {
      "rule_id": ".m.rule.encrypted_room_one_to_one",
      "default": true,
      "enabled": true,
      "conditions": [
        {
          "kind": "room_member_count",
          "is": "2"
        },
        {
          "kind": "event_match",
          "key": "type",
          "pattern": "m.room.encrypted"
        }
      ],
      "actions": [
        "notify",
        {
          "set_tweak": "sound",
          "value": "default"
        }
      ]
    },
    {
      "rule_id": ".m.rule.room_one_to_one",
      "default": true,
      "enabled": true,
      "conditions": [
        {
          "kind": "room_member_count",
          "is": "2"
        },
        {
          "kind": "event_match",
          "key": "type",
          "pattern": "m.room.message"
        }
      ],
      "actions": [
        "notify",
        {
          "set_tweak": "sound",
          "value": "default"
        }
      ]
    },
    {
      "rule_id": ".m.rule.message",
      "default": true,
      "enabled": true,
      "conditions": [
        {
          "kind": "event_match",
          "key": "type",
          "pattern": "m.room.message"
        }
      ],
      "actions": [
        "notify"
      ]
    },
    {
      "rule_id": ".m.rule.encrypted",
      "default": true,
      "enabled": true,
      "conditions": [
        {
          "kind": "event_match",
          "key": "type",
          "pattern": "m.room.encrypted"
        }
      ],
      "actions": [
        "notify"
      ]
    }
  ]
};

const PLACEHOLDER = /\[the user's (Matrix ID|localpart)\]/;
const deepFreeze = <T>(v: T): T => {
  if (v && typeof v === "object") { for (const x of Object.values(v)) deepFreeze(x); Object.freeze(v); }
  return v;
};
/**
 * The rules, conditions and actions that name nobody, frozen and shared by every user's default
 * rules: the same objects for everyone, so evaluating an event for one member can answer those
 * conditions for the next (push-rules.ts), and a user's rule set costs only the few rules that
 * name them.
 */
const SHARED = new WeakSet<object>();
for (const rules of Object.values(DEFAULT_PUSH_RULES)) {
  for (const r of rules) {
    for (const c of (r.conditions as object[] | undefined) ?? []) if (!PLACEHOLDER.test(JSON.stringify(c))) SHARED.add(deepFreeze(c));
    SHARED.add(deepFreeze(r.actions as object));
    if (!PLACEHOLDER.test(JSON.stringify(r))) SHARED.add(deepFreeze(r));
  }
}

/** The default rule set for one user: placeholders replaced, every rule marked default and enabled as listed. */
export function defaultPushRules(userId: string): Record<string, Record<string, unknown>[]> {
  const clean = userId.replace(/["\\]/g, "");
  const localpart = clean.slice(1, clean.indexOf(":") > 0 ? clean.indexOf(":") : undefined);
  const fill = <T>(v: T): T => JSON.parse(JSON.stringify(v).replaceAll("[the user's Matrix ID]", clean).replaceAll("[the user's localpart]", localpart)) as T;
  const out: Record<string, Record<string, unknown>[]> = {};
  for (const [kind, rules] of Object.entries(DEFAULT_PUSH_RULES)) {
    out[kind] = rules.map((r) => {
      if (SHARED.has(r)) return r;
      const { conditions, actions, ...rest } = r as { conditions?: object[]; actions: object };
      const rule: Record<string, unknown> = fill(rest);
      if (conditions) rule.conditions = conditions.map((c) => (SHARED.has(c) ? c : fill(c)));
      rule.actions = actions;
      return rule;
    });
  }
  return out;
}
