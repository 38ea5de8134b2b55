// The chip erase's done bit read again on a virtual clock: set after some
// reads (how many it took), never set (the named deadline, no read after
// it), a reply that is no number, an abort while waiting.
import { describe, expect, it } from "vitest";
import { SAMD_DSU_STATUSA_DONE } from "../../../src/bootloaders/openocd/chips.js";
import { ERASE_DONE_POLL_MS, pollUntilSet } from "../../../src/bootloaders/openocd/poll.js";
import { VirtualClock } from "../../../src/util/clock.js";

const command = "read_memory 0x41002101 8 1";

describe("pollUntilSet (DSU STATUSA.DONE after a chip erase)", () => {
  it("reads until bit 0 is set, ERASE_DONE_POLL_MS apart, and says how many reads it took", async () => {
    const clock = new VirtualClock();
    const at: number[] = [];
    // STATUSA: CRSTEXT (bit 1) set throughout, DONE once 240 ms have passed
    const read = () => {
      at.push(clock.now());
      return Promise.resolve(clock.now() >= 240 ? "0x3" : "0x2");
    };
    const reads = await clock.run(
      pollUntilSet(read, { until: SAMD_DSU_STATUSA_DONE, command, timeoutMs: 60_000, clock }),
    );
    expect(reads).toBe(Math.ceil(240 / ERASE_DONE_POLL_MS) + 1);
    expect(at[1]! - at[0]!).toBe(ERASE_DONE_POLL_MS);
  });

  it("never set: a TIMEOUT naming the register and the deadline, no read past it", async () => {
    const clock = new VirtualClock();
    let last = 0;
    const read = () => ((last = clock.now()), Promise.resolve("0x0"));
    await expect(
      clock.run(
        pollUntilSet(read, { until: SAMD_DSU_STATUSA_DONE, command, timeoutMs: 1000, clock }),
      ),
    ).rejects.toMatchObject({
      code: "TIMEOUT",
      operation: "the chip erase (DSU STATUSA.DONE)",
      timeoutMs: 1000,
    });
    expect(last).toBe(1000);
  });

  it("a reply that is no number is a command failure of the read", async () => {
    const clock = new VirtualClock();
    await expect(
      clock.run(
        pollUntilSet(() => Promise.resolve("invalid command name"), {
          until: SAMD_DSU_STATUSA_DONE,
          command,
          timeoutMs: 1000,
          clock,
        }),
      ),
    ).rejects.toMatchObject({ code: "OPENOCD_COMMAND_FAILED", command });
  });

  it("an abort while waiting ends the poll", async () => {
    const clock = new VirtualClock();
    const ac = new AbortController();
    let n = 0;
    const read = () => {
      if (++n === 3) ac.abort();
      return Promise.resolve("0");
    };
    await expect(
      clock.run(
        pollUntilSet(read, {
          until: SAMD_DSU_STATUSA_DONE,
          command,
          timeoutMs: 60_000,
          clock,
          signal: ac.signal,
        }),
      ),
    ).rejects.toMatchObject({ code: "ABORTED" });
    expect(n).toBe(3);
  });
});
