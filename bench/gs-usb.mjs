// gs_usb in userspace vs the bus directly: flash + verify of 48 KiB to a
// simulated STM32G0-like Katapult board on the 1 Mbit/s bus-time model,
// once through canflash's gs_usb backend and an adapter model (in-process
// USB backend; each bulk transfer completes `usbLatencyMs` later, one
// full-speed USB frame), once from an endpoint on the same bus model (what
// SocketCAN gives: the kernel's queue, no USB in the path). Same clock,
// same run. Ratio = gs_usb wall / direct wall, printed for 0 ms and 1 ms of
// USB latency. A send resolves once its frame is in the transmit window
// (up to 10 frames in flight, as the Linux driver keeps), so a block's
// frames cross the USB together; what stays is Katapult's one command in
// flight: each command pays the latency out and its reply the latency back,
// about 2 ms on a round trip the direct bus makes in about 2 ms — so the
// 1 ms row stays near 2×, not 1×. The 1 ms row also measures the direct
// endpoint with the same latency each way (what SocketCAN through the
// kernel's gs_usb driver on that USB would pay): gs_usb in userspace
// against it is the backend's own cost.

import { katapultCanAdapter } from "../dist/bootloaders/katapult/can.js";
import { VirtualCanChannel } from "../dist/can/virtual.js";
import { openGsUsb } from "../dist/gs-usb/backend.js";
import { runFlash } from "../dist/flasher/execute.js";
import { SimCanDevice } from "../dist/sim/device.js";
import { SimGsUsbAdapter } from "../dist/sim/usb/gs-usb.js";
import { InProcessUsbBackend } from "../dist/usb/in-process.js";
import { preciseClock } from "../dist/util/clock.js";
import { randomBytes } from "../dist/util/random.js";

const UUID = "8266c4636429";
const APP = 0x08002000;
const SIZE = 48 * 1024;

async function once(viaGsUsb, usbLatencyMs = 0, endpointLatencyMs = 0) {
  const channel = VirtualCanChannel.anonymous({ bitrate: 1_000_000, clock: preciseClock });
  const device = new SimCanDevice(channel.open({ txQueueLength: 3 }), {
    uuid: UUID,
    boot: "katapult",
    flash: { initial: randomBytes(128 * 1024, 99) },
  });
  device.start();
  let adapter;
  let host;
  if (viaGsUsb) {
    adapter = new SimGsUsbAdapter(channel, { clock: preciseClock, usbLatencyMs });
    host = await openGsUsb("gs_usb:", {
      usb: InProcessUsbBackend.of(adapter),
      clock: preciseClock,
    });
  } else host = channel.open({ label: "host", latencyMs: endpointLatencyMs });
  const image = randomBytes(SIZE, 1);
  const t0 = performance.now();
  const r = await runFlash(
    katapultCanAdapter({ bus: host, uuid: UUID }),
    { segments: [{ address: APP, data: image }] },
    { clock: preciseClock },
  );
  const wall = performance.now() - t0;
  if (!r.verified) throw new Error("flash did not verify");
  await host.close();
  await adapter?.close();
  await device.close();
  return wall;
}

export async function benchGsUsb() {
  console.log(
    "\ngs_usb in userspace (adapter model) vs the bus directly (SocketCAN's path): flash + verify 48 KiB at 1 Mbit/s",
  );
  await once(true); // warm-up (JIT)
  await once(false);
  const direct = await once(false);
  for (const latency of [0, 1]) {
    const gs = await once(true, latency);
    // The kernel's driver on the same USB: the direct endpoint with that latency each way.
    const kernel = latency ? await once(false, 0, latency) : direct;
    console.log(
      `USB latency ${latency} ms per bulk transfer: direct ${direct.toFixed(0)} ms, gs_usb ${gs.toFixed(0)} ms, ratio ${(gs / direct).toFixed(3)}` +
        (latency
          ? `; direct with ${latency} ms each way (the kernel's gs_usb on that USB) ${kernel.toFixed(0)} ms, ratio ${(gs / kernel).toFixed(3)}`
          : ""),
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchGsUsb();
