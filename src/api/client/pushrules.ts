// pushrules.yaml: the user's push rules. https://spec.matrix.org/latest/client-server-api/#push-rules-api
import { MatrixError } from "../../http/errors.js";
import { defineRoutes } from "../../http/route.js";
import { anyObject, bool, obj, str } from "../../http/validate.js";

const base = "/_matrix/client/v3/pushrules";
/** Only the "global" scope exists (spec). */
function scope(s: string): void {
  if (s !== "global") throw new MatrixError(400, "M_INVALID_PARAM", "Only the global scope exists");
}

export default defineRoutes({
  /** GET /_matrix/client/v3/pushrules/ */
  getPushRules: {
    method: "GET", path: base, auth: "user", guest: true,
    handler: async ({ user }, s) => ({ global: await s.pushRules.get(user.userId) }),
  },

  /** GET /_matrix/client/v3/pushrules/global/ */
  getPushRulesGlobal: {
    method: "GET", path: `${base}/global`, auth: "user", guest: true,
    handler: ({ user, req }, s) => {
      // The spec's path ends with a slash; without it, this is the scope with no kind after it.
      if (!req.path.endsWith("/")) throw new MatrixError(400, "M_UNRECOGNIZED", "Not a push rule path: /pushrules/global/");
      return s.pushRules.get(user.userId);
    },
  },

  /** GET /_matrix/client/v3/pushrules/{scope}/{kind}/{ruleId} */
  getPushRule: {
    method: "GET", path: `${base}/:scope/:kind/:ruleId`, auth: "user", guest: true,
    handler: ({ user, params }, s) => { scope(params.scope!); return s.pushRules.rule(user.userId, params.kind!, params.ruleId!); },
  },

  /** PUT /_matrix/client/v3/pushrules/{scope}/{kind}/{ruleId} */
  setPushRule: {
    method: "PUT", path: `${base}/:scope/:kind/:ruleId`, auth: "user",
    body: obj({ actions: { type: "array", maxItems: 64 }, conditions: { type: "array", maxItems: 64, items: anyObject }, pattern: str(4096) }, ["actions"]),
    async handler({ user, params, body, query }, s) {
      scope(params.scope!);
      await s.pushRules.put(user.userId, params.kind!, params.ruleId!, body as { actions: unknown[] }, query.before, query.after);
      return {};
    },
  },

  /** DELETE /_matrix/client/v3/pushrules/{scope}/{kind}/{ruleId} */
  deletePushRule: {
    method: "DELETE", path: `${base}/:scope/:kind/:ruleId`, auth: "user",
    async handler({ user, params }, s) {
      scope(params.scope!);
      await s.pushRules.delete(user.userId, params.kind!, params.ruleId!);
      return {};
    },
  },

  /** GET /_matrix/client/v3/pushrules/{scope}/{kind}/{ruleId}/enabled */
  isPushRuleEnabled: {
    method: "GET", path: `${base}/:scope/:kind/:ruleId/enabled`, auth: "user", guest: true,
    async handler({ user, params }, s) {
      scope(params.scope!);
      return { enabled: (await s.pushRules.rule(user.userId, params.kind!, params.ruleId!)).enabled !== false };
    },
  },

  /** PUT /_matrix/client/v3/pushrules/{scope}/{kind}/{ruleId}/enabled */
  setPushRuleEnabled: {
    method: "PUT", path: `${base}/:scope/:kind/:ruleId/enabled`, auth: "user", body: obj({ enabled: bool }, ["enabled"]),
    async handler({ user, params, body }, s) {
      scope(params.scope!);
      await s.pushRules.setEnabled(user.userId, params.kind!, params.ruleId!, (body as { enabled: boolean }).enabled);
      return {};
    },
  },

  /** GET /_matrix/client/v3/pushrules/{scope}/{kind}/{ruleId}/actions */
  getPushRuleActions: {
    method: "GET", path: `${base}/:scope/:kind/:ruleId/actions`, auth: "user", guest: true,
    async handler({ user, params }, s) {
      scope(params.scope!);
      return { actions: (await s.pushRules.rule(user.userId, params.kind!, params.ruleId!)).actions };
    },
  },

  /** PUT /_matrix/client/v3/pushrules/{scope}/{kind}/{ruleId}/actions */
  setPushRuleActions: {
    method: "PUT", path: `${base}/:scope/:kind/:ruleId/actions`, auth: "user", body: obj({ actions: { type: "array", maxItems: 64 } }, ["actions"]),
    async handler({ user, params, body }, s) {
      scope(params.scope!);
      await s.pushRules.setActions(user.userId, params.kind!, params.ruleId!, (body as { actions: unknown[] }).actions);
      return {};
    },
  },
});
