// One abort listener per signal however many waits share it (a query probes
// 28 node ids at once on the caller's signal): no MaxListenersExceededWarning,
// every wait still ends on abort, and finished waits leave nothing behind.
import { getEventListeners } from "node:events";
import { afterEach, describe, expect, it } from "vitest";
import { VirtualCanChannel } from "../../src/can/virtual.js";
import { queryInterface } from "../../src/flasher/query.js";
import { onAbort } from "../../src/util/abort.js";
import { AbortedError } from "../../src/util/errors.js";
import { VirtualClock, delay } from "../../src/util/clock.js";
import { SimCanDevice } from "../../src/sim/device.js";

const warnings: Error[] = [];
const onWarning = (w: Error) => warnings.push(w);
process.on("warning", onWarning);
afterEach(() => {
  warnings.length = 0;
});

describe("onAbort", () => {
  it("fans one listener out to every waiter and removes it with the last", () => {
    const ac = new AbortController();
    const fired: number[] = [];
    const offs = Array.from({ length: 50 }, (_, i) => onAbort(ac.signal, () => fired.push(i)));
    expect(getEventListeners(ac.signal, "abort")).toHaveLength(1);
    offs[0]!();
    ac.abort();
    expect(fired).toHaveLength(49);
    expect(fired).not.toContain(0);
  });

  it("leaves no listener once every waiter is done", () => {
    const ac = new AbortController();
    const offs = Array.from({ length: 20 }, () => onAbort(ac.signal, () => undefined));
    for (const off of offs) off();
    expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
    // and a new waiter gets a fresh listener
    const off = onAbort(ac.signal, () => undefined);
    expect(getEventListeners(ac.signal, "abort")).toHaveLength(1);
    off();
  });

  it("a waiter on an already-aborted signal is called (asynchronously)", async () => {
    const ac = new AbortController();
    ac.abort();
    let called = false;
    onAbort(ac.signal, () => (called = true));
    expect(called).toBe(false);
    await Promise.resolve();
    expect(called).toBe(true);
  });

  it("many delays on one signal all reject with AbortedError", async () => {
    const clock = new VirtualClock();
    const ac = new AbortController();
    const waits = Array.from({ length: 40 }, () =>
      delay(clock, 1000, ac.signal).catch((e: unknown) => e),
    );
    expect(getEventListeners(ac.signal, "abort")).toHaveLength(1);
    ac.abort();
    for (const e of await Promise.all(waits)) expect(e).toBeInstanceOf(AbortedError);
  });
});

describe("a query probing every node id on the caller's signal", () => {
  it("raises no MaxListenersExceededWarning", async () => {
    const channel = VirtualCanChannel.join("abort-fanout", { label: "x" });
    const dev = new SimCanDevice(VirtualCanChannel.join("abort-fanout", { label: "board" }), {
      uuid: "8266c4636429",
      boot: "klipper",
      mcu: "stm32g0b1xx",
    });
    dev.start();
    const ac = new AbortController();
    try {
      const q = await queryInterface({
        iface: "virtual:abort-fanout",
        cwd: "/",
        signal: ac.signal,
        queryMs: 200,
      });
      expect(q.nodes.map((n) => n.uuid)).toEqual(["8266c4636429"]);
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
      expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
    } finally {
      await dev.close();
      await channel.close();
    }
  });
});
