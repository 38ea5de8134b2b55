// Soak, one board: per fault mix (drop, duplicate, reorder, delay, a mix;
// ~2 % of all frames) CANFLASH_SOAK_RUNS seeded flashes (default 50; the
// 1,000-run soak is `npm run soak`), the invariant checked on every run (see
// soak.ts), the counts printed.
import { describe, expect, it } from "vitest";
import { MIXES, report, soakRuns, soakSingle, tally } from "./soak.js";

const RUNS = soakRuns(50);
const IMAGE = 3 * 1024; // crosses a 2 KiB page boundary: an erase mid-flash

describe("soak: one board under seeded faults", () => {
  it.each(Object.keys(MIXES))(
    `%s: ${RUNS} runs, each verified-and-started or left in Katapult with an error`,
    async (mix) => {
      const outcomes = [];
      for (let seed = 1; seed <= RUNS; seed++)
        outcomes.push(await soakSingle(seed, MIXES[mix]!, IMAGE));
      const t = tally(mix, outcomes);
      report(`soak single ${t.line}`);
      expect(t.completed + t["failed-safe"] + t["old-app"]).toBe(RUNS);
      // Lost, doubled or late replies are recovered from: (almost) every run gets through.
      if (mix.endsWith("/replies")) expect(t.completed).toBeGreaterThanOrEqual(RUNS * 0.98);
    },
    600_000,
  );
});
