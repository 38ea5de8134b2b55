import { describe, expect, it } from "vitest";
import { delay, realClock, VirtualClock } from "../../src/util/clock.js";
import { AbortedError } from "../../src/util/errors.js";

describe("VirtualClock", () => {
  it("fires timers in time order, ties in scheduling order, and jumps time when idle", async () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    clock.schedule(10, () => log.push(`a@${clock.now()}`));
    clock.schedule(5, () => log.push(`b@${clock.now()}`));
    clock.schedule(5, () => log.push(`c@${clock.now()}`));
    const cancel = clock.schedule(7, () => log.push("cancelled"));
    cancel();
    await clock.run(delay(clock, 20));
    expect(log).toEqual(["b@5", "c@5", "a@10"]);
    expect(clock.now()).toBe(20);
  });

  it("fails a run that can never finish instead of hanging", async () => {
    const clock = new VirtualClock();
    await expect(clock.run(new Promise(() => undefined))).rejects.toThrow(/stalled/);
  });

  it("bounds simulated time", async () => {
    const clock = new VirtualClock();
    const forever = (async () => {
      for (;;) await delay(clock, 1000);
    })();
    await expect(clock.run(forever, 10_000)).rejects.toThrow(/limit/);
  });

  it("advance() runs exactly the timers due", async () => {
    const clock = new VirtualClock();
    let fired = 0;
    clock.schedule(3, () => fired++);
    clock.schedule(8, () => fired++);
    await clock.advance(5);
    expect(fired).toBe(1);
    expect(clock.now()).toBe(5);
    expect(clock.pending).toBe(1);
  });
});

describe("delay", () => {
  it("rejects with AbortedError when aborted, before or during the wait", async () => {
    const clock = new VirtualClock();
    const ac = new AbortController();
    const p = delay(clock, 100, ac.signal, "poll");
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(AbortedError);
    await expect(delay(clock, 1, ac.signal)).rejects.toThrow(/aborted/);
    expect(clock.pending).toBe(0);
  });

  it("on the real clock waits at least the delay", async () => {
    const t0 = realClock.now();
    await delay(realClock, 3);
    expect(realClock.now() - t0).toBeGreaterThanOrEqual(3);
  });
});
