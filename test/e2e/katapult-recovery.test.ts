// Recovering fast from lost replies without breaking a board (issue 18 §16):
// resend deadlines from measured round trips plus what a step may take (a
// page erase at a page boundary); the node id re-sent on retries; replies an
// earlier copy still owes never taken for a newer command's answer. On the
// bus-time model, on virtual time, so every timing is exact.
import { describe, expect, it } from "vitest";
import { katapultCanAdapter } from "../../src/bootloaders/katapult/can.js";
import { blockBusyMs, eofBusyMs } from "../../src/bootloaders/katapult/adapter.js";
import { Cmd } from "../../src/bootloaders/katapult/codec.js";
import type { FaultDecision } from "../../src/can/faults.js";
import type { CanFrame } from "../../src/can/frame.js";
import { runFlash } from "../../src/flasher/execute.js";
import { parseUuid } from "../../src/klippy-bridge/uuid.js";
import { lpc176xLayout } from "../../src/sim/flash.js";
import { seededRandom } from "../../src/util/random.js";
import { simBus } from "../fakes/sim-bus.js";
import { report, soakImage } from "./soak.js";

const UUID = parseUuid("8266c4636429");
const APP = 0x08002000;
const FROM_DEV = 0x201;
const isReplyStart = (f: CanFrame) => f.id === FROM_DEV && f.data[0] === 0x01 && f.data[1] === 0x88;
const isAckOf = (cmd: number) => (f: CanFrame) =>
  isReplyStart(f) && f.data[2] === 0xa0 && f.data[4] === cmd;

type Script = (f: CanFrame, i: number) => FaultDecision | undefined;

async function flash(
  script: Script | undefined,
  o: { size?: number; old?: boolean; lpc?: boolean } = {},
): Promise<{
  ms: number;
  verified: boolean;
  node: ReturnType<ReturnType<typeof simBus>["add"]>;
  error?: unknown;
}> {
  const sim = simBus({ bitrate: 1_000_000, ...(script ? { faults: { script } } : {}) });
  const node = o.lpc
    ? sim.add({
        uuid: UUID,
        mcu: "lpc1769",
        boot: "katapult",
        flash: { base: 0, size: 512 * 1024, layout: lpc176xLayout(512 * 1024) },
        katapult: { appStart: 0x4000 },
      })
    : sim.add({
        uuid: UUID,
        boot: "katapult",
        ...(o.old ? { flash: { initial: soakImage(128 * 1024, 99) } } : {}),
      });
  const image = soakImage(o.size ?? 48 * 1024, 1);
  const t0 = sim.clock.now();
  try {
    const r = await sim.run(
      runFlash(
        katapultCanAdapter({ bus: sim.host, uuid: UUID }),
        { segments: [{ address: o.lpc ? 0x4000 : APP, data: image }] },
        { clock: sim.clock },
      ),
    );
    return { ms: sim.clock.now() - t0, verified: r.verified, node };
  } catch (error) {
    return { ms: sim.clock.now() - t0, verified: false, node, error };
  } finally {
    await sim.close();
  }
}

describe("fast recovery from lost replies", () => {
  it("2 % of replies lost: a 48 KiB flash (old firmware in every page) costs at most 1.5× the fault-free time", async () => {
    const clean = await flash(undefined, { old: true });
    const random = seededRandom(7);
    const lossy = await flash(
      (f) => (isReplyStart(f) && random() < 0.02 ? { kind: "drop" } : undefined),
      {
        old: true,
      },
    );
    expect(clean.verified && lossy.verified).toBe(true);
    report(
      `48 KiB, virtual time: fault-free ${clean.ms.toFixed(0)} ms, 2 % replies lost ${lossy.ms.toFixed(0)} ms, ratio ${(lossy.ms / clean.ms).toFixed(3)}`,
    );
    expect(lossy.ms / clean.ms).toBeLessThanOrEqual(1.5);
  });

  it("a lost ACK of a block that may erase is resent only after the erase could be over (no copy meets a stalled chip)", async () => {
    // Old firmware: the first block of each page erases (20 ms). Lose the ACK of the page at 0x08002800.
    let seen = 0;
    const r = await flash(
      (f) => (isAckOf(Cmd.SEND_BLOCK)(f) && ++seen === 33 ? { kind: "drop" } : undefined),
      { size: 4096, old: true },
    );
    expect(r.verified).toBe(true);
    expect(r.node.events.some((e) => e.type === "overrun" || e.type === "nack")).toBe(false);
    const writes = r.node.events.filter((e) => e.type === "write" && e.address === APP + 0x800);
    expect(writes).toHaveLength(2); // the first copy and the resend, identical data: no second erase
  });

  it("a late CLEAR that takes the node id after the assignment: CONNECT retries re-send the assignment", async () => {
    // The gate's CLEAR reaches the node 3 ms late, after the node id was assigned.
    const r = await flash(
      (f) => (f.id === 0x3f0 && f.data[0] === 0x12 ? { kind: "delay", ms: 3 } : undefined),
      { size: 1024 },
    );
    expect(r.error).toBeUndefined();
    expect(r.verified).toBe(true);
    const ev = r.node.events.map((e) => e.type);
    expect(ev.indexOf("unassigned")).toBeGreaterThan(ev.indexOf("assigned"));
    expect(ev.filter((t) => t === "assigned").length).toBeGreaterThanOrEqual(2);
    expect(r.ms).toBeLessThan(2000); // not 10 × 400 ms
  });

  it("LPC176x: a late ACK makes the host resend; the resent copy's COMMAND_ERROR is owed to the old block, not taken for the next one", async () => {
    // Both frames of the 6th block ACK arrive 30 ms late (the same delay keeps them in order).
    let acks = 0;
    let delaying = 0;
    const r = await flash(
      (f) => {
        if (f.id !== FROM_DEV) return undefined;
        if (isAckOf(Cmd.SEND_BLOCK)(f) && ++acks === 6) delaying = 2;
        if (delaying > 0) {
          delaying--;
          return { kind: "delay", ms: 30 };
        }
        return undefined;
      },
      { size: 2048, lpc: true },
    );
    expect(r.error).toBeUndefined();
    expect(r.verified).toBe(true);
    // The resend was refused (the chunk pointer had moved on): the error reply went to the old copy.
    expect(r.node.events.filter((e) => e.type === "write" && !e.ok)).toHaveLength(1);
  });
});

describe("fast recovery keeps every family's rules", () => {
  it("RP2040 (pages flushed when the next page starts, sectors erased then): 2 % of replies lost, 16 KiB over old firmware, verified", async () => {
    const random = seededRandom(3);
    const sim = simBus({
      bitrate: 1_000_000,
      faults: {
        script: (f) => (isReplyStart(f) && random() < 0.02 ? { kind: "drop" } : undefined),
      },
    });
    const node = sim.add({
      uuid: UUID,
      mcu: "rp2040",
      boot: "katapult",
      flash: { base: 0x10000000, size: 2 * 1024 * 1024, initial: soakImage(256 * 1024, 9) },
      katapult: { appStart: 0x10004000 },
    });
    const image = soakImage(16 * 1024, 4);
    const r = await sim.run(
      runFlash(
        katapultCanAdapter({ bus: sim.host, uuid: UUID }),
        { segments: [{ address: 0x10004000, data: image }] },
        { clock: sim.clock },
      ),
    );
    expect(r.verified).toBe(true);
    expect(node.flash.read(0x10004000, image.length)).toEqual(image);
    expect(node.events.some((e) => e.type === "overrun" || e.type === "nack")).toBe(false);
    expect(sim.channel.stats.faults.dropped).toBeGreaterThan(0);
    await sim.close();
  });
});

describe("what a step can take (the erase table)", () => {
  it("STM32: page starts may erase (1 KiB units on F0/F1, 2 KiB on G0/G4, F4 sectors); other blocks and EOF cannot", () => {
    expect(blockBusyMs("stm32g0b1xx", 0x08002000, undefined, 64)).toBe(60);
    expect(blockBusyMs("stm32g0b1xx", 0x08002040, 0x08002000, 64)).toBe(0);
    expect(blockBusyMs("stm32f103xe", 0x08002400, 0x080023c0, 64)).toBe(60);
    expect(blockBusyMs("stm32f446xx", 0x08008000, 0x08007fc0, 64)).toBe(750);
    expect(blockBusyMs("stm32f446xx", 0x08010000, 0x0800ffc0, 64)).toBe(1650);
    expect(blockBusyMs("stm32f446xx", 0x08040000, 0x0803ffc0, 64)).toBe(3000);
    expect(blockBusyMs("stm32f446xx", 0x08018000, 0x08017fc0, 64)).toBe(0);
    expect(eofBusyMs("stm32g0b1xx", 0x08002fc0, 64)).toBe(0);
  });

  it("RP2040: the block that flushes a sector's first page erases it; LPC176x: the block that completes a sector's first chunk", () => {
    expect(blockBusyMs("rp2040", 0x10004100, 0x100040c0, 64)).toBe(604.5);
    expect(blockBusyMs("rp2040", 0x10004200, 0x100041c0, 64)).toBe(4.5);
    expect(blockBusyMs("rp2040", 0x10004240, 0x10004200, 64)).toBe(0);
    expect(eofBusyMs("rp2040", 0x10005040, 64)).toBe(604.5);
    expect(blockBusyMs("lpc1769", 0x40c0, 0x4080, 64)).toBe(154.5);
    expect(blockBusyMs("lpc1769", 0x41c0, 0x4180, 64)).toBe(4.5);
    expect(blockBusyMs("lpc1769", 0x4100, 0x40c0, 64)).toBe(0);
  });

  it("an unknown chip: every block may take any time (resend only after the long timeout)", () => {
    expect(blockBusyMs("stm32f765xx", 0x08008040, 0x08008000, 64)).toBe(Infinity);
    expect(blockBusyMs("atsame70q21b", 0x00404000, undefined, 64)).toBe(Infinity);
  });
});
