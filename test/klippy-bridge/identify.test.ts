// identify over the virtual bus against simulated Klipper nodes.
import { describe, expect, it } from "vitest";
import { katapultCanAdapter } from "../../src/bootloaders/katapult/can.js";
import { runFlash } from "../../src/flasher/execute.js";
import {
  getCanbusId,
  identify,
  identifyCanNode,
  IDENTIFY_NODE_ID_BASE,
} from "../../src/klippy-bridge/identify.js";
import { findAssignedKlipperNodes, KLIPPY_PROBE_IDS } from "../../src/klippy-bridge/assigned.js";
import { KlipperLink } from "../../src/klippy-bridge/mcu-link.js";
import { nodeCanIds, setKlipperNodeIdFrame } from "../../src/klippy-bridge/admin.js";
import { CanNodeStream } from "../../src/transport/can-node-stream.js";
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

  it("get_canbus_id names the node's UUID and node id on the same link", async () => {
    const sim = simBus({ bitrate: 1_000_000 });
    sim.add({ uuid: UUID, boot: "klipper" });
    await sim.run(sim.host.send(setKlipperNodeIdFrame(UUID, 7)));
    const link = new KlipperLink(new CanNodeStream(sim.host, nodeCanIds(7)));
    const { dictionary } = await sim.run(identify(link));
    expect(await sim.run(getCanbusId(link, dictionary))).toEqual({ uuid: UUID, nodeId: 7 });
    await link.transport.close();
    await sim.close();
  });
});

describe("finding Klipper nodes that hold a node id", () => {
  it("finds nodes a stopped Klippy left assigned (they do not answer queries) and names them", async () => {
    const sim = simBus({ bitrate: 1_000_000 });
    const a = sim.add({
      uuid: UUID,
      boot: "klipper",
      mcu: "stm32g0b1xx",
      klipper: { heldByNodeId: 4 },
    });
    sim.add({
      uuid: parseUuid("0000000000b2"),
      boot: "klipper",
      mcu: "rp2040",
      klipperVersion: "v0.12.0-1-gaaaa",
      klipper: { heldByNodeId: 6 },
    });
    sim.add({ uuid: parseUuid("0000000000c3"), boot: "klipper" }); // unassigned: not probed
    const found = await sim.run(findAssignedKlipperNodes(sim.host, KLIPPY_PROBE_IDS));
    expect(found.map((f) => [f.nodeId, f.uuid, f.dictionary?.mcu])).toEqual([
      [4, UUID, "stm32g0b1xx"],
      [6, "0000000000b2", "rp2040"],
    ]);
    expect(found[1]!.dictionary?.version).toBe("v0.12.0-1-gaaaa");
    expect(a.events.filter((e) => e.type === "assigned")).toEqual([]);
    await sim.close();
  });

  it("finds nothing on an empty range, within the probe window", async () => {
    const sim = simBus({ bitrate: 1_000_000 });
    sim.add({ uuid: UUID, boot: "katapult" });
    const t0 = sim.clock.now();
    expect(await sim.run(findAssignedKlipperNodes(sim.host, KLIPPY_PROBE_IDS))).toEqual([]);
    expect(sim.clock.now() - t0).toBeLessThan(1000);
    await sim.close();
  });
});
