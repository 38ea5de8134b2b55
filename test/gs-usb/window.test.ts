// The gs_usb transmit window on virtual time (adapter model, USB latency,
// the 1 Mbit/s or a crawling bus-time model all on one VirtualClock): a
// send resolves once its frame has an echo id and its bulk OUT is
// submitted, never more than `window` frames are unacknowledged (the
// adapter model counts them), frames keep their order both ways while the
// USB latency overlaps, and what fails after send() resolved — a bulk OUT
// the adapter never takes, an echo that never comes — reaches the readers.
import { describe, expect, it } from "vitest";
import { CanSendTimeoutError } from "../../src/can/errors.js";
import { canFrame, type CanFrame } from "../../src/can/frame.js";
import type { CanReader } from "../../src/can/bus.js";
import { VirtualCanChannel } from "../../src/can/virtual.js";
import { openGsUsb } from "../../src/gs-usb/backend.js";
import { GS_USB_CONTROL_TIMEOUT_MS, type GsUsbBusOptions } from "../../src/gs-usb/bus.js";
import { GsUsbFrameLostError } from "../../src/gs-usb/errors.js";
import { SimGsUsbAdapter, type SimGsUsbOptions } from "../../src/sim/usb/gs-usb.js";
import { InProcessUsbBackend } from "../../src/usb/in-process.js";
import { VirtualClock } from "../../src/util/clock.js";

interface RigOptions {
  bitrate: number;
  adapter?: Omit<SimGsUsbOptions, "clock">;
  bus?: Omit<GsUsbBusOptions, "clock">;
}

/** A gs_usb bus, its adapter model and a node on the far side, all on one virtual clock. */
async function virtualRig(o: RigOptions) {
  const clock = new VirtualClock();
  const channel = VirtualCanChannel.anonymous({ label: "wire", bitrate: o.bitrate, clock });
  const adapter = new SimGsUsbAdapter(channel, { clock, ...o.adapter });
  const node = channel.open({ label: "node" });
  const bus = await openGsUsb("gs_usb:", {
    usb: InProcessUsbBackend.of(adapter),
    clock,
    ...o.bus,
  });
  return {
    clock,
    channel,
    adapter,
    node,
    bus,
    /** Closes everything on virtual time (the bus first: it lets frames in flight finish). */
    close: () =>
      clock.run(
        (async () => {
          await bus.close();
          await Promise.all([node.close(), adapter.close()]);
        })(),
      ),
  };
}

async function recvN(r: { recv(ms?: number): Promise<CanFrame | undefined> }, n: number) {
  const out: CanFrame[] = [];
  while (out.length < n) {
    const f = await r.recv(5000);
    if (!f) throw new Error(`got ${out.length} of ${n} frames`);
    out.push(f);
  }
  return out;
}

/** The error the reader's next recv rejects with (a frame instead fails the test). */
async function nextError(r: CanReader | { recv(ms?: number): Promise<CanFrame | undefined> }) {
  const got = await r.recv(60_000).then(
    (f) => new Error(`a frame instead of an error: ${f ? f.id : "nothing"}`),
    (e: unknown) => e,
  );
  return got;
}

describe("gs_usb transmit window", () => {
  it("never more than `window` frames unacknowledged: a send resolves as its frame enters the window, an echo frees a slot", async () => {
    const r = await virtualRig({
      bitrate: 125_000,
      adapter: { txQueue: 3, usbLatencyMs: 1 },
      bus: { window: 4 },
    });
    try {
      /** Frames the wire had carried when each send resolved. */
      const onWireAtResolve: number[] = [];
      let maxInFlight = 0;
      const sends = Array.from({ length: 30 }, (_, i) =>
        r.bus.send(canFrame(0x100, [i])).then(() => {
          onWireAtResolve.push(r.channel.stats.frames);
          maxInFlight = Math.max(maxInFlight, r.bus.inFlight);
        }),
      );
      const [, got] = await r.clock.run(Promise.all([Promise.all(sends), recvN(r.node, 30)]));
      expect(r.adapter.maxOutstanding).toBe(4); // the bound, reached and never passed
      expect(maxInFlight).toBeLessThanOrEqual(4);
      // The first four did not wait for their echo: nothing was on the wire yet.
      expect(onWireAtResolve.slice(0, 4)).toEqual([0, 0, 0, 0]);
      // The fifth waited for a slot: the first frame had left and its echo come back.
      expect(onWireAtResolve[4]).toBeGreaterThanOrEqual(1);
      expect(got.map((f) => f.data[0])).toEqual(Array.from({ length: 30 }, (_, i) => i));
    } finally {
      await r.close();
    }
    expect(r.adapter.outstanding).toBe(0);
  });

  it("in order both ways under 1 ms of USB latency per transfer, the transfers' latencies overlapping", async () => {
    const r = await virtualRig({ bitrate: 1_000_000, adapter: { usbLatencyMs: 1 } });
    try {
      const N = 300;
      // Falling ids: on the wire each later frame would win arbitration over an earlier one.
      const frame = (i: number) => canFrame(0x300 - (i % 100), [i & 0xff, i >> 8]);
      const seq = (f: CanFrame) => f.data[0]! | (f.data[1]! << 8);
      const t0 = r.clock.now();
      const [, toNode] = await r.clock.run(
        Promise.all([
          Promise.all(Array.from({ length: N }, (_, i) => r.bus.send(frame(i)))),
          recvN(r.node, N),
        ]),
      );
      const outMs = r.clock.now() - t0;
      expect(toNode.map(seq)).toEqual(Array.from({ length: N }, (_, i) => i));
      // Serialised, 300 OUT transfers would take 300 ms of latency alone.
      expect(outMs).toBeLessThan(N * 0.5);
      const t1 = r.clock.now();
      const [, toHost] = await r.clock.run(
        Promise.all([
          Promise.all(Array.from({ length: N }, (_, i) => r.node.send(frame(i)))),
          recvN(r.bus, N),
        ]),
      );
      expect(toHost.map(seq)).toEqual(Array.from({ length: N }, (_, i) => i));
      expect(r.clock.now() - t1).toBeLessThan(N * 0.5);
    } finally {
      await r.close();
    }
  });

  it("a frame the adapter never takes (its queue stays full past the OUT deadline) is reported to the readers after its send resolved", async () => {
    // 20 bit/s: the first frame holds the wire for seconds; the adapter's one-frame queue stays full.
    const r = await virtualRig({
      bitrate: 20,
      adapter: { txQueue: 1 },
      bus: { echoTimeoutMs: 60_000 },
    });
    try {
      // A reader like Katapult's node stream: filtered to another id, it hears of the loss too.
      const stream = r.bus.subscribe({ filters: [{ id: 0x581, mask: 0x7ff, extended: false }] });
      await r.clock.run(
        Promise.all([r.bus.send(canFrame(0x580, [1])), r.bus.send(canFrame(0x580, [2]))]),
      );
      const t0 = r.clock.now();
      const [e, e2] = await r.clock.run(Promise.all([nextError(stream), nextError(r.bus)]));
      for (const x of [e, e2]) {
        expect(x).toBeInstanceOf(GsUsbFrameLostError);
        expect(x).toMatchObject({ reason: "not-taken", frameText: "580#02" });
      }
      expect(r.clock.now() - t0).toBeLessThanOrEqual(GS_USB_CONTROL_TIMEOUT_MS);
      expect(r.bus.inFlight).toBe(1); // the first frame: still on the wire, awaiting its echo
    } finally {
      await r.close();
    }
    expect(r.channel.stats.frames).toBe(1); // only the first ever reached the wire
  });

  it("an echo missing past its deadline is reported to the readers, and its late echo is ignored", async () => {
    const r = await virtualRig({ bitrate: 20, bus: { echoTimeoutMs: 300 } });
    try {
      await r.clock.run(r.bus.send(canFrame(0x123, [0xaa])));
      const t0 = r.clock.now();
      const e = await r.clock.run(nextError(r.bus));
      expect(e).toBeInstanceOf(GsUsbFrameLostError);
      expect(e).toMatchObject({ reason: "no-echo", frameText: "123#AA", waitedMs: 300 });
      expect(r.clock.now() - t0).toBeLessThanOrEqual(300);
      expect(r.bus.inFlight).toBe(0);
      // The frame does leave, seconds later; its echo then finds no slot and changes nothing.
      await r.clock.run(recvN(r.node, 1));
      await r.clock.advance(10);
      expect(r.bus.inFlight).toBe(0);
      expect(await r.clock.run(r.bus.recv(0))).toBeUndefined();
    } finally {
      await r.close();
    }
  });

  it("a send that finds the window full waits, and fails with CanSendTimeoutError when no slot frees in time", async () => {
    const r = await virtualRig({
      bitrate: 20,
      bus: { window: 1, echoTimeoutMs: 60_000, sendTimeoutMs: 200 },
    });
    try {
      await r.clock.run(r.bus.send(canFrame(0x100, [1])));
      const t0 = r.clock.now();
      const second = await r.clock.run(r.bus.send(canFrame(0x100, [2])).catch((x: unknown) => x));
      expect(second).toBeInstanceOf(CanSendTimeoutError);
      expect(r.clock.now() - t0).toBe(200);
    } finally {
      await r.close();
    }
  });

  it("close() lets the frames in flight reach the wire before the channel is reset", async () => {
    const r = await virtualRig({ bitrate: 1_000_000, adapter: { usbLatencyMs: 1 } });
    const got = recvN(r.node, 10);
    await r.clock.run(
      Promise.all(Array.from({ length: 10 }, (_, i) => r.bus.send(canFrame(0x200, [i])))),
    );
    expect(r.bus.inFlight).toBe(10); // all resolved, none echoed yet
    await r.clock.run(r.bus.close());
    expect((await r.clock.run(got)).map((f) => f.data[0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await r.close();
  });
});
