// The registration file a bridge hands to the homeserver (the YAML Synapse and Ganglion read).
import { stringify } from "yaml";

export interface RegistrationInput {
  id: string;
  url: string;
  asToken: string;
  hsToken: string;
  botLocalpart: string;
  userPrefix: string;
  domain: string;
  protocols?: string[];
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

export function registrationYaml(r: RegistrationInput): string {
  return stringify({
    id: r.id,
    url: r.url,
    as_token: r.asToken,
    hs_token: r.hsToken,
    sender_localpart: r.botLocalpart,
    rate_limited: false,
    receive_ephemeral: true,
    protocols: r.protocols ?? [],
    namespaces: {
      users: [{ exclusive: true, regex: `@${escapeRe(r.userPrefix)}.*:${escapeRe(r.domain)}` }],
      aliases: [{ exclusive: true, regex: `#${escapeRe(r.userPrefix)}.*:${escapeRe(r.domain)}` }],
      rooms: [],
    },
  });
}
