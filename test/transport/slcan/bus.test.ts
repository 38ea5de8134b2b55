// SlcanBus against the slcan adapter model: the opening handshake, frames
// both ways, flow control at the adapter's queue, status flags, and every
// way frames can be lost at the adapter reported as a typed error.
import { afterEach, describe, expect, it } from "vitest";
import { CanSendTimeoutError } from "../../../src/can/errors.js";
import { canFrame, formatFrame, type CanFrame } from "../../../src/can/frame.js";
import { VirtualCanChannel } from "../../../src/can/virtual.js";
import { openCanBus } from "../../../src/flasher/buses.js";
import { MockTransport } from "../../../src/transport/mock.js";
import { openSlcan } from "../../../src/transport/slcan/backend.js";
import {
  SlcanFrameLostError,
  SlcanNoAnswerError,
  SlcanRefusedError,
  SlcanRxOverrunError,
} from "../../../src/transport/slcan/errors.js";
import { realClock } from "../../../src/util/clock.js";
import { openPty, type Pty } from "../../fakes/pty.js";
import { slcanInProcess, slcanOnPty, type SlcanOnPty } from "../../fakes/slcan.js";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function recvN(bus: { recv(t?: number): Promise<CanFrame | undefined> }, n: number) {
  const out: string[] = [];
  while (out.length < n) {
    const f = await bus.recv(3000);
    if (!f) throw new Error(`got ${out.length} of ${n} frames: ${out.join(" ")}`);
    out.push(formatFrame(f));
  }
  return out;
}

describe("slcan on a pty (the real serial path)", () => {
  let dev: SlcanOnPty | undefined;
  afterEach(async () => {
    await dev?.close();
    dev = undefined;
  });

  it("opens by name, sets the bitrate, and carries frames both ways", async () => {
    const channel = VirtualCanChannel.anonymous({ bitrate: 1_000_000 });
    dev = await slcanOnPty(channel);
    const node = channel.open({ label: "node" });
    const bus = await openCanBus(dev.iface);
    expect(bus.info).toEqual({ backend: "slcan", simulated: false, bitrate: 1_000_000 });
    expect(bus.state).toBe("error-active");
    expect(dev.adapter.configuredBitrate).toBe(1_000_000);
    expect(dev.adapter.isOpen).toBe(true);
    await bus.send(canFrame(0x3f0, [0, 1]));
    await bus.send(canFrame(0x1234567, [9], { extended: true }));
    expect(await recvN(node, 2)).toEqual(["3F0#0001", "01234567#09"]);
    await node.send(canFrame(0x3f1, [1, 2, 3]));
    await node.send(canFrame(0x101, [], { rtr: true, dlc: 4 }));
    expect(await recvN(bus, 2)).toEqual(["3F1#010203", "101#R4"]);
    await bus.close();
    expect(dev.adapter.isOpen).toBe(false);
    await node.close();
  });

  it("nothing answering on the port is SlcanNoAnswerError, and the port is released", async () => {
    const pty: Pty = await openPty();
    cleanups.push(() => pty.close());
    const err = await openCanBus(`slcan:${pty.path}`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SlcanNoAnswerError);
    expect(String(err)).toMatch(/did not answer the slcan version command.*115200 baud/);
  });
});

describe("slcan bus over the adapter model (in process)", () => {
  it("CANable's dialect: bare CR answers, no F/N/Z", async () => {
    const channel = VirtualCanChannel.anonymous({ bitrate: 500_000 });
    const node = channel.open();
    const { bus, adapter } = await slcanInProcess(
      channel,
      { dialect: "canable" },
      { suffix: ",bitrate=500000" },
    );
    expect(bus.adapter).toEqual({
      version: "4c6e4ac sim/canable-fw",
      serial: undefined,
      statusFlags: false,
    });
    expect(adapter.configuredBitrate).toBe(500_000);
    for (let i = 0; i < 50; i++) await bus.send(canFrame(0x100, [i]));
    expect((await recvN(node, 50)).at(-1)).toBe("100#31");
    await bus.close();
    await node.close();
    await adapter.stop();
  });

  it("an adapter that refuses the bitrate command: SlcanRefusedError naming it", async () => {
    const channel = VirtualCanChannel.anonymous();
    const err = await slcanInProcess(
      channel,
      { dialect: "canable" },
      { suffix: ",btr=001C" },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SlcanRefusedError);
    expect(err).toMatchObject({ command: "s001C" });
  });

  it("a burst larger than the adapter's queue: refused frames are resent in order, none lost", async () => {
    // 10 kbit/s: a frame takes ~10 ms on the wire, the host writes far faster.
    const channel = VirtualCanChannel.anonymous({ bitrate: 10_000 });
    const node = channel.open();
    const { bus, adapter } = await slcanInProcess(
      channel,
      { txQueueLength: 2 },
      { suffix: ",bitrate=10000", window: 1 },
    );
    const N = 20;
    await Promise.all(Array.from({ length: N }, (_, i) => bus.send(canFrame(0x200, [i]))));
    const got = await recvN(node, N);
    expect(got).toEqual(Array.from({ length: N }, (_, i) => formatFrame(canFrame(0x200, [i]))));
    expect(adapter.stats.refused).toBeGreaterThan(0);
    await bus.close();
    await node.close();
    await adapter.stop();
  });

  it("at another bitrate than the bus: the queue fills, sends fail with CanSendTimeoutError, the state says error-passive", async () => {
    const channel = VirtualCanChannel.anonymous({ bitrate: 500_000 });
    const { bus, adapter } = await slcanInProcess(
      channel,
      { txQueueLength: 3 },
      { sendBusyTimeoutMs: 100, statusPollMs: 20 },
    );
    const errors = bus.subscribe({ errors: true });
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) => bus.send(canFrame(0x100, [i]))),
    );
    expect(results.slice(0, 3).map((r) => r.status)).toEqual([
      "fulfilled",
      "fulfilled",
      "fulfilled",
    ]);
    for (const r of results.slice(3)) {
      expect(r.status).toBe("rejected");
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(CanSendTimeoutError);
    }
    expect(bus.state).toBe("error-passive");
    const ef = await errors.recv(100);
    expect(ef?.error).toBe(true);
    await bus.close();
    await adapter.stop();
  });

  it("a slow uplink overruns the adapter's receive FIFO: readers get SlcanRxOverrunError, then keep reading", async () => {
    const channel = VirtualCanChannel.anonymous({ bitrate: 1_000_000 });
    const node = channel.open({ txQueueLength: 1000 });
    const { bus, adapter } = await slcanInProcess(
      channel,
      { uplinkBytesPerSec: 2000, rxFifoLength: 4 },
      { statusPollMs: 20 },
    );
    for (let i = 0; i < 40; i++) await node.send(canFrame(0x300, [i, 0, 0, 0, 0, 0, 0, 0]));
    let overrun: unknown;
    for (let i = 0; i < 60 && !overrun; i++) {
      await bus.recv(200).catch((e: unknown) => (overrun = e));
    }
    expect(overrun).toBeInstanceOf(SlcanRxOverrunError);
    expect(adapter.stats.overruns).toBeGreaterThan(0);
    // Not fatal: the reader goes on once the backlog has drained.
    while (await bus.recv(300));
    await node.send(canFrame(0x301, [1]));
    expect(formatFrame((await bus.recv(1000))!)).toBe("301#01");
    await bus.close();
    await node.close();
    await adapter.stop();
  });
});

describe("slcan flow control (scripted adapter)", () => {
  /** An adapter that answers the handshake, then frames as `frameAnswers` says, in turn. */
  function scripted(frameAnswers: string[]) {
    let i = 0;
    return new MockTransport(realClock, (w) => {
      const text = new TextDecoder().decode(w);
      if (text === "\r\r\r") return { reply: new TextEncoder().encode("\r\r\r") };
      const cmd = text.slice(0, -1);
      let reply = "\r";
      if (cmd === "C") reply = "\x07";
      else if (cmd === "V") reply = "V1013\r";
      else if (cmd === "N") reply = "NX\r";
      else if (cmd === "F") reply = "F02\r";
      else if (/^[tT]/.test(cmd)) reply = frameAnswers[i++] ?? "z\r";
      return { reply: new TextEncoder().encode(reply), delayMs: 1 };
    });
  }

  it("a refused frame after which a later one was accepted is reported lost, never resent out of order", async () => {
    const t = scripted(["z\r", "\x07", "z\r"]);
    const bus = await openSlcan("slcan:/dev/x", {
      openPort: () => Promise.resolve(t),
      window: 3,
      statusPollMs: 0,
    });
    const r = await Promise.allSettled([0, 1, 2].map((i) => bus.send(canFrame(0x10, [i]))));
    expect(r.map((x) => x.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    const e = (r[1] as PromiseRejectedResult).reason as SlcanFrameLostError;
    expect(e).toBeInstanceOf(SlcanFrameLostError);
    expect(e).toMatchObject({ frameText: "010#01", flags: ["tx-fifo-full"] });
    const sent = t.written.map((w) => new TextDecoder().decode(w)).filter((w) => w.startsWith("t"));
    expect(sent).toEqual(["t010100\r", "t010101\r", "t010102\r"]);
    await bus.close();
  });

  it("refused frames with nothing accepted after them go out again, in order", async () => {
    const t = scripted(["z\r", "\x07", "\x07"]);
    const bus = await openSlcan("slcan:/dev/x", {
      openPort: () => Promise.resolve(t),
      window: 3,
      statusPollMs: 0,
    });
    await Promise.all([0, 1, 2].map((i) => bus.send(canFrame(0x10, [i]))));
    const sent = t.written.map((w) => new TextDecoder().decode(w)).filter((w) => w.startsWith("t"));
    expect(sent).toEqual(["t010100\r", "t010101\r", "t010102\r", "t010101\r", "t010102\r"]);
    await bus.close();
  });
});
