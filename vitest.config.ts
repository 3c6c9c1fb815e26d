import { defineConfig } from "vitest/config";

/**
 * Suites that start several bot processes at once (shards, `npm start`). They run after the others,
 * one file at a time: on a 2-core machine their processes would otherwise starve the real-time
 * audio of the suites running beside them.
 */
const PROCESS_SUITES = [
  "test/e2e/sharding.test.ts",
  "test/e2e/sharding-postgres.test.ts",
  "test/e2e/npm-start.test.ts",
];

export default defineConfig({
  test: {
    // A throwaway PostgreSQL for the store and sharding tests (or TEST_DATABASE_URL).
    globalSetup: ["test/setup/postgres.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    projects: [
      {
        extends: true,
        test: {
          name: "in-process",
          include: ["test/**/*.test.ts"],
          exclude: PROCESS_SUITES,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "processes",
          include: PROCESS_SUITES,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
