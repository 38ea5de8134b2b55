// A flash on a starved host (issue: one wedge in 12 gs_usb flashes at load
// average 7). The host writes a block that starts a page; its process then
// stops for a while, so the frames reach the board late (the bus model and
// the board freeze with the host: a host whose frames only leave when its
// event loop runs). The board erases after it finally got the block; the
// host's resend deadline, counted from the write, must not fire into that
// erase: a copy landing in the stall overruns the 3-frame receive FIFO, the
// cut frame starts with 0x01, and Katapult's parser stays on it until reset.
import { describe, expect, it } from "vitest";
import { katapultCanAdapter } from "../../src/bootloaders/katapult/can.js";
import { Cmd } from "../../src/bootloaders/katapult/codec.js";
import { VirtualCanChannel } from "../../src/can/virtual.js";
import type { CanFrame } from "../../src/can/frame.js";
import { runFlash } from "../../src/flasher/execute.js";
import { parseUuid } from "../../src/klippy-bridge/uuid.js";
import { SimCanDevice } from "../../src/sim/device.js";
import { openGsUsb } from "../../src/gs-usb/backend.js";
import { SimGsUsbAdapter } from "../../src/sim/usb/gs-usb.js";
import { InProcessUsbBackend } from "../../src/usb/in-process.js";
import { FreezingClock } from "../fakes/freezing-clock.js";
import { soakImage } from "./soak.js";

const UUID = parseUuid("8266c4636429");
const APP = 0x08002000;
/** The second page of a 2 KiB-page STM32G0: its first block erases (old firmware there). */
const PAGE = APP + 0x800;
const TO_DEV = 0x200;

const isFirstFragmentOf = (address: number) => (f: CanFrame) =>
  f.id === TO_DEV &&
  f.data[0] === 0x01 &&
  f.data[1] === 0x88 &&
  f.data[2] === Cmd.SEND_BLOCK &&
  f.data[4]! + (f.data[5]! << 8) + (f.data[6]! << 16) + (f.data[7]! << 24) === address;

/** Flashes 4 KiB over old firmware; the process freezes `freezeMs` once the first copy of PAGE's block starts crossing the wire. */
async function flashWithFreeze(freezeMs: number, mcu?: string, via: "bus" | "gs_usb" = "bus") {
  const clock = new FreezingClock();
  let frozen = false;
  const channel = VirtualCanChannel.anonymous({
    bitrate: 1_000_000,
    clock,
    faults: {
      script: (f) => {
        if (!frozen && isFirstFragmentOf(PAGE)(f)) {
          frozen = true;
          clock.freeze(freezeMs);
        }
        return undefined;
      },
    },
  });
  let adapter: SimGsUsbAdapter | undefined;
  let host;
  if (via === "gs_usb") {
    adapter = new SimGsUsbAdapter(channel, { clock, usbLatencyMs: 1 });
    host = await openGsUsb("gs_usb:", { usb: InProcessUsbBackend.of(adapter), clock });
  } else host = channel.open({ label: "host" });
  const node = new SimCanDevice(channel.open({ label: UUID, txQueueLength: 3 }), {
    uuid: UUID,
    boot: "katapult",
    ...(mcu ? { mcu } : {}),
    flash: { initial: soakImage(128 * 1024, 99) },
  });
  node.start();
  const image = soakImage(4096, 1);
  let error: unknown;
  let verified = false;
  try {
    const r = await clock.virtual.run(
      runFlash(
        katapultCanAdapter({ bus: host, uuid: UUID }),
        { segments: [{ address: APP, data: image }] },
        { clock },
      ),
    );
    verified = r.verified;
  } catch (e) {
    error = e;
  }
  await clock.virtual.run(
    Promise.all([host.close(), node.close(), ...(adapter ? [adapter.close()] : [])]),
  );
  return { verified, error, node, frozen, image };
}

/** "overrun:hw-fifo×8 nack×1 …" */
function summary(events: Array<{ type: string; where?: string }>): string {
  const counts = new Map<string, number>();
  for (const e of events) {
    const k = e.where ? `${e.type}:${e.where}` : e.type;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${k}×${n}`).join(" ");
}

describe("a host that stops running while the board erases", () => {
  // Freezes from a few ms to longer than the resend deadline plus the erase.
  const FREEZES = Array.from({ length: 24 }, (_, i) => 5 + i * 10);

  for (const [mcu, via] of [
    ["stm32g0b1xx", "bus"],
    ["stm32f103xe", "bus"],
    ["stm32g0b1xx", "gs_usb"],
  ] as const) {
    it(`${mcu} on ${via === "bus" ? "the bus directly" : "a gs_usb adapter"}: no resend lands in the erase, whatever the freeze (${FREEZES[0]}–${FREEZES.at(-1)} ms); every flash verifies`, async () => {
      const bad: string[] = [];
      for (const ms of FREEZES) {
        const r = await flashWithFreeze(ms, mcu, via);
        expect(r.frozen).toBe(true);
        const trouble = r.node.events.filter(
          (e) =>
            e.type === "nack" ||
            e.type === "wedged" ||
            (e.type === "overrun" && e.where !== "tx-buffer"),
        );
        if (!r.verified || trouble.length > 0)
          bad.push(`${ms} ms: ${r.verified ? "verified" : String(r.error)}; ${summary(trouble)}`);
        else expect(r.node.flash.read(APP, r.image.length)).toEqual(r.image);
      }
      expect(bad).toEqual([]);
    }, 60_000);
  }
});
