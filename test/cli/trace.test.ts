// --trace-file: every CAN frame sent and received, with timestamps.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { canFrame, parseFrame } from "../../src/can/frame.js";
import { TracedBus } from "../../src/can/trace.js";
import { VirtualCanChannel } from "../../src/can/virtual.js";
import { TracedTransport } from "../../src/transport/trace.js";
import { MockTransport } from "../../src/transport/mock.js";
import { VirtualClock } from "../../src/util/clock.js";
import { canflash, appImage } from "./helpers.js";

describe("--trace-file", () => {
  it("records the admin frames and the node's byte stream of a flash, both directions, in candump form", async () => {
    const dir = mkdtempSync(join(tmpdir(), "canflash-trace-"));
    const fw = join(dir, "k.bin");
    writeFileSync(fw, await appImage(1024, 71));
    const trace = join(dir, "trace.log");
    const r = await canflash(["-i", "sim", "-u", "8266c4636429", "--trace-file", trace, fw]);
    expect(r.code).toBe(0);
    const lines = readFileSync(trace, "utf8").trim().split("\n");
    for (const l of lines) expect(l).toMatch(/^\(\d+\.\d{6}\) \S+ (TX|RX) [0-9A-F]{3}#[0-9A-F]*$/);
    const frames = lines.map((l) => ({
      dir: l.split(" ")[2],
      frame: parseFrame(l.split(" ")[3]!),
    }));
    expect(frames[0]).toMatchObject({ dir: "TX", frame: { id: 0x3f0 } }); // CLEAR
    expect(
      frames.some((f) => f.dir === "TX" && f.frame.id === 0x200 && f.frame.data[2] === 0x11),
    ).toBe(true); // CONNECT to node 128
    expect(frames.filter((f) => f.dir === "RX" && f.frame.id === 0x201).length).toBeGreaterThan(
      16 * 2,
    );
    const stamps = lines.map((l) => Number(l.slice(1, l.indexOf(")"))));
    expect([...stamps].sort((a, b) => a - b)).toEqual(stamps);
  });

  it("traces serial bytes written and read", async () => {
    const clock = new VirtualClock();
    const lines: string[] = [];
    const t = new TracedTransport(
      new MockTransport(clock, () => ({ reply: Uint8Array.of(0x14, 0x10) }), "/dev/ttyUSB0"),
      (l) => lines.push(l),
    );
    await t.write(Uint8Array.of(0x30, 0x20));
    await clock.run(t.read(10));
    expect(lines[0]).toMatch(/^\(\d+\.\d{6}\) \/dev\/ttyUSB0 TX 30 20$/);
    expect(lines[1]).toMatch(/^\(\d+\.\d{6}\) \/dev\/ttyUSB0 RX 14 10$/);
  });

  it("a received frame is stamped as it arrives, before the answer a reader sends to it", async () => {
    const channel = VirtualCanChannel.anonymous({});
    const peer = channel.open();
    const lines: string[] = [];
    const host = new TracedBus(channel.open({ label: "host" }), (l) => lines.push(l));
    // The reader that answers subscribes after the trace, as a session does.
    const reader = host.subscribe();
    const answered = (async () => {
      for (let i = 0; i < 3; i++) {
        const f = await reader.recv(1000);
        await host.send(canFrame(0x200, [f!.data[0]!]));
      }
    })();
    // A burst: all three arrive before the reader runs.
    for (let i = 0; i < 3; i++) await peer.send(canFrame(0x201, [i]));
    await answered;
    reader.close();
    await host.close();
    await peer.close();
    expect(lines.map((l) => l.split(" ").slice(2).join(" "))).toEqual([
      "RX 201#00",
      "RX 201#01",
      "RX 201#02",
      "TX 200#00",
      "TX 200#01",
      "TX 200#02",
    ]);
  });
});
