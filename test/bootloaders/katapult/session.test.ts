import { describe, expect, it } from "vitest";
import {
  Cmd,
  encodeAck,
  encodeConnectData,
  encodeFrame,
  FrameParser,
  PROTO_1_1_0,
  Resp,
  u32le,
} from "../../../src/bootloaders/katapult/codec.js";
import {
  KatapultCommandError,
  KatapultNoResponseError,
  KatapultWedgedError,
} from "../../../src/bootloaders/katapult/errors.js";
import {
  DEVICE_RX_BUFFER_BYTES,
  KatapultSession,
} from "../../../src/bootloaders/katapult/session.js";
import { MockTransport, type Responder } from "../../../src/transport/mock.js";
import { VirtualClock } from "../../../src/util/clock.js";
import { FreezingClock } from "../../fakes/freezing-clock.js";
import { AbortedError } from "../../../src/util/errors.js";

const CONNECT_ACK = encodeAck(
  Cmd.CONNECT,
  encodeConnectData({
    protocolVersion: PROTO_1_1_0,
    appStart: 0x08002000,
    blockSize: 64,
    mcu: "stm32g0b1xx",
    softwareVersion: "v1",
  }),
);
const cmdOf = (frame: Uint8Array) => new FrameParser(() => true).push(frame)[0]?.code;

function setup(responder: Responder) {
  const clock = new VirtualClock();
  const t = new MockTransport(clock, responder);
  const s = new KatapultSession(t, {
    timeouts: { replyMs: 100, connectMs: 50, sendBlockMs: 200, busyBackoffMs: 1500 },
  });
  return { clock, t, s };
}

describe("KatapultSession", () => {
  it("connects, retrying when the first CONNECT goes unanswered", async () => {
    const { clock, t, s } = setup((w, i) =>
      i === 0 ? undefined : { reply: CONNECT_ACK, delayMs: 1 },
    );
    const info = await clock.run(s.connect());
    expect(info).toMatchObject({ appStart: 0x08002000, blockSize: 64, mcu: "stm32g0b1xx" });
    expect(t.written).toHaveLength(2);
    expect(s.retries).toBe(1);
  });

  it("skips stale replies: an old block's ACK, a reply for another command", async () => {
    const { clock, s } = setup((w) => {
      if (cmdOf(w) !== Cmd.SEND_BLOCK) return undefined;
      const stale = encodeAck(Cmd.SEND_BLOCK, u32le(0x08001fc0));
      const other = encodeAck(Cmd.REQUEST_BLOCK, new Uint8Array(68));
      return {
        reply: Uint8Array.from([
          ...stale,
          ...other,
          ...encodeAck(Cmd.SEND_BLOCK, u32le(0x08002000)),
        ]),
      };
    });
    expect(await clock.run(s.sendBlock(0x08002000, new Uint8Array(64)))).toEqual({
      result: "written",
      attempts: 1,
    });
    expect(s.retries).toBe(0);
  });

  it("skips the COMMAND_ERROR that answers the USB prime frame", async () => {
    const { clock, t, s } = setup((w) => {
      if (cmdOf(w) === 0x90) return undefined; // a USBFS device holds this reply back…
      return { reply: Uint8Array.from([...encodeFrame(Resp.COMMAND_ERROR), ...CONNECT_ACK]) }; // …until the next one
    });
    await clock.run(s.prime());
    await clock.run(s.connect());
    expect(t.written.map(cmdOf)).toEqual([0x90, Cmd.CONNECT]);
  });

  it("reports COMMAND_ERROR as a refusal for SEND_BLOCK and as an error elsewhere", async () => {
    const { clock, s } = setup(() => ({ reply: encodeFrame(Resp.COMMAND_ERROR) }));
    expect(await clock.run(s.sendBlock(0x08002000, new Uint8Array(64)))).toEqual({
      result: "refused",
      attempts: 1,
    });
    await expect(clock.run(s.getCanbusId())).rejects.toBeInstanceOf(KatapultCommandError);
  });

  it("a NACK followed by silence is a wedged bootloader", async () => {
    const { clock, t, s } = setup((w, i) =>
      i === 0 ? { reply: encodeFrame(Resp.NACK) } : undefined,
    );
    const e = await clock.run(s.sendEof()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(KatapultWedgedError);
    expect((e as Error).message).toMatch(/rejected a frame \(NACK\) and has not answered since/);
    expect(t.written).toHaveLength(5);
  });

  it("silence is no response, naming tries and the per-try deadline", async () => {
    const { clock, s } = setup(() => undefined);
    const t0 = clock.now();
    const e = await clock.run(s.requestBlock(0x08002000, 64)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(KatapultNoResponseError);
    expect(e).toMatchObject({ tries: 5, timeoutMs: 100 });
    expect(clock.now() - t0).toBe(500);
  });

  it("a host that keeps stopping still gives up: its lost time moves the give-up by at most the budget (never a hang)", async () => {
    // The process runs 10 ms, then stops 90 ms, over and over; the device never answers.
    const clock = new FreezingClock();
    let stopped = false;
    const stall = (): void => {
      if (stopped) return;
      clock.freeze(90);
      clock.schedule(100, stall);
    };
    clock.schedule(10, stall);
    const t = new MockTransport(clock, () => undefined);
    const s = new KatapultSession(t, { timeouts: { replyMs: 100, tries: 5 } });
    const t0 = clock.now();
    const e = await clock.virtual.run(s.requestBlock(0x08002000, 64)).catch((x: unknown) => x);
    stopped = true;
    expect(e).toBeInstanceOf(KatapultNoResponseError);
    const took = clock.now() - t0;
    expect(took).toBeGreaterThan(500); // the stopped time was not counted as the device's…
    expect(took).toBeLessThanOrEqual(2 * 500 + 100); // …but only up to the budget again
  });

  it("a host that stopped right after writing waits for the device as long as if it had not stopped", async () => {
    // Ten quick CONNECTs teach a short resend deadline (4 ms). Then the host stops 150 ms right
    // after writing; the device's answer (delayed like the host's frames) comes 2 ms after the
    // host runs again. Counted as the device's time, the stop would have expired the deadline.
    const clock = new FreezingClock();
    let n = 0;
    const t = new MockTransport(clock, () => {
      if (++n === 11) {
        clock.freeze(150);
        return { reply: CONNECT_ACK, delayMs: 152 };
      }
      return { reply: CONNECT_ACK, delayMs: 1 };
    });
    const s = new KatapultSession(t, { timeouts: { connectMs: 1000 } });
    for (let i = 0; i < 11; i++) await clock.virtual.run(s.connect());
    expect(t.written).toHaveLength(11);
    expect(s.retries).toBe(0);
  });

  it("backs off after BUSY, then retries", async () => {
    const { clock, t, s } = setup((w, i) => ({
      reply: i === 0 ? encodeFrame(Resp.BUSY) : encodeAck(Cmd.COMPLETE),
    }));
    const t0 = clock.now();
    await clock.run(s.complete());
    expect(t.written).toHaveLength(2);
    expect(clock.now() - t0).toBeGreaterThanOrEqual(1500);
  });

  it("aborts while waiting for a reply", async () => {
    const clock = new VirtualClock();
    const ac = new AbortController();
    const t = new MockTransport(clock, () => {
      clock.schedule(10, () => ac.abort());
      return undefined;
    });
    const s = new KatapultSession(t, { signal: ac.signal });
    await expect(clock.run(s.connect())).rejects.toBeInstanceOf(AbortedError);
  });

  it("on a byte stream (UART), a device that stops reading gets no more unanswered copies than its 192-byte receive buffer holds", async () => {
    // Ten blocks answered in 2 ms teach the session a short resend deadline; then the device
    // stalls for 3 s (a loaded host, an erase nobody foresaw) with its input unread, and
    // answers every copy afterwards.
    const clock = new VirtualClock();
    let stalled = false;
    const t = new MockTransport(clock, (w) => {
      if (cmdOf(w) !== Cmd.SEND_BLOCK) return undefined;
      const reply = encodeAck(Cmd.SEND_BLOCK, w.subarray(4, 8));
      return { reply, delayMs: stalled ? 3000 : 2 };
    });
    const s = new KatapultSession(t, {
      timeouts: { sendBlockMs: 5000 },
      rxBufferBytes: DEVICE_RX_BUFFER_BYTES,
    });
    const block = (n: number) => s.sendBlock(0x08002000 + 64 * n, new Uint8Array(64).fill(n), 0);
    let inStall = 0;
    await clock.run(
      (async () => {
        for (let n = 0; n < 10; n++) await block(n);
        stalled = true;
        const before = t.written.length;
        clock.schedule(2900, () => (inStall = t.written.length - before));
        const r = await block(10);
        expect(r.result).toBe("written");
      })(),
    );
    const frame = t.written.at(-1)!.length;
    expect(frame).toBe(76);
    // The block and one quick copy (2 × 76 B fit the buffer; a third would overflow it).
    expect(inStall).toBe(Math.floor(DEVICE_RX_BUFFER_BYTES / frame));
    expect(s.retries).toBe(1);
  });
});
