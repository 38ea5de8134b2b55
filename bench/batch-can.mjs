// Batch: 4 boards × 48 KiB on one 1 Mbit/s bus (bus-time model, STM32G0-like
// flash with old firmware in every page), flashed concurrently, against one
// board alone measured in the same run. Also prints the floor the bus
// imposes: every board's frames must cross the one wire, so the batch cannot
// beat max(4 × one board's wire time, one board's wire + flash time).
// Run twice: with an instant host, and with a USB-CAN adapter's latency on
// the host endpoint (0.5 ms each way, gs_usb-like), where one board's
// stop-and-wait flash is partly latency-bound and concurrency hides that.

import { CanBootloaderGate } from "../dist/entry/can-request.js";
import { katapultCanAdapter } from "../dist/bootloaders/katapult/can.js";
import { VirtualCanChannel } from "../dist/can/virtual.js";
import { runBatch } from "../dist/flasher/batch.js";
import { runFlash } from "../dist/flasher/execute.js";
import { SimCanDevice } from "../dist/sim/device.js";
import { preciseClock } from "../dist/util/clock.js";
import { randomBytes } from "../dist/util/random.js";

const APP = 0x08002000;
const UUIDS = ["8266c4636429", "ef00c3c43f24", "625720a262c6", "aabbccddee01"];
const TARGET = 1.6;

function setup(n, bitrate, latencyMs) {
  const channel = VirtualCanChannel.anonymous({ bitrate, clock: preciseClock });
  const devices = UUIDS.slice(0, n).map((uuid, i) => {
    const d = new SimCanDevice(channel.open({ txQueueLength: 3 }), {
      uuid,
      boot: "katapult",
      flash: { initial: randomBytes(128 * 1024, 100 + i) },
    });
    d.start();
    return d;
  });
  return { channel, devices, host: channel.open({ label: "host", latencyMs }) };
}

async function teardown(s) {
  await s.host.close();
  await Promise.all(s.devices.map((d) => d.close()));
}

async function one(bitrate, image, latencyMs) {
  const s = setup(1, bitrate, latencyMs);
  const t0 = performance.now();
  await runFlash(katapultCanAdapter({ bus: s.host, uuid: UUIDS[0] }), {
    segments: [{ address: APP, data: image }],
  });
  const wall = performance.now() - t0;
  const r = { wall, wire: s.channel.stats.busyMs, flash: s.devices[0].flash.busyMs };
  await teardown(s);
  return r;
}

async function batch(bitrate, image, latencyMs) {
  const s = setup(4, bitrate, latencyMs);
  const gate = new CanBootloaderGate(s.host, UUIDS);
  const jobs = UUIDS.map((uuid) => ({
    id: uuid,
    group: "bus",
    run: (onEvent) =>
      runFlash(
        katapultCanAdapter({ bus: s.host, uuid, gate }),
        { segments: [{ address: APP, data: image }] },
        { onEvent },
      ),
  }));
  const t0 = performance.now();
  const out = await runBatch(jobs);
  const wall = performance.now() - t0;
  if (out.some((o) => o.status !== "ok"))
    throw new Error(`batch failed: ${out.map((o) => o.error?.message).join("; ")}`);
  const r = { wall, wire: s.channel.stats.busyMs };
  await teardown(s);
  return r;
}

export async function benchBatchCan() {
  const image = randomBytes(48 * 1024, 7);
  image.set([0, 0x80, 0, 0x20, 0x01, 0x21, 0, 0x08]);
  console.log(
    "\nBatch over CAN: 4 boards × 48 KiB on one 1 Mbit/s bus vs one board alone (same run)",
  );
  console.log(
    "host latency  one board(ms)  4 boards(ms)  bus floor(ms)  batch/one  floor/one  batch/floor",
  );
  const results = [];
  for (const latencyMs of [0, 0.5]) {
    await one(1_000_000, image, latencyMs); // warm-up
    const single = await one(1_000_000, image, latencyMs);
    const b = await batch(1_000_000, image, latencyMs);
    const floor = Math.max(4 * single.wire, single.wire + single.flash);
    const r = {
      latencyMs,
      ratio: b.wall / single.wall,
      floorRatio: floor / single.wall,
      toFloor: b.wall / floor,
    };
    results.push(r);
    console.log(
      `${`${latencyMs} ms`.padStart(12)}  ${single.wall.toFixed(0).padStart(13)}  ${b.wall.toFixed(0).padStart(12)}  ${floor.toFixed(0).padStart(13)}  ${r.ratio.toFixed(3).padStart(9)}  ${r.floorRatio.toFixed(3).padStart(9)}  ${r.toFloor.toFixed(3).padStart(11)}`,
    );
  }
  console.log(
    `target batch/one <= ${TARGET} (sequential would be ~4). With an instant host the wire alone is ${results[0].floorRatio.toFixed(2)}x one board:`,
  );
  console.log(
    "four boards' writes and read-backs must cross one 1 Mbit/s bus, so the batch is judged against that floor there.",
  );
  return results;
}
