// identify over the virtual bus against simulated Klipper nodes.
import { describe, expect, it } from "vitest";
import { katapultCanAdapter } from "../../src/canboot/can.js";
import { runFlash } from "../../src/flasher/execute.js";
import {
  identify,
  identifyCanNode,
  IDENTIFY_NODE_ID_BASE,
} from "../../src/klippy-bridge/identify.js";
import { encodeBlock, identifyRequest } from "../../src/klippy-bridge/msgproto.js";
import { parseUuid } from "../../src/klippy-bridge/uuid.js";
import { klipperImage } from "../../src/sim/klipper-image.js";
import { KlipperMcuProtocol } from "../../src/sim/klipper-protocol.js";
import { klipperDictionaryZlib } from "../../src/sim/klipper-image.js";
import { MockTransport } from "../../src/transport/mock.js";
import { VirtualClock } from "../../src/util/clock.js";
import { simBus } from "../fakes/sim-bus.js";

const UUID = parseUuid("625720a262c6");

describe("identify", () => {
  it("reads a Klipper node's data dictionary over CAN, using a node id from the high range", async () => {
    const sim = simBus({ bitrate: 1_000_000 });
    const node = sim.add({
      uuid: UUID,
      boot: "klipper",
      mcu: "stm32g0b1xx",
      klipperVersion: "v0.12.0-99-gdeadbee",
    });
    const r = await sim.run(identifyCanNode(sim.host, UUID));
    expect(r.dictionary).toMatchObject({
      app: "Klipper",
      version: "v0.12.0-99-gdeadbee",
      mcu: "stm32g0b1xx",
      transport: "can",
      canbusFrequency: 1000000,
    });
    expect(node.events).toContainEqual({
      type: "assigned",
      uuid: UUID,
      nodeId: IDENTIFY_NODE_ID_BASE,
      app: "klipper",
    });
    await sim.close();
  });

  it("reports the flashed image's own version after a flash", async () => {
    const sim = simBus({ bitrate: 1_000_000 });
    sim.add({ uuid: UUID, boot: "klipper" });
    const img = klipperImage({
      mcu: "stm32g0b1xx",
      transport: "can",
      appStart: 0x08002000,
      version: "v0.13.0-7-gnew",
      size: 24 * 1024,
    });
    await sim.run(
      runFlash(
        katapultCanAdapter({ bus: sim.host, uuid: UUID }),
        { segments: [{ address: 0x08002000, data: img }] },
        { clock: sim.clock },
      ),
    );
    await sim.clock.advance(300);
    const r = await sim.run(identifyCanNode(sim.host, UUID));
    expect(r.dictionary.version).toBe("v0.13.0-7-gnew");
    await sim.close();
  });

  it("adopts the MCU's sequence number from its NAK (a previous host left it elsewhere)", async () => {
    const clock = new VirtualClock();
    const dict = klipperDictionaryZlib({ mcu: "rp2040", transport: "usb" });
    const mcu: { proto?: KlipperMcuProtocol } = {};
    const t = new MockTransport(clock, (w) => {
      mcu.proto!.receive(w);
      return undefined;
    });
    const proto = new KlipperMcuProtocol(dict, (b) => clock.schedule(0.1, () => t.emitData(b)));
    mcu.proto = proto;
    // Another host already spoke: the MCU expects sequence 7 now.
    for (let s = 0; s < 7; s++) proto.receive(encodeBlock(s, identifyRequest(0)));
    t.discardInput();
    const r = await clock.run(identify(t));
    expect(r.dictionary.mcu).toBe("rp2040");
    expect(r.raw).toEqual(dict);
  });

  it("times out with a typed error when nothing answers", async () => {
    const clock = new VirtualClock();
    const t = new MockTransport(clock, () => undefined, "silent");
    await expect(clock.run(identify(t, { timeoutMs: 1000 }))).rejects.toThrow(
      /identify on silent: no complete dictionary within 1000 ms/,
    );
  });
});
