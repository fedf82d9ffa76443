// Mocha root hooks: the run's Postgres starts once before all files and stops after them.
import { startTestPostgres, stopTestPostgres } from "./postgres.js";

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(120_000);
    await startTestPostgres();
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await stopTestPostgres();
  },
};
