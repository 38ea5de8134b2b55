// The simulated Katapult CAN node against the firmware's traps (katapult.md
// §5, §7; canserial.c): each test is what the real board does with a client
// behaviour, on both kinds of bus the sim meets — a channel that models wire
// time (the in-process tests, `-i sim`) and one that sends at once as
// SocketCAN/vcan does (`canflash sim -i vcan0`), where the node paces its
// own three mailboxes at the bit rate.
import { describe, expect, it } from "vitest";
import {
  connectFrame,
  decodeResponse,
  FrameParser,
  getCanbusIdFrame,
  PRIME_FRAME,
  requestBlockFrame,
  sendBlockFrame,
  sendEofFrame,
} from "../../src/bootloaders/katapult/codec.js";
import { frameWireTimeMs } from "../../src/can/bittime.js";
import type { CanBus } from "../../src/can/bus.js";
import type { CanFrame } from "../../src/can/frame.js";
import { VirtualCanChannel } from "../../src/can/virtual.js";
import { assignKatapultNodeId, clearKatapultNodeIds } from "../../src/entry/can-admin.js";
import { nodeCanIds } from "../../src/klippy-bridge/admin.js";
import { parseUuid } from "../../src/klippy-bridge/uuid.js";
import { SimCanDevice, type SimCanDeviceOptions } from "../../src/sim/device.js";
import { CanNodeStream } from "../../src/transport/can-node-stream.js";
import { VirtualClock, type Clock } from "../../src/util/clock.js";
import { randomBytes } from "../../src/util/random.js";

const UUID = parseUuid("0011aabbccdd");
const APP = 0x08002000;
const BUSES = [
  { name: "bus-time channel", bitrate: 1_000_000 as number | undefined },
  { name: "instant channel (as SocketCAN)", bitrate: undefined },
];

async function rawNode(
  bitrate: number | undefined,
  options: Partial<SimCanDeviceOptions> = {},
): Promise<{
  clock: VirtualClock;
  host: CanBus;
  node: SimCanDevice;
  stream: CanNodeStream;
  /** Every reply frame the host received, with its arrival time. */
  arrivals: Array<{ at: number; frame: CanFrame }>;
  send(bytes: Uint8Array): Promise<void>;
  /** Back to back, each in its own CAN frames (as a client writing one command after another). */
  sendEach(frames: Uint8Array[]): Promise<void>;
  replies(ms?: number): Promise<string[]>;
  close(): Promise<void>;
}> {
  const clock = new VirtualClock();
  const channel = VirtualCanChannel.anonymous({ clock, ...(bitrate ? { bitrate } : {}) });
  const host = channel.open({ label: "host" });
  const node = new SimCanDevice(channel.open({ label: "node", txQueueLength: 3 }), {
    uuid: UUID,
    boot: "katapult",
    ...options,
  });
  node.start();
  await clock.run(assignKatapultNodeId(host, UUID, 128));
  await clock.advance(1);
  const stream = new CanNodeStream(host, nodeCanIds(128));
  const arrivals: Array<{ at: number; frame: CanFrame }> = [];
  const tap = host.subscribe({ filters: [{ id: 0x201, mask: 0x7ff }] });
  void (async () => {
    for await (const frame of tap) arrivals.push({ at: clock.now(), frame });
  })();
  const parser = new FrameParser(() => true);
  return {
    clock,
    host,
    node,
    stream,
    arrivals,
    send: (bytes) => clock.run(stream.write(bytes)),
    sendEach: (frames) => clock.run(Promise.all(frames.map((f) => stream.write(f))).then(() => {})),
    async replies(ms = 50) {
      await clock.advance(ms);
      return parser.push(await stream.read(0)).map((f) => {
        const r = decodeResponse(f);
        return r.kind === "ack" ? `ack ${r.command.toString(16)}` : r.kind;
      });
    },
    async close() {
      tap.close();
      await stream.close();
      await clock.run(Promise.all([host.close(), node.close()]));
    },
  };
}

const overruns = (n: SimCanDevice, where: string) =>
  n.events.filter((e) => e.type === "overrun" && e.where === where).length;

describe.each(BUSES)("Katapult CAN traps on a $name", ({ bitrate }) => {
  it("two REQUEST_BLOCKs back to back: only the first is answered (the 96-byte transmit buffer holds one 80-byte reply)", async () => {
    for (const gapMs of [0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5]) {
      const n = await rawNode(bitrate);
      await n.send(requestBlockFrame(APP));
      if (gapMs) await n.clock.advance(gapMs);
      await n.send(requestBlockFrame(APP + 64));
      expect(await n.replies(), `gap ${gapMs} ms`).toEqual(["ack 14"]);
      expect(overruns(n.node, "tx-buffer")).toBe(1);
      await n.close();
    }
  });

  it("a reply leaves in 8-byte frames no faster than three mailboxes at the bit rate allow", async () => {
    const n = await rawNode(bitrate);
    await n.send(requestBlockFrame(APP));
    expect(await n.replies()).toEqual(["ack 14"]);
    const at = n.arrivals.map((a) => a.at);
    expect(at).toHaveLength(10);
    for (let i = 1; i < at.length; i++)
      expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(
        frameWireTimeMs(n.arrivals[i]!.frame, 1_000_000) - 1e-9,
      );
    await n.close();
  });

  it("two CONNECTs queued behind a SEND_BLOCK: the second reply is dropped (the ACK holds 2 of the 3 mailboxes, the first reply leaves 52 bytes: 52 + 60 > 96)", async () => {
    // Programming takes 5 ms: both CONNECTs are in the receive buffer when the block is done.
    const n = await rawNode(bitrate, { flash: { timing: { eraseMs: () => 20, writeBlockMs: 5 } } });
    await n.sendEach([sendBlockFrame(APP, randomBytes(64, 1)), connectFrame(), connectFrame()]);
    expect(await n.replies()).toEqual(["ack 12", "ack 11"]);
    expect(overruns(n.node, "tx-buffer")).toBe(1);
    await n.close();
  });

  it("garbage without 0x01 before CONNECT: one NACK, then CONNECT is answered", async () => {
    const n = await rawNode(bitrate);
    await n.send(Uint8Array.from([0x55, 0x66, 0x7e, ...connectFrame()]));
    expect(await n.replies()).toEqual(["nack", "ack 11"]);
    expect(n.node.state.wedged).toBe(false);
    await n.close();
  });

  it("garbage holding a 0x01 before CONNECT (a Klipper identify block): one NACK, then wedged until reset", async () => {
    const n = await rawNode(bitrate);
    const identify = Uint8Array.from([0x08, 0x10, 0x01, 0x00, 0x28, 0x5e, 0x9f, 0x7e]);
    await n.send(Uint8Array.from([...identify, ...connectFrame()]));
    expect(await n.replies()).toEqual(["nack"]);
    await n.send(connectFrame());
    expect(await n.replies()).toEqual([]);
    expect(n.node.state.wedged).toBe(true);
    await n.close();
  });

  it("a cut frame starting with 0x01 (an aborted session's half SEND_BLOCK) survives CLEAR and a new node id: CONNECTs go unanswered, one NACK once 76 bytes are in, then silence", async () => {
    const n = await rawNode(bitrate);
    const cut = sendBlockFrame(APP, randomBytes(64, 1)).subarray(0, 40);
    await n.send(cut);
    await n.clock.run(clearKatapultNodeIds(n.host));
    await n.clock.run(assignKatapultNodeId(n.host, UUID, 128));
    const got: string[][] = [];
    for (let i = 0; i < 6; i++) {
      await n.send(connectFrame());
      got.push(await n.replies(20));
    }
    // 40 + 8k bytes: the header asks for 76, so the 5th CONNECT completes the "frame" and breaks its trailer.
    expect(got).toEqual([[], [], [], [], ["nack"], []]);
    expect(n.node.state.wedged).toBe(true);
    await n.close();
  });

  it("three SEND_BLOCKs during a page erase: the erase stalls the CPU, the 3-frame FIFO overruns, the node answers the first and then wedges", async () => {
    for (const mcu of ["stm32f103xe", "stm32g0b1xx"]) {
      const n = await rawNode(bitrate, { mcu, flash: { initial: new Uint8Array(128 * 1024) } });
      const blocks = [0, 1, 2].map((i) => sendBlockFrame(APP + 64 * i, randomBytes(64, i)));
      await n.sendEach(blocks);
      expect(await n.replies(), mcu).toEqual(["ack 12"]);
      expect(overruns(n.node, "hw-fifo"), mcu).toBe(17); // 20 frames arrived during the stall, 3 kept
      for (let i = 0; i < 8; i++) await n.send(connectFrame());
      expect(await n.replies(), mcu).toEqual(["nack"]);
      expect(n.node.state.wedged, mcu).toBe(true);
      await n.close();
    }
  });

  it("RP2040 (Katapult runs from RAM; its flash erase leaves interrupts on): a resent block arriving during a sector erase waits in the receive buffer and is answered — no overrun, no wedge", async () => {
    const RP_BASE = 0x10000000;
    const RP_APP = RP_BASE + 0x4000;
    const size = 2 * 1024 * 1024;
    const n = await rawNode(bitrate, {
      mcu: "rp2040",
      flash: { base: RP_BASE, size, initial: new Uint8Array(size) },
      katapult: { appStart: RP_APP },
    });
    const second = sendBlockFrame(RP_APP + 256, randomBytes(64, 2));
    // The second block starts another page: the first page is flushed, its sector erased (45 ms).
    await n.sendEach([sendBlockFrame(RP_APP, randomBytes(64, 1)), second]);
    await n.clock.advance(10);
    expect(n.node.events.filter((e) => e.type === "write")).toHaveLength(2);
    await n.send(second); // a resend, 10 ms into the erase
    expect(await n.replies(100)).toEqual(["ack 12", "ack 12", "ack 12"]);
    expect(n.node.events.filter((e) => e.type === "overrun")).toEqual([]);
    expect(n.node.state.wedged).toBe(false);
    await n.close();
  });

  it("a full receive FIFO during an erase: bxCAN (F103) overwrites the last frame it kept, FDCAN (G0B1) drops the new one", async () => {
    const expected: Record<string, string[]> = {
      // kept: GET_CANBUS_ID, GET_CANBUS_ID, and the newest (SEND_EOF) over the prime frame
      stm32f103xe: ["ack 12", "ack 16", "ack 16", "ack 13"],
      // kept: the first three; SEND_EOF is lost
      stm32g0b1xx: ["ack 12", "ack 16", "ack 16", "error"],
    };
    for (const [mcu, replies] of Object.entries(expected)) {
      const n = await rawNode(bitrate, { mcu, flash: { initial: new Uint8Array(128 * 1024) } });
      // One frame each, all arriving while the first block's page erase (20 ms) stalls the CPU.
      const during = [getCanbusIdFrame(), getCanbusIdFrame(), PRIME_FRAME, sendEofFrame()];
      await n.sendEach([sendBlockFrame(APP, randomBytes(64, 1)), ...during]);
      expect(await n.replies(100), mcu).toEqual(replies);
      expect(overruns(n.node, "hw-fifo"), mcu).toBe(1);
      await n.close();
    }
  });
});

describe("the simulated node on a clock whose timers fire late (a loaded host, the real clock)", () => {
  it("a command still running when its nominal time has passed is not run again: one write per copy, frames consumed once", async () => {
    const inner = new VirtualClock();
    // Flash timers (≥ 0.5 ms) fire 3 ms late; the bus model's are on time.
    const late: Clock = {
      now: () => inner.now(),
      schedule: (ms, fn) => inner.schedule(ms >= 0.5 ? ms + 3 : ms, fn),
    };
    const channel = VirtualCanChannel.anonymous({ clock: late, bitrate: 1_000_000 });
    const host = channel.open({ label: "host" });
    const node = new SimCanDevice(channel.open({ txQueueLength: 3 }), {
      uuid: UUID,
      boot: "katapult",
    });
    node.start();
    await inner.run(assignKatapultNodeId(host, UUID, 128));
    await inner.advance(1);
    const stream = new CanNodeStream(host, nodeCanIds(128));
    await inner.run(stream.write(sendBlockFrame(APP, randomBytes(64, 1))));
    await inner.advance(2); // the block's 0.7 ms of programming are over on paper, not yet in fact
    await inner.run(stream.write(connectFrame())); // its arrival wakes the main loop
    await inner.advance(20);
    const replies = new FrameParser().push(await stream.read(0)).map(decodeResponse);
    expect(replies.map((r) => r.kind)).toEqual(["ack", "ack"]);
    expect(node.events.filter((e) => e.type === "write")).toHaveLength(1);
    await stream.close();
    await inner.run(Promise.all([host.close(), node.close()]));
  });
});
