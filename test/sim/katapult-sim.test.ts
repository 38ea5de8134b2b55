// The simulated Katapult node behaves like the firmware: these tests pin the
// behaviours the host must respect (katapult.md §3, §5, §7).
import { describe, expect, it } from "vitest";
import {
  Cmd,
  connectFrame,
  decodeResponse,
  encodeFrame,
  FrameParser,
  requestBlockFrame,
  sendBlockFrame,
  u32le,
} from "../../src/bootloaders/katapult/codec.js";
import { assignKatapultNodeId, queryNodes } from "../../src/entry/can-admin.js";
import { parseUuid } from "../../src/klippy-bridge/uuid.js";
import { CanNodeStream } from "../../src/transport/can-node-stream.js";
import { nodeCanIds } from "../../src/klippy-bridge/admin.js";
import { randomBytes } from "../../src/util/random.js";
import { simBus } from "../fakes/sim-bus.js";

const UUID = parseUuid("0011aabbccdd");
const APP = 0x08002000;

async function rawNode(
  options: Parameters<ReturnType<typeof simBus>["add"]>[0] = { uuid: UUID, boot: "katapult" },
) {
  const sim = simBus({ bitrate: 1_000_000 });
  const node = sim.add(options);
  await sim.run(assignKatapultNodeId(sim.host, UUID, 128));
  const stream = new CanNodeStream(sim.host, nodeCanIds(128));
  const parser = new FrameParser(() => true);
  /** Writes bytes, waits `ms`, returns the replies that arrived. */
  const exchange = async (bytes: Uint8Array, ms = 50) => {
    await sim.run(stream.write(bytes));
    await sim.clock.advance(ms);
    return parser.push(await stream.read(0)).map(decodeResponse);
  };
  return { sim, node, stream, exchange };
}

describe("simulated Katapult node", () => {
  it("answers CONNECT only once a node id is assigned", async () => {
    const sim = simBus({ bitrate: 1_000_000 });
    sim.add({ uuid: UUID, boot: "katapult" });
    const stream = new CanNodeStream(sim.host, nodeCanIds(128));
    await sim.run(stream.write(connectFrame()));
    await sim.clock.advance(20);
    expect((await stream.read(0)).length).toBe(0);
    await sim.run(assignKatapultNodeId(sim.host, UUID, 128));
    await sim.run(stream.write(connectFrame()));
    await sim.clock.advance(20);
    expect(decodeResponse(new FrameParser().push(await stream.read(0))[0]!).kind).toBe("ack");
    await stream.close();
    await sim.close();
  });

  it("refuses a wrong argument count and an address below the application start", async () => {
    const { sim, exchange } = await rawNode();
    expect(await exchange(encodeFrame(Cmd.SEND_BLOCK, new Uint8Array(4 + 32)))).toEqual([
      { kind: "error" },
    ]);
    expect(await exchange(sendBlockFrame(APP - 64, new Uint8Array(64)))).toEqual([
      { kind: "error" },
    ]);
    expect(await exchange(encodeFrame(0x42))).toEqual([{ kind: "error" }]);
    await sim.close();
  });

  it("NACKs garbage that does not start with 0x01 and then parses the next frame", async () => {
    const { sim, node, exchange } = await rawNode();
    const r = await exchange(Uint8Array.from([0x55, 0x66, ...connectFrame()]));
    expect(r.map((x) => x.kind)).toEqual(["nack", "ack"]);
    expect(node.state.wedged).toBe(false);
    await sim.close();
  });

  it("wedges on a bad frame that starts with 0x01 (bad CRC, oversize, stray 01): one NACK, then silence until reset", async () => {
    for (const bad of [
      (() => {
        const f = connectFrame();
        f[4]! ^= 1;
        return f;
      })(),
      Uint8Array.from([0x01, 0x88, 0x12, 31, ...new Array(124 + 4).fill(0)]).subarray(0, 96), // N=31: a 132-byte frame
      Uint8Array.from([0x01]),
    ]) {
      const { sim, node, exchange } = await rawNode();
      const first = await exchange(Uint8Array.from([...bad, ...connectFrame()]));
      expect(first.map((x) => x.kind)).toEqual(["nack"]);
      expect(await exchange(connectFrame())).toEqual([]);
      expect(node.state.wedged).toBe(true);
      node.doubleReset();
      await sim.run(assignKatapultNodeId(sim.host, UUID, 128));
      expect((await exchange(connectFrame())).map((x) => x.kind)).toEqual(["ack"]);
      await sim.close();
    }
  });

  it("drops CAN frames that overflow its 192-byte receive buffer (three SEND_BLOCKs back to back)", async () => {
    // Slow programming (5 ms per block): while block 1 is written (its frame still in the
    // buffer, interrupts running), blocks 2 and 3 arrive: 3 × 76 = 228 bytes > 192.
    const { sim, node, stream } = await rawNode({
      uuid: UUID,
      boot: "katapult",
      flash: { timing: { eraseMs: () => 20, writeBlockMs: 5 } },
    });
    const frames = [0, 1, 2].map((i) => sendBlockFrame(APP + 64 * i, randomBytes(64, i)));
    await sim.run(Promise.all(frames.map((f) => stream.write(f))));
    await sim.clock.advance(50);
    expect(node.events.some((e) => e.type === "overrun" && e.where === "rx-buffer")).toBe(true);
    expect(node.events.some((e) => e.type === "overrun" && e.where === "hw-fifo")).toBe(false);
    await sim.close();
  });

  it("loses frames in its 3-entry hardware FIFO while a page erase stalls the CPU", async () => {
    const old = new Uint8Array(128 * 1024).fill(0x00); // previous firmware: every page needs an erase
    const { sim, node, stream } = await rawNode({
      uuid: UUID,
      boot: "katapult",
      flash: { initial: old },
    });
    // Pipelining a second block behind one that erases: its 10 frames arrive during the 20 ms stall.
    await sim.run(
      Promise.all([
        stream.write(sendBlockFrame(APP, randomBytes(64, 1))),
        stream.write(sendBlockFrame(APP + 64, randomBytes(64, 2))),
      ]),
    );
    await sim.clock.advance(100);
    expect(
      node.events.filter((e) => e.type === "overrun" && e.where === "hw-fifo").length,
    ).toBeGreaterThan(0);
    await sim.close();
  });

  it("drops a whole reply that does not fit its 96-byte transmit buffer (two REQUEST_BLOCK replies pending)", async () => {
    const { sim, node, exchange } = await rawNode();
    const replies = await exchange(
      Uint8Array.from([...requestBlockFrame(APP), ...requestBlockFrame(APP + 64)]),
    );
    expect(replies).toHaveLength(1);
    expect(node.events.some((e) => e.type === "overrun" && e.where === "tx-buffer")).toBe(true);
    await sim.close();
  });

  it("erases a page at its first block, accepts an identical resend, refuses an out-of-order write", async () => {
    const old = new Uint8Array(128 * 1024).fill(0x12);
    const { sim, node, exchange } = await rawNode({
      uuid: UUID,
      boot: "katapult",
      flash: { initial: old },
    });
    const b0 = randomBytes(64, 7);
    expect((await exchange(sendBlockFrame(APP, b0))).map((r) => r.kind)).toEqual(["ack"]);
    expect(node.flash.erases).toBe(1);
    expect((await exchange(sendBlockFrame(APP, b0))).map((r) => r.kind)).toEqual(["ack"]); // retransmit
    expect(node.flash.erases).toBe(1);
    // Next page's second block before its first: not erased, different data → refused.
    expect((await exchange(sendBlockFrame(APP + 2048 + 64, b0))).map((r) => r.kind)).toEqual([
      "error",
    ]);
    await sim.close();
  });

  it("starts the application ~100 ms after COMPLETE and answers as Klipper", async () => {
    const { sim, node, exchange } = await rawNode();
    const img = randomBytes(64, 3);
    img.set([0, 0x80, 0, 0x20]);
    await exchange(sendBlockFrame(APP, img));
    expect((await exchange(encodeFrame(Cmd.COMPLETE), 50)).map((r) => r.kind)).toEqual(["ack"]);
    expect(node.state.mode).toBe("katapult");
    await sim.clock.advance(60);
    expect(node.state.mode).toBe("klipper");
    expect(await sim.run(queryNodes(sim.host))).toEqual([
      { uuid: UUID, app: "klipper", appByte: 1 },
    ]);
    await sim.close();
  });

  it("answers REQUEST_BLOCK without an address word by faulting (reads the CRC as an address)", async () => {
    const { sim, node, exchange } = await rawNode();
    expect(await exchange(encodeFrame(Cmd.REQUEST_BLOCK))).toEqual([]);
    expect(node.events.some((e) => e.type === "fault")).toBe(true);
    expect(u32le(0).length).toBe(4);
    await sim.close();
  });
});
