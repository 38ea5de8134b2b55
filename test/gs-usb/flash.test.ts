// The library over a gs_usb bus (in-process USB backend, adapter models,
// a 1 Mbit/s virtual bus with simulated nodes on the far side): query, a
// verified 48 KiB flash through a candleLight, a batch of four through
// Klipper's bridge — whose own node answers the query but is not flashed.
import { afterEach, describe, expect, it } from "vitest";
import { katapultCanAdapter } from "../../src/bootloaders/katapult/can.js";
import { VirtualCanChannel } from "../../src/can/virtual.js";
import { queryNodes } from "../../src/entry/can-admin.js";
import { CanBootloaderGate } from "../../src/entry/can-request.js";
import { openGsUsb } from "../../src/gs-usb/backend.js";
import type { GsUsbBus, GsUsbBusOptions } from "../../src/gs-usb/bus.js";
import { GsUsbFrameLostError } from "../../src/gs-usb/errors.js";
import { runBatch, type BatchJob } from "../../src/flasher/batch.js";
import { FlashError } from "../../src/flasher/errors.js";
import { runFlash } from "../../src/flasher/execute.js";
import { parseUuid } from "../../src/klippy-bridge/uuid.js";
import { SimCanDevice, type SimCanDeviceOptions } from "../../src/sim/device.js";
import { SimGsUsbAdapter, type SimGsUsbOptions } from "../../src/sim/usb/gs-usb.js";
import { InProcessUsbBackend } from "../../src/usb/in-process.js";
import { randomBytes } from "../../src/util/random.js";

const APP = 0x08002000;
const BOARDS: SimCanDeviceOptions[] = [
  { uuid: "8266c4636429", boot: "katapult" },
  { uuid: "ef00c3c43f24", boot: "katapult" },
  { uuid: "625720a262c6", boot: "klipper", klipper: { bootloaderDelayMs: 200 } },
  { uuid: "1a2b3c4d5e6f", boot: "klipper", klipper: { bootloaderDelayMs: 200 } },
];

function image(size: number, seed: number): Uint8Array {
  const img = randomBytes(size, seed);
  img.set([0, 0x80, 0, 0x20, 0x01, 0x21, 0, 0x08]);
  return img;
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function rig(
  boards: SimCanDeviceOptions[],
  options: SimGsUsbOptions = {},
  busOptions: GsUsbBusOptions = {},
) {
  const channel = VirtualCanChannel.anonymous({ bitrate: 1_000_000, label: "bus" });
  const nodes = boards.map((b) => {
    const d = new SimCanDevice(channel.open({ label: b.uuid, txQueueLength: 3 }), b);
    d.start();
    return d;
  });
  const adapter = new SimGsUsbAdapter(channel, options);
  cleanups.push(() => Promise.all([adapter.close(), ...nodes.map((n) => n.close())]));
  const bus: GsUsbBus = await openGsUsb("gs_usb:", {
    usb: InProcessUsbBackend.of(adapter),
    ...busOptions,
  });
  cleanups.push(() => bus.close());
  return { nodes, adapter, bus };
}

describe("the library over a gs_usb bus", () => {
  it("query through Klipper's bridge: every node, and the bridge's own", async () => {
    const { bus } = await rig(BOARDS, {
      variant: "klipper-bridge",
      bridgeNode: { uuid: "aabbccddeeff", mcu: "stm32f072xb" },
    });
    const answers = await queryNodes(bus);
    expect(answers.map((a) => `${a.uuid} ${a.app}`).sort()).toEqual(
      [
        "8266c4636429 katapult",
        "ef00c3c43f24 katapult",
        "625720a262c6 klipper",
        "1a2b3c4d5e6f klipper",
        "aabbccddeeff klipper",
      ].sort(),
    );
  });

  it("flashes 48 KiB into a Klipper board through a candleLight: verified, every byte as sent", async () => {
    const { bus, nodes, adapter } = await rig([BOARDS[2]!]);
    const img = image(48 * 1024, 3);
    const uuid = parseUuid(BOARDS[2]!.uuid);
    const result = await runFlash(
      katapultCanAdapter({ bus, uuid }),
      { segments: [{ address: APP, data: img }] },
      { clock: bus.clock },
    );
    expect(result.verified).toBe(true);
    expect(nodes[0]!.writtenApplication()).toEqual(img);
    expect(adapter.droppedToHost).toBe(0);
  }, 60_000);

  it("a frame whose echo never comes mid-flash fails the flash with GS_USB_FRAME_LOST; the board stays in Katapult", async () => {
    const { bus, nodes, adapter } = await rig([BOARDS[0]!], {}, { echoTimeoutMs: 500 });
    const uuid = parseUuid(BOARDS[0]!.uuid);
    let armed = false;
    const outcome = await runFlash(
      katapultCanAdapter({ bus, uuid }),
      { segments: [{ address: APP, data: image(48 * 1024, 5) }] },
      {
        clock: bus.clock,
        onEvent: (e) => {
          // Once writing is under way, one echo is lost on its way to the host.
          if (e.type === "progress" && e.phase === "write" && e.bytes > 0 && !armed) {
            armed = true;
            adapter.withholdEchoes = 1;
          }
        },
      },
    ).catch((e: unknown) => e);
    expect(armed).toBe(true);
    expect(outcome).toBeInstanceOf(FlashError);
    // Half a second after the echo was withheld: while writing (or, on a slow host, verifying),
    // never after the image was started.
    expect(["write", "verify"]).toContain((outcome as FlashError).phase);
    expect((outcome as FlashError).cause).toBeInstanceOf(GsUsbFrameLostError);
    expect((outcome as FlashError).cause).toMatchObject({ reason: "no-echo" });
    expect(nodes[0]!.state.mode).toBe("katapult");
  }, 60_000);

  it("a batch of four through Klipper's bridge, concurrently, one request round", async () => {
    const { bus, nodes, adapter } = await rig(BOARDS, {
      variant: "klipper-bridge",
      bridgeNode: { uuid: "aabbccddeeff", mcu: "stm32f072xb" },
    });
    const uuids = BOARDS.map((b) => parseUuid(b.uuid));
    const img = image(12 * 1024, 4);
    const gate = new CanBootloaderGate(bus, uuids);
    const jobs: BatchJob[] = uuids.map((uuid) => ({
      id: uuid,
      group: "bus",
      run: (onEvent, signal) =>
        runFlash(
          katapultCanAdapter({ bus, uuid, gate }),
          { segments: [{ address: APP, data: img }] },
          { clock: bus.clock, onEvent, ...(signal ? { signal } : {}) },
        ),
    }));
    const out = await runBatch(jobs);
    expect(out.map((o) => o.status)).toEqual(["ok", "ok", "ok", "ok"]);
    for (const n of nodes) expect(n.writtenApplication()).toEqual(img);
    expect(adapter.bridgeNode!.written).toBe(false);
  }, 60_000);
});
