import { describe, expect, it } from "vitest";
import { frameWireTimeMs } from "../../src/can/bittime.js";
import { CanBusClosedError } from "../../src/can/errors.js";
import { canFrame, formatFrame, type CanFrame } from "../../src/can/frame.js";
import { openCanBus } from "../../src/can/backends.js";
import { liveBuses } from "../../src/can/registry.js";
import { VirtualCanChannel } from "../../src/can/virtual.js";
import { VirtualClock } from "../../src/util/clock.js";
import { AbortedError } from "../../src/util/errors.js";

async function drain(
  bus: { recv(t?: number): Promise<CanFrame | undefined> },
  timeoutMs = 0,
): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const f = await bus.recv(timeoutMs);
    if (!f) return out;
    out.push(formatFrame(f));
  }
}

describe("VirtualCanChannel delivery", () => {
  it("delivers each frame to every other endpoint, not back to the sender", async () => {
    const ch = VirtualCanChannel.anonymous();
    const [a, b, c] = [ch.open(), ch.open(), ch.open()];
    await a.send(canFrame(0x100, [1]));
    await b.send(canFrame(0x101, [2]));
    expect(await drain(a, 5)).toEqual(["101#02"]);
    expect(await drain(b, 5)).toEqual(["100#01"]);
    expect(await drain(c, 5)).toEqual(["100#01", "101#02"]);
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  it("echoes own frames only when asked", async () => {
    const ch = VirtualCanChannel.anonymous();
    const echo = ch.open({ receiveOwn: true });
    const quiet = ch.open();
    await echo.send(canFrame(0x1, [1]));
    await quiet.send(canFrame(0x2, [2]));
    expect(await drain(echo, 5)).toEqual(["001#01", "002#02"]);
    expect(await drain(quiet, 5)).toEqual(["001#01"]);
    await Promise.all([echo.close(), quiet.close()]);
  });

  it("filters by id and mask, standard and extended separately", async () => {
    const ch = VirtualCanChannel.anonymous();
    const tx = ch.open();
    const std = ch.open({ filters: [{ id: 0x100, mask: 0x700, extended: false }] });
    const ext = ch.open({ filters: [{ id: 0x100, mask: 0x7ff, extended: true }] });
    const any = ch.open();
    const sub = any.subscribe({ filters: [{ id: 0x3f1, mask: 0x7ff }] });
    for (const f of [
      canFrame(0x100, [1]),
      canFrame(0x1ff, [2]),
      canFrame(0x200, [3]),
      canFrame(0x100, [4], { extended: true }),
      canFrame(0x3f1, [5]),
    ]) {
      await tx.send(f);
    }
    expect(await drain(std, 5)).toEqual(["100#01", "1FF#02"]);
    expect(await drain(ext, 5)).toEqual(["00000100#04"]);
    expect(await drain(sub, 5)).toEqual(["3F1#05"]);
    expect(await drain(any, 0)).toHaveLength(5);
    std.setFilters([]);
    await tx.send(canFrame(0x7ff, []));
    expect(await drain(std, 5)).toEqual(["7FF#"]);
    await Promise.all([tx, std, ext, any].map((b) => b.close()));
  });

  it("joins channels by name through openCanBus and forgets them when the last endpoint closes", async () => {
    const a = await openCanBus("virtual:named-test");
    const b = await openCanBus("virtual:named-test");
    expect(a.channel).toBe("virtual:named-test");
    await a.send(canFrame(0x10, [0xaa]));
    expect(formatFrame((await b.recv(10))!)).toBe("010#AA");
    expect(VirtualCanChannel.get("named-test")?.endpointCount).toBe(2);
    await a.close();
    await b.close();
    expect(VirtualCanChannel.get("named-test")).toBeUndefined();
    await expect(openCanBus("virtual:")).rejects.toThrow(/needs a name/);
  });
});

describe("VirtualCanChannel bus-time model", () => {
  it("1,000 8-byte standard frames at 1 Mbit/s take their modelled wire time (within 1%)", async () => {
    const clock = new VirtualClock();
    const ch = VirtualCanChannel.anonymous({ bitrate: 1_000_000, clock });
    const tx = ch.open();
    const rx = ch.open();
    const frames = Array.from({ length: 1000 }, (_, i) =>
      canFrame(0x100 + (i % 64), [i & 0xff, i >> 8, 1, 2, 3, 4, 5, 6]),
    );
    const modelled = frames.reduce((t, f) => t + frameWireTimeMs(f, 1_000_000), 0);
    let lastArrival = 0;
    const received = (async () => {
      for (let n = 0; n < frames.length; n++) {
        await rx.recv();
        lastArrival = clock.now();
      }
    })();
    const t0 = clock.now();
    await clock.run(
      Promise.all([
        (async () => {
          for (const f of frames) await tx.send(f);
        })(),
        received,
      ]),
    );
    const elapsed = lastArrival - t0;
    expect(Math.abs(elapsed - modelled) / modelled).toBeLessThan(0.01);
    // An 8-byte standard frame is 111..135 bits: the total must sit inside that band too.
    expect(elapsed).toBeGreaterThanOrEqual((111 * 1000) / 1000);
    expect(elapsed).toBeLessThanOrEqual((135 * 1000) / 1000);
    expect(ch.stats.frames).toBe(1000);
    expect(ch.stats.busyMs).toBeCloseTo(modelled, 6);
    expect(ch.stats.bits).toBe(Math.round(modelled * 1000));
    await clock.run(Promise.all([tx.close(), rx.close()]));
  });

  it("puts one frame on the wire at a time and lets the lowest id win", async () => {
    const clock = new VirtualClock();
    const ch = VirtualCanChannel.anonymous({ bitrate: 125_000, clock });
    const [a, b, c, listener] = [ch.open(), ch.open(), ch.open(), ch.open()];
    // While 0x700 occupies the wire, three more frames queue at three nodes.
    const order: string[] = [];
    const done = (async () => {
      for (let i = 0; i < 4; i++) order.push(formatFrame((await listener.recv())!));
    })();
    await clock.run(a.send(canFrame(0x700, [1])));
    await clock.run(
      Promise.all([
        b.send(canFrame(0x300, [2])),
        c.send(canFrame(0x050, [3])),
        a.send(canFrame(0x100, [4])),
      ]),
    );
    await clock.run(done);
    expect(order).toEqual(["700#01", "050#03", "100#04", "300#02"]);
    await clock.run(Promise.all([a, b, c, listener].map((x) => x.close())));
  });

  it("keeps an endpoint's own frames in order even when a later one has a lower id", async () => {
    const clock = new VirtualClock();
    const ch = VirtualCanChannel.anonymous({ bitrate: 500_000, clock });
    const tx = ch.open();
    const rx = ch.open();
    await clock.run(Promise.all([tx.send(canFrame(0x200, [1])), tx.send(canFrame(0x100, [2]))]));
    await clock.advance(10);
    expect(await drain(rx)).toEqual(["200#01", "100#02"]);
    await clock.run(Promise.all([tx.close(), rx.close()]));
  });

  it("applies backpressure: send waits while the transmit queue is full", async () => {
    const clock = new VirtualClock();
    const ch = VirtualCanChannel.anonymous({ bitrate: 1_000_000, clock, txQueueLength: 4 });
    const tx = ch.open();
    const rx = ch.open();
    let accepted = 0;
    const sends = Array.from({ length: 10 }, (_, i) =>
      tx.send(canFrame(0x10, [i])).then(() => accepted++),
    );
    await clock.advance(0);
    // One frame on the wire, four queued: the other five wait.
    expect(accepted).toBe(5);
    await clock.run(Promise.all(sends));
    await clock.advance(5);
    expect((await drain(rx)).map((s) => s.slice(-2))).toEqual([
      "00",
      "01",
      "02",
      "03",
      "04",
      "05",
      "06",
      "07",
      "08",
      "09",
    ]);
    await clock.run(Promise.all([tx.close(), rx.close()]));
  });

  it("models an adapter's latency on an endpoint: frames reach the wire and the host later, in order", async () => {
    const clock = new VirtualClock();
    const ch = VirtualCanChannel.anonymous({ bitrate: 1_000_000, clock });
    const host = ch.open({ latencyMs: 0.5 });
    const dev = ch.open();
    let arrived = -1;
    const got = dev.recv().then(() => (arrived = clock.now()));
    await clock.run(host.send(canFrame(0x10, [1])));
    await clock.run(got);
    expect(arrived).toBeCloseTo(0.5 + frameWireTimeMs(canFrame(0x10, [1]), 1_000_000), 9);
    let back = -1;
    const reply = host.recv().then(() => (back = clock.now()));
    const t0 = clock.now();
    await clock.run(dev.send(canFrame(0x11, [2])));
    await clock.run(reply);
    expect(back - t0).toBeCloseTo(frameWireTimeMs(canFrame(0x11, [2]), 1_000_000) + 0.5, 9);
    await clock.run(
      Promise.all([host.send(canFrame(0x12, [1])), host.send(canFrame(0x12, [2])), host.close()]),
    );
    expect((await dev.recv(1))?.data[0]).toBe(1);
    expect((await dev.recv(1))?.data[0]).toBe(2);
    await dev.close();
  });

  it("aborts a send waiting for queue space", async () => {
    const clock = new VirtualClock();
    const ch = VirtualCanChannel.anonymous({ bitrate: 10_000, clock, txQueueLength: 1 });
    const tx = ch.open();
    await clock.run(Promise.all([tx.send(canFrame(1, [])), tx.send(canFrame(2, []))]));
    const ac = new AbortController();
    const pending = tx.send(canFrame(3, []), { signal: ac.signal });
    ac.abort();
    await expect(pending).rejects.toBeInstanceOf(AbortedError);
    await clock.run(tx.close());
  });
});

describe("VirtualCanChannel faults", () => {
  async function faultyRun(seed: number): Promise<{ got: string[]; faults: object }> {
    const clock = new VirtualClock();
    const ch = VirtualCanChannel.anonymous({
      clock,
      bitrate: 1_000_000,
      faults: { seed, drop: 0.05, duplicate: 0.05, reorder: 0.05, delay: 0.05, delayMs: 3 },
    });
    const tx = ch.open();
    const rx = ch.open();
    await clock.run(
      (async () => {
        for (let i = 0; i < 400; i++) await tx.send(canFrame(0x123, [i & 0xff, i >> 8]));
      })(),
    );
    await clock.advance(50);
    const got = await drain(rx);
    await clock.run(Promise.all([tx.close(), rx.close()]));
    return { got, faults: { ...ch.stats.faults } };
  }

  it("gives identical runs for the same seed and different runs for another", async () => {
    const a = await faultyRun(7);
    const b = await faultyRun(7);
    const c = await faultyRun(8);
    expect(a).toEqual(b);
    expect(a.got).not.toEqual(c.got);
  });

  it("really drops, duplicates, reorders and delays", async () => {
    const { got, faults } = await faultyRun(7);
    const f = faults as { dropped: number; duplicated: number; reordered: number; delayed: number };
    expect(f.dropped).toBeGreaterThan(5);
    expect(f.duplicated).toBeGreaterThan(5);
    expect(f.reordered).toBeGreaterThan(5);
    expect(f.delayed).toBeGreaterThan(5);
    expect(got.length).toBe(400 - f.dropped + f.duplicated);
    const seq = got.map((s) => parseInt(s.slice(6, 8), 16) * 256 + parseInt(s.slice(4, 6), 16));
    const outOfOrder = seq.filter((v, i) => i > 0 && v < seq[i - 1]!).length;
    expect(outOfOrder).toBeGreaterThan(5);
  });

  it("limits faults to the frames they apply to", async () => {
    const clock = new VirtualClock();
    const ch = VirtualCanChannel.anonymous({
      clock,
      faults: { seed: 1, drop: 1, appliesTo: [{ id: 0x203, mask: 0x7ff }] },
    });
    const tx = ch.open();
    const rx = ch.open();
    await clock.run(Promise.all([tx.send(canFrame(0x203, [1])), tx.send(canFrame(0x202, [2]))]));
    await clock.advance(1);
    expect(await drain(rx)).toEqual(["202#02"]);
    await clock.run(Promise.all([tx.close(), rx.close()]));
  });
});

describe("VirtualCanBus readers and closing", () => {
  it("recv times out with undefined, honours AbortSignal, and iterates until close", async () => {
    const ch = VirtualCanChannel.anonymous();
    const a = ch.open();
    const b = ch.open();
    expect(await b.recv(0)).toBeUndefined();
    expect(await b.recv(5)).toBeUndefined();
    const ac = new AbortController();
    const p = b.recv(undefined, { signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(AbortedError);

    const seen: string[] = [];
    const iterating = (async () => {
      for await (const f of b) seen.push(formatFrame(f));
    })();
    await a.send(canFrame(1, [1]));
    await a.send(canFrame(2, [2]));
    await new Promise((r) => setTimeout(r, 5));
    await b.close();
    await iterating;
    expect(seen).toEqual(["001#01", "002#02"]);
    await expect(b.recv(1)).rejects.toBeInstanceOf(CanBusClosedError);
    await expect(b.send(canFrame(3, []))).rejects.toBeInstanceOf(CanBusClosedError);
    await a.close();
  });

  it("releases everything on close: no live endpoints, channel detached, pending recv rejected", async () => {
    const ch = VirtualCanChannel.anonymous();
    const a = ch.open();
    const b = ch.open();
    expect(liveBuses()).toHaveLength(2);
    const pending = b.recv();
    await b.close();
    await expect(pending).rejects.toBeInstanceOf(CanBusClosedError);
    expect(ch.endpointCount).toBe(1);
    await a.close();
    expect(ch.endpointCount).toBe(0);
    expect(liveBuses()).toHaveLength(0);
  });

  it("flushes queued frames before an endpoint detaches", async () => {
    const clock = new VirtualClock();
    const ch = VirtualCanChannel.anonymous({ bitrate: 100_000, clock });
    const tx = ch.open();
    const rx = ch.open();
    await clock.run(Promise.all([1, 2, 3].map((i) => tx.send(canFrame(i, [i])))));
    await clock.run(tx.close());
    expect(await drain(rx)).toEqual(["001#01", "002#02", "003#03"]);
    await rx.close();
  });

  it("reports a reader that fell behind instead of silently losing frames", async () => {
    const ch = VirtualCanChannel.anonymous();
    const a = ch.open();
    const b = ch.open();
    const slow = b.subscribe({ limit: 2 });
    for (let i = 0; i < 5; i++) await a.send(canFrame(1, [i]));
    await new Promise((r) => setTimeout(r, 5));
    await expect(slow.recv(0)).rejects.toThrow(/3 received frames .* discarded/);
    expect((await slow.recv(0))?.data[0]).toBe(0);
    await Promise.all([a.close(), b.close()]);
  });

  it("models bus state changes from injected error frames", async () => {
    const ch = VirtualCanChannel.anonymous();
    const a = ch.open();
    expect(a.state).toBe("error-active");
    ch.injectErrorFrame(canFrame(0x40, new Array(8).fill(0), { error: true, extended: false }));
    expect(a.state).toBe("bus-off");
    await a.close();
  });
});
