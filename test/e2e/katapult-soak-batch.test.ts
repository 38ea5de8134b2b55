// Soak, a batch of four on one bus (two boards in Katapult, two running
// Klipper, one gate): per fault mix CANFLASH_SOAK_RUNS seeded batches
// (default 10; `npm run soak`: 1,000), the invariant checked for every
// board of every run (see soak.ts), the counts printed.
import { describe, expect, it } from "vitest";
import { MIXES, report, soakBatch, soakRuns, tally } from "./soak.js";

const RUNS = soakRuns(10);
const IMAGE = 3 * 1024;

describe("soak: a batch of four under seeded faults", () => {
  it.each(Object.keys(MIXES))(
    `%s: ${RUNS} batches, every board verified-and-started, left in Katapult with an error, or back in its old application`,
    async (mix) => {
      const outcomes = [];
      for (let seed = 1; seed <= RUNS; seed++)
        outcomes.push(...(await soakBatch(seed, MIXES[mix]!, IMAGE)));
      const t = tally(mix, outcomes);
      report(`soak batch  ${t.line}`);
      expect(outcomes).toHaveLength(RUNS * 4);
      if (mix.endsWith("/replies")) expect(t.completed).toBeGreaterThanOrEqual(RUNS * 4 * 0.98);
    },
    600_000,
  );
});
