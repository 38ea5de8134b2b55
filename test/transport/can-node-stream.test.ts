import { describe, expect, it } from "vitest";
import { formatFrame } from "../../src/can/frame.js";
import { VirtualCanChannel } from "../../src/can/virtual.js";
import { CanNodeStream } from "../../src/transport/can-node-stream.js";
import { nodeCanIds } from "../../src/klippy-bridge/admin.js";
import { VirtualClock } from "../../src/util/clock.js";
import { canFrame } from "../../src/can/frame.js";

describe("CanNodeStream", () => {
  it("cuts writes into 8-byte frames on 0x100+2n, never interleaving concurrent writes", async () => {
    const clock = new VirtualClock();
    const ch = VirtualCanChannel.anonymous({ clock, bitrate: 1_000_000 });
    const host = ch.open();
    const dev = ch.open();
    const s = new CanNodeStream(host, nodeCanIds(129));
    const a = Uint8Array.from({ length: 20 }, (_, i) => i);
    const b = Uint8Array.from({ length: 9 }, (_, i) => 0xa0 + i);
    await clock.run(Promise.all([s.write(a), s.write(b)]));
    await clock.advance(5);
    const got: string[] = [];
    for (let f = await dev.recv(0); f; f = await dev.recv(0)) got.push(formatFrame(f));
    expect(got).toEqual([
      "202#0001020304050607",
      "202#08090A0B0C0D0E0F",
      "202#10111213",
      "202#A0A1A2A3A4A5A6A7",
      "202#A8",
    ]);
    await s.close();
    await clock.run(Promise.all([host.close(), dev.close()]));
  });

  it("reads the data of frames on 0x101+2n only, concatenated; empty after the deadline", async () => {
    const clock = new VirtualClock();
    const ch = VirtualCanChannel.anonymous({ clock });
    const host = ch.open();
    const dev = ch.open();
    const s = new CanNodeStream(host, nodeCanIds(129));
    await clock.run(
      Promise.all([
        dev.send(canFrame(0x203, [1, 2])),
        dev.send(canFrame(0x205, [9])),
        dev.send(canFrame(0x203, [3])),
      ]),
    );
    await clock.advance(1);
    expect([...(await clock.run(s.read(10)))]).toEqual([1, 2, 3]);
    expect((await clock.run(s.read(10))).length).toBe(0);
    await clock.run(dev.send(canFrame(0x203, [4])));
    s.discardInput();
    expect((await clock.run(s.read(0))).length).toBe(0);
    await s.close();
    await clock.run(Promise.all([host.close(), dev.close()]));
  });
});
