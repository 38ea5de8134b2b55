// Katapult over CAN end to end on the virtual bus with simulated boards.
import { describe, expect, it } from "vitest";
import { katapultCanAdapter } from "../../src/bootloaders/katapult/can.js";
import { queryNodes } from "../../src/entry/can-admin.js";
import { runFlash } from "../../src/flasher/execute.js";
import type { FlashEvent } from "../../src/flash-api/progress.js";
import { parseUuid } from "../../src/klippy-bridge/uuid.js";
import { randomBytes } from "../../src/util/random.js";
import { simBus } from "../fakes/sim-bus.js";

const KATAPULT = parseUuid("8266c4636429");
const KLIPPER = parseUuid("625720a262c6");

/** A Klipper-like application image: a plausible vector table, then random bytes. */
function appImage(size: number, seed: number): Uint8Array {
  const img = randomBytes(size, seed);
  img.set([0x00, 0x80, 0x00, 0x20, 0x01, 0x21, 0x00, 0x08]); // SP 0x20008000, reset 0x08002101
  return img;
}

describe("Katapult over CAN (virtual bus, simulated boards)", () => {
  it("query lists Katapult and Klipper nodes with their application", async () => {
    const sim = simBus({ bitrate: 1_000_000 });
    sim.add({ uuid: KATAPULT, boot: "katapult" });
    sim.add({ uuid: KLIPPER, boot: "klipper" });
    const answers = await sim.run(queryNodes(sim.host));
    expect(answers.map((a) => `${a.uuid} ${a.app}`).sort()).toEqual(
      [`${KLIPPER} klipper`, `${KATAPULT} katapult`].sort(),
    );
    await sim.close();
  });

  it("flashes a 48 KiB image to a Katapult node: verified, completed, the flash reads back identical", async () => {
    const sim = simBus({ bitrate: 1_000_000 });
    const node = sim.add({ uuid: KATAPULT, boot: "katapult" });
    const image = appImage(48 * 1024, 1);
    const events: FlashEvent[] = [];
    const result = await sim.run(
      runFlash(
        katapultCanAdapter({ bus: sim.host, uuid: KATAPULT }),
        { segments: [{ address: 0x08002000, data: image }] },
        {
          clock: sim.clock,
          onEvent: (e) => events.push(e),
        },
      ),
    );
    expect(result.verified).toBe(true);
    expect(result.plan.blocks).toHaveLength(768);
    expect(node.writtenApplication()).toEqual(image);
    // COMPLETE only after verify: the phases ran in order and the node then booted the application.
    const phases = events
      .filter((e) => e.type === "phase-end")
      .map((e) => (e as { phase: string }).phase);
    expect(phases).toEqual(["enter", "connect", "write", "verify", "finish"]);
    await sim.clock.advance(200);
    expect(node.state.mode).toBe("klipper");
    expect(node.events.filter((e) => e.type === "complete")).toHaveLength(1);
    await sim.close();
  });

  it("requests a Klipper node into its bootloader, flashes it, and it answers as Klipper again", async () => {
    const sim = simBus({ bitrate: 500_000 });
    const node = sim.add({ uuid: KLIPPER, boot: "klipper", klipper: { bootloaderDelayMs: 300 } });
    const image = appImage(20_000, 2);
    const events: FlashEvent[] = [];
    await sim.run(
      runFlash(
        katapultCanAdapter({ bus: sim.host, uuid: KLIPPER }),
        { segments: [{ address: 0x08002000, data: image }] },
        {
          clock: sim.clock,
          onEvent: (e) => events.push(e),
        },
      ),
    );
    expect(
      events.some(
        (e) => e.type === "info" && /runs Klipper: requesting its bootloader/.test(e.message),
      ),
    ).toBe(true);
    expect(node.events.map((e) => e.type)).toContain("request-bootloader");
    await sim.clock.advance(200);
    const answers = await sim.run(queryNodes(sim.host));
    expect(answers).toEqual([{ uuid: KLIPPER, app: "klipper", appByte: 1 }]);
    expect(node.writtenApplication()).toEqual(
      Uint8Array.from([...image, ...new Array(64 - (image.length % 64)).fill(0xff)]),
    );
    await sim.close();
  });
});
