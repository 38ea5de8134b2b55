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

describe("realClock ordering", () => {
  it("fires timers in due order, ties in creation order, even sub-millisecond ones", async () => {
    for (let run = 0; run < 50; run++) {
      const order: number[] = [];
      await new Promise<void>((resolve) => {
        let n = 0;
        for (let i = 0; i < 10; i++) {
          realClock.schedule(0.3, () => {
            order.push(i);
            if (++n === 10) resolve();
          });
        }
      });
      expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
    // Mixed delays fire in order of their due time (taken when scheduled: under load the
    // schedule calls themselves can be milliseconds apart).
    const fired: number[] = [];
    const dues: number[] = [];
    await new Promise<void>((resolve) => {
      for (const ms of [4, 1, 2.5, 0, 3]) {
        const due = realClock.now() + ms;
        dues.push(due);
        realClock.schedule(ms, () => fired.push(due));
      }
      const cancel = realClock.schedule(2, () => fired.push(-1));
      cancel();
      realClock.schedule(8, () => resolve());
    });
    expect(fired).toEqual([...dues].sort((a, b) => a - b));
  });
});

describe("realClock keeps its setTimeout across an empty queue", () => {
  it("a timer scheduled after a cancelled one fires on time, earlier or later than the kept timeout", async () => {
    // later than the kept timeout: the early tick re-plans, the timer waits its full time
    let cancel = realClock.schedule(5, () => expect.unreachable("cancelled"));
    cancel();
    let t0 = realClock.now();
    await new Promise<void>((r) => realClock.schedule(30, r));
    expect(realClock.now() - t0).toBeGreaterThanOrEqual(29);
    // earlier than the kept timeout: a new setTimeout, not the late one
    cancel = realClock.schedule(10_000, () => expect.unreachable("cancelled"));
    cancel();
    t0 = realClock.now();
    const fired = await Promise.race([
      new Promise<string>((r) => realClock.schedule(20, () => r("fired"))),
      new Promise<string>((r) => setTimeout(() => r("lost"), 5_000)),
    ]);
    expect(fired).toBe("fired");
    expect(realClock.now() - t0).toBeGreaterThanOrEqual(19);
  });

  it("a cancelled timer does not hold the process open", async () => {
    const { execFileSync } = await import("node:child_process");
    // the built module (npm test builds first): node 20 runs no TypeScript
    const url = new URL("../../dist/util/clock.js", import.meta.url).href;
    // a 60 s timer cancelled at once: node exits without waiting for its kept setTimeout
    const script = `const { realClock } = await import(${JSON.stringify(url)}); const c = realClock.schedule(60000, () => { console.log("fired"); }); c(); console.log("done");`;
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(out.trim()).toBe("done");
  });
});
