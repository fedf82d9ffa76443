// search.yaml: POST /search (category room_events). docs/search.md
import { defineRoutes } from "../../http/route.js";
import { roomEventFilterSchema } from "../../matrix/filter.js";
import type { RoomEventsCriteria } from "../../services/search.js";

const limit = { type: "integer", minimum: 0, maximum: 1000 };

const searchBody = {
  type: "object",
  required: ["search_categories"],
  properties: {
    search_categories: {
      type: "object",
      properties: {
        room_events: {
          type: "object",
          required: ["search_term"],
          properties: {
            search_term: { type: "string", maxLength: 4096 },
            keys: { type: "array", maxItems: 3, items: { enum: ["content.body", "content.name", "content.topic"] } },
            filter: roomEventFilterSchema,
            order_by: { enum: ["recent", "rank"] },
            event_context: {
              type: "object",
              properties: { before_limit: limit, after_limit: limit, include_profile: { type: "boolean" } },
            },
            include_state: { type: "boolean" },
            groupings: {
              type: "object",
              properties: {
                group_by: { type: "array", maxItems: 10, items: { type: "object", properties: { key: { enum: ["room_id", "sender"] } } } },
              },
            },
          },
        },
      },
    },
  },
};

export default defineRoutes({
  /** POST /_matrix/client/v3/search */
  search: {
    action: "search", method: "POST", path: "/_matrix/client/v3/search", auth: "user", body: searchBody,
    async handler({ user, body, query }, s) {
      const c = (body as { search_categories: { room_events?: RoomEventsCriteria } }).search_categories.room_events;
      if (!c) return { search_categories: {} };
      return s.search.search(user, c, query.next_batch);
    },
  },
});
