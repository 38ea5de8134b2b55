// The firmware's known traps and the flasher's refusals, each against the
// simulated boards: nothing is started unless verified, errors name the fix.
import { describe, expect, it } from "vitest";
import { katapultCanAdapter } from "../../src/bootloaders/katapult/can.js";
import { KatapultAdapter } from "../../src/bootloaders/katapult/adapter.js";
import {
  Cmd,
  encodeAck,
  encodeConnectData,
  FrameParser,
  PROTO_1_1_0,
} from "../../src/bootloaders/katapult/codec.js";
import { FlashError } from "../../src/flasher/errors.js";
import { runFlash } from "../../src/flasher/execute.js";
import type { FlashEvent } from "../../src/flash-api/progress.js";
import type { FaultDecision } from "../../src/can/faults.js";
import type { CanFrame } from "../../src/can/frame.js";
import { parseUuid } from "../../src/klippy-bridge/uuid.js";
import { lpc176xLayout } from "../../src/sim/flash.js";
import { MockTransport } from "../../src/transport/mock.js";
import { VirtualClock } from "../../src/util/clock.js";
import { randomBytes } from "../../src/util/random.js";
import { simBus } from "../fakes/sim-bus.js";

const UUID = parseUuid("8266c4636429");
const APP = 0x08002000;
const TO_DEV = 0x200; // node 128
const FROM_DEV = 0x201;

function image(size: number, seed: number): Uint8Array {
  const img = randomBytes(size, seed);
  img.set([0, 0x80, 0, 0x20, 0x01, 0x21, 0, 0x08]);
  return img;
}

async function flashError(p: Promise<unknown>): Promise<FlashError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(FlashError);
  return e as FlashError;
}

/** Scripted fault: act on the n-th frame (1-based) that satisfies `match`. */
function nth(n: number, match: (f: CanFrame) => boolean, kind: FaultDecision["kind"] = "drop") {
  let seen = 0;
  return (f: CanFrame): FaultDecision | undefined =>
    match(f) && ++seen === n ? ({ kind } as FaultDecision) : undefined;
}

describe("Katapult traps", () => {
  it("LPC176x: a lost SEND_BLOCK ACK makes the resend answer COMMAND_ERROR though written — read-back decides", async () => {
    const isBlockAck = (f: CanFrame) =>
      f.id === FROM_DEV &&
      f.data[0] === 0x01 &&
      f.data[1] === 0x88 &&
      f.data[2] === 0xa0 &&
      f.data[4] === Cmd.SEND_BLOCK;
    const sim = simBus({ bitrate: 1_000_000, faults: { script: nth(6, isBlockAck) } });
    const node = sim.add({
      uuid: UUID,
      mcu: "lpc1769",
      boot: "katapult",
      flash: { base: 0, size: 512 * 1024, layout: lpc176xLayout(512 * 1024) },
      katapult: { appStart: 0x4000, family: "lpc176x" },
    });
    const img = image(4096, 11);
    const events: FlashEvent[] = [];
    const r = await sim.run(
      runFlash(
        katapultCanAdapter({ bus: sim.host, uuid: UUID, timeouts: { sendBlockMs: 300 } }),
        { segments: [{ address: 0x4000, data: img }] },
        { clock: sim.clock, onEvent: (e) => events.push(e) },
      ),
    );
    expect(r.verified).toBe(true);
    // Block 6 sits in the chip's 256-byte RAM chunk until it fills: read-back cannot confirm yet;
    // the final verify (after EOF flushed it) does.
    expect(
      events.some(
        (e) =>
          e.type === "info" &&
          /refused on resend \(first copy unconfirmed\): verify will check it/.test(e.message),
      ),
    ).toBe(true);
    expect(node.events.filter((e) => e.type === "write" && !e.ok)).toHaveLength(1);
    expect(node.flash.read(0x4000, img.length)).toEqual(img);
    await sim.close();
  });

  it("a fragment lost mid-write wedges the node: KATAPULT_WEDGED, node left in Katapult, no COMPLETE", async () => {
    const sim = simBus({
      bitrate: 1_000_000,
      faults: { script: nth(103, (f) => f.id === TO_DEV) },
    });
    const node = sim.add({ uuid: UUID, boot: "katapult" });
    const e = await flashError(
      sim.run(
        runFlash(
          katapultCanAdapter({ bus: sim.host, uuid: UUID, timeouts: { sendBlockMs: 200 } }),
          { segments: [{ address: APP, data: image(8192, 1) }] },
          { clock: sim.clock },
        ),
      ),
    );
    expect(e.phase).toBe("write");
    expect(e.causeCode).toBe("KATAPULT_WEDGED");
    expect(e.deviceState).toBe("in-bootloader");
    await sim.clock.advance(500);
    expect(node.state).toMatchObject({ mode: "katapult", wedged: true });
    expect(node.events.some((x) => x.type === "complete")).toBe(false);
    await sim.close();
  });

  it("STM32: a resend refused that reads back correct is accepted at once; a first-send refusal is an error", async () => {
    const isBlockAck = (f: CanFrame) =>
      f.id === FROM_DEV &&
      f.data[0] === 0x01 &&
      f.data[1] === 0x88 &&
      f.data[2] === 0xa0 &&
      f.data[4] === Cmd.SEND_BLOCK;
    // A lost ACK: STM32 accepts the identical resend (no refusal at all).
    const sim = simBus({ bitrate: 1_000_000, faults: { script: nth(3, isBlockAck) } });
    sim.add({ uuid: UUID, boot: "katapult" });
    const r = await sim.run(
      runFlash(
        katapultCanAdapter({ bus: sim.host, uuid: UUID, timeouts: { sendBlockMs: 200 } }),
        { segments: [{ address: APP, data: image(1024, 4) }] },
        { clock: sim.clock },
      ),
    );
    expect(r.verified).toBe(true);
    await sim.close();
    // Old firmware in the next page's second block: the out-of-order write is refused on first send.
    const old = new Uint8Array(128 * 1024).fill(0xff);
    old.fill(0x00, 0x2000 + 64, 0x2000 + 128);
    const sim2 = simBus({ bitrate: 1_000_000 });
    const node = sim2.add({ uuid: UUID, boot: "katapult", flash: { initial: old } });
    const e = await flashError(
      sim2.run(
        runFlash(
          katapultCanAdapter({ bus: sim2.host, uuid: UUID }),
          { segments: [{ address: APP + 64, data: image(128, 5) }] },
          { clock: sim2.clock },
        ),
      ),
    );
    expect(e.causeCode).toBe("KATAPULT_COMMAND_ERROR");
    expect(e.message).toMatch(/refused SEND_BLOCK at 0x08002040/);
    expect(node.events.some((x) => x.type === "complete")).toBe(false);
    await sim2.close();
  });

  it("verify names the first differing address and never sends COMPLETE", async () => {
    const sim = simBus({ bitrate: 1_000_000 });
    const node = sim.add({ uuid: UUID, boot: "katapult" });
    const img = image(6000, 3);
    const e = await flashError(
      sim.run(
        runFlash(
          katapultCanAdapter({ bus: sim.host, uuid: UUID }),
          { segments: [{ address: APP, data: img }] },
          {
            clock: sim.clock,
            onEvent: (ev) => {
              if (ev.type === "phase-start" && ev.phase === "verify")
                node.flash.mem[0x2000 + 4321]! &= 0x0f; // a bad cell
            },
          },
        ),
      ),
    );
    expect(e.phase).toBe("verify");
    expect(e.causeCode).toBe("VERIFY_MISMATCH");
    expect(e.cause).toMatchObject({
      address: APP + 4321,
      expected: img[4321],
      actual: img[4321]! & 0x0f,
    });
    expect(e.message).toMatch(/flash at 0x080030e1 reads/);
    await sim.clock.advance(500);
    expect(node.state.mode).toBe("katapult");
    expect(node.events.some((x) => x.type === "complete")).toBe(false);
    await sim.close();
  });

  it("refuses a block size the 128-byte frame limit cannot carry, before writing", async () => {
    const sim = simBus({ bitrate: 1_000_000 });
    const node = sim.add({ uuid: UUID, boot: "katapult", katapult: { blockSize: 128 } });
    const e = await flashError(
      sim.run(
        runFlash(
          katapultCanAdapter({ bus: sim.host, uuid: UUID }),
          { segments: [{ address: APP, data: image(512, 1) }] },
          { clock: sim.clock },
        ),
      ),
    );
    expect(e.phase).toBe("connect");
    expect(e.causeCode).toBe("KATAPULT_BLOCK_SIZE");
    expect(e.deviceState).toBe("untouched");
    expect(node.events.some((x) => x.type === "write")).toBe(false);
    await sim.close();
  });

  it("refuses an image below the application start (built for another offset), before writing", async () => {
    const sim = simBus({ bitrate: 1_000_000 });
    const node = sim.add({ uuid: UUID, boot: "katapult" });
    const e = await flashError(
      sim.run(
        runFlash(
          katapultCanAdapter({ bus: sim.host, uuid: UUID }),
          { segments: [{ address: 0x08000000, data: image(512, 1) }] },
          { clock: sim.clock },
        ),
      ),
    );
    expect(e.causeCode).toBe("IMAGE_BELOW_APP_START");
    expect(e.message).toMatch(/built for a different bootloader offset/);
    expect(node.events.some((x) => x.type === "write")).toBe(false);
    await sim.close();
  });

  it("refuses a node whose GET_CANBUS_ID is another UUID", async () => {
    const clock = new VirtualClock();
    const other = Uint8Array.from([1, 2, 3, 4, 5, 6, 0, 0]);
    const mock = new MockTransport(clock, (w) => {
      const code = new FrameParser(() => true).push(w)[0]?.code;
      if (code === Cmd.CONNECT) {
        return {
          reply: encodeAck(
            Cmd.CONNECT,
            encodeConnectData({
              protocolVersion: PROTO_1_1_0,
              appStart: APP,
              blockSize: 64,
              mcu: "stm32g0b1xx",
            }),
          ),
        };
      }
      if (code === Cmd.GET_CANBUS_ID) return { reply: encodeAck(Cmd.GET_CANBUS_ID, other) };
      return undefined;
    });
    const adapter = new KatapultAdapter({
      protocol: "katapult-can",
      expectUuid: UUID,
      open: async () => mock,
    });
    const e = await flashError(
      clock.run(
        runFlash(adapter, { segments: [{ address: APP, data: image(256, 1) }] }, { clock }),
      ),
    );
    expect(e.causeCode).toBe("UUID_MISMATCH");
    expect(e.message).toMatch(/the node that answered is 010203040506, not 8266c4636429/);
    expect(mock.written.every((w) => w[2] !== Cmd.SEND_BLOCK)).toBe(true);
    expect(mock.isClosed).toBe(true);
  });

  it("a UUID nobody answers for: NO_NODE, naming the nodes that did answer", async () => {
    const sim = simBus({ bitrate: 1_000_000 });
    sim.add({ uuid: "aabbccddeeff", boot: "katapult" });
    const e = await flashError(
      sim.run(
        runFlash(
          katapultCanAdapter({ bus: sim.host, uuid: UUID, enter: { timeoutMs: 1000 } }),
          { segments: [{ address: APP, data: image(256, 1) }] },
          { clock: sim.clock },
        ),
      ),
    );
    expect(e.phase).toBe("enter");
    expect(e.causeCode).toBe("NO_NODE");
    expect(e.message).toMatch(/nodes that answered: aabbccddeeff katapult/);
    await sim.close();
  });

  it("a Klipper node with no Katapult installed: BOOTLOADER_ENTRY_TIMEOUT after the request", async () => {
    const sim = simBus({ bitrate: 1_000_000 });
    const node = sim.add({ uuid: UUID, boot: "klipper", katapult: false });
    const e = await flashError(
      sim.run(
        runFlash(
          katapultCanAdapter({ bus: sim.host, uuid: UUID, enter: { timeoutMs: 2000 } }),
          { segments: [{ address: APP, data: image(256, 1) }] },
          { clock: sim.clock },
        ),
      ),
    );
    expect(e.causeCode).toBe("BOOTLOADER_ENTRY_TIMEOUT");
    expect(node.state.mode).toBe("rom");
    await sim.close();
  });
});
