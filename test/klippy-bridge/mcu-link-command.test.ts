// KlipperLink.command(): a command without a response is done at the MCU's
// ACK; a NAK (the MCU expects another sequence number) is adopted and the
// block resent; silence is a typed timeout. post() sends and moves on.
import { describe, expect, it } from "vitest";
import { KlipperLink, McuTimeoutError } from "../../src/klippy-bridge/mcu-link.js";
import { BlockReader, encodeBlock } from "../../src/klippy-bridge/msgproto.js";
import { MockTransport } from "../../src/transport/mock.js";
import { VirtualClock } from "../../src/util/clock.js";

const CMD = Uint8Array.of(0x07);
const opts = (clock: VirtualClock) => ({
  deadline: clock.now() + 2000,
  timeoutMs: 2000,
  what: "ack",
});

/** An MCU that expects `expected` and ACKs (or NAKs) like Klipper's command.c. */
function mcu(clock: VirtualClock, expected: number) {
  const seen: number[] = [];
  const reader = new BlockReader();
  const t = new MockTransport(clock, (w) => {
    const out: number[] = [];
    for (const b of reader.push(w)) {
      seen.push(b.seq);
      if (b.seq === expected) expected = (expected + 1) & 0x0f;
      out.push(...encodeBlock(expected, new Uint8Array()));
    }
    return { reply: Uint8Array.from(out), delayMs: 1 };
  });
  return { t, seen };
}

describe("KlipperLink.command", () => {
  it("resolves on the ACK and sends the next block with the next sequence number", async () => {
    const clock = new VirtualClock();
    const m = mcu(clock, 0);
    const link = new KlipperLink(m.t);
    await clock.run(link.command(CMD, opts(clock)));
    await clock.run(link.command(CMD, opts(clock)));
    expect(m.seen).toEqual([0, 1]);
  });

  it("adopts the sequence number a NAK names and resends", async () => {
    const clock = new VirtualClock();
    const m = mcu(clock, 9);
    const link = new KlipperLink(m.t);
    await clock.run(link.command(CMD, opts(clock)));
    expect(m.seen).toEqual([0, 9]);
    await clock.run(link.post(CMD));
    expect(m.seen).toEqual([0, 9, 10]);
  });

  it("times out with McuTimeoutError when nothing answers", async () => {
    const clock = new VirtualClock();
    const link = new KlipperLink(new MockTransport(clock, () => undefined, "silent"));
    await expect(clock.run(link.command(CMD, opts(clock)))).rejects.toThrow(McuTimeoutError);
  });
});
