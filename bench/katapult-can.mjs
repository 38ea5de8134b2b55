// Katapult over CAN: flash + verify of a 48 KiB image to a simulated
// STM32G0B1-like board (2 KiB pages erased in ~20 ms, old firmware in every
// page) on the bus-time model, at 1 Mbit/s and 500 kbit/s, on the real clock.
// Floor = wire time of the frames the protocol must send (each SEND_BLOCK,
// its ACK, each REQUEST_BLOCK and its reply, and the few setup frames, bit-
// stuffed exactly) + the flash time the simulated chip spent. Ratio = wall / floor.

import { katapultCanAdapter } from "../dist/bootloaders/katapult/can.js";
import {
  Cmd,
  connectFrame,
  completeFrame,
  encodeAck,
  encodeConnectData,
  getCanbusIdFrame,
  PROTO_1_1_0,
  requestBlockFrame,
  sendBlockFrame,
  sendEofFrame,
  u32le,
} from "../dist/bootloaders/katapult/codec.js";
import { frameWireTimeMs } from "../dist/can/bittime.js";
import { canFrame } from "../dist/can/frame.js";
import { VirtualCanChannel } from "../dist/can/virtual.js";
import { runFlash } from "../dist/flasher/execute.js";
import { SimCanDevice } from "../dist/sim/device.js";
import { preciseClock } from "../dist/util/clock.js";
import { randomBytes } from "../dist/util/random.js";

const UUID = "8266c4636429";
const APP = 0x08002000;
const SIZE = 48 * 1024;
const TARGET = 1.25;

/** Wire time of a byte stream cut into 8-byte frames on `id`. */
function streamMs(bytes, id, bitrate) {
  let ms = 0;
  for (let i = 0; i < bytes.length; i += 8)
    ms += frameWireTimeMs(canFrame(id, bytes.subarray(i, i + 8)), bitrate);
  return ms;
}

function floorWireMs(image, bitrate) {
  const TX = 0x200;
  const RX = 0x201;
  let ms = 0;
  // setup: clear, query + reply, set node id, CONNECT, GET_CANBUS_ID, EOF, COMPLETE and their replies
  for (const f of [
    canFrame(0x3f0, [0x12]),
    canFrame(0x3f0, [0]),
    canFrame(0x3f1, [0x20, 0x82, 0x66, 0xc4, 0x63, 0x64, 0x29, 0x11]),
    canFrame(0x3f0, [0x11, 0x82, 0x66, 0xc4, 0x63, 0x64, 0x29, 128]),
  ]) {
    ms += frameWireTimeMs(f, bitrate);
  }
  const connectAck = encodeAck(
    Cmd.CONNECT,
    encodeConnectData({
      protocolVersion: PROTO_1_1_0,
      appStart: APP,
      blockSize: 64,
      mcu: "stm32g0b1xx",
      softwareVersion: "v0.0.1-110-gsim",
    }),
  );
  ms += streamMs(connectFrame(), TX, bitrate) + streamMs(connectAck, RX, bitrate);
  ms +=
    streamMs(getCanbusIdFrame(), TX, bitrate) +
    streamMs(encodeAck(Cmd.GET_CANBUS_ID, new Uint8Array(8)), RX, bitrate);
  ms +=
    streamMs(sendEofFrame(), TX, bitrate) +
    streamMs(encodeAck(Cmd.SEND_EOF, u32le(24)), RX, bitrate);
  ms += streamMs(completeFrame(), TX, bitrate) + streamMs(encodeAck(Cmd.COMPLETE), RX, bitrate);
  for (let off = 0; off < image.length; off += 64) {
    const data = image.subarray(off, off + 64);
    const addr = APP + off;
    ms += streamMs(sendBlockFrame(addr, data), TX, bitrate);
    ms += streamMs(encodeAck(Cmd.SEND_BLOCK, u32le(addr)), RX, bitrate);
    ms += streamMs(requestBlockFrame(addr), TX, bitrate);
    ms += streamMs(
      encodeAck(Cmd.REQUEST_BLOCK, Uint8Array.from([...u32le(addr), ...data])),
      RX,
      bitrate,
    );
  }
  return ms;
}

async function once(bitrate) {
  const channel = VirtualCanChannel.anonymous({ bitrate, clock: preciseClock });
  const old = randomBytes(128 * 1024, 99); // previous firmware: every page must be erased
  const device = new SimCanDevice(channel.open({ txQueueLength: 3 }), {
    uuid: UUID,
    boot: "katapult",
    flash: { initial: old },
  });
  device.start();
  const host = channel.open({ label: "host" });
  const image = randomBytes(SIZE, 1);
  const t0 = performance.now();
  const r = await runFlash(
    katapultCanAdapter({ bus: host, uuid: UUID }),
    { segments: [{ address: APP, data: image }] },
    { clock: preciseClock },
  );
  const wall = performance.now() - t0;
  if (!r.verified) throw new Error("flash did not verify");
  const wire = floorWireMs(image, bitrate);
  const flash = device.flash.busyMs;
  const result = {
    bitrate,
    wall,
    wire,
    flash,
    floor: wire + flash,
    busy: channel.stats.busyMs,
    erases: device.flash.erases,
    write: r.phaseMs.write,
    verify: r.phaseMs.verify,
  };
  await host.close();
  await device.close();
  return result;
}

export async function benchKatapultCan() {
  console.log(
    "\nKatapult over CAN: flash + verify 48 KiB, STM32G0-like flash (2 KiB pages, 20 ms erase, 0.7 ms/block)",
  );
  console.log(
    "bitrate    wall(ms)  floor(ms) = wire + flash   bus busy(ms)  ratio  (target <= 1.25)",
  );
  let ok = true;
  for (const bitrate of [1_000_000, 500_000]) {
    await once(bitrate); // warm-up (JIT)
    const r = await once(bitrate);
    const ratio = r.wall / r.floor;
    ok &&= ratio <= TARGET;
    console.log(
      `${String(bitrate / 1000).padStart(5)} k  ${r.wall.toFixed(0).padStart(9)}  ${r.floor.toFixed(0).padStart(9)} = ${r.wire.toFixed(0).padStart(4)} + ${r.flash.toFixed(0).padStart(4)}   ${r.busy.toFixed(0).padStart(12)}  ${ratio.toFixed(3)}  ${ratio <= TARGET ? "ok" : "ABOVE TARGET"}`,
    );
  }
  return ok;
}

/** The bus-time model on the real clock: 1,000 8-byte frames vs their modelled wire time. */
export async function benchBusModel() {
  const bitrate = 1_000_000;
  const ch = VirtualCanChannel.anonymous({ bitrate, clock: preciseClock });
  const tx = ch.open();
  const rx = ch.open();
  const frames = Array.from({ length: 1000 }, (_, i) =>
    canFrame(0x100 + (i % 64), [i & 0xff, i >> 8, 1, 2, 3, 4, 5, 6]),
  );
  const modelled = frames.reduce((t, f) => t + frameWireTimeMs(f, bitrate), 0);
  const t0 = performance.now();
  let last = 0;
  const got = (async () => {
    for (let i = 0; i < frames.length; i++) {
      await rx.recv();
      last = performance.now();
    }
  })();
  for (const f of frames) await tx.send(f);
  await got;
  await tx.close();
  await rx.close();
  const wall = last - t0;
  console.log(
    `\nBus-time model on the real clock: 1,000 8-byte frames at 1 Mbit/s: wall ${wall.toFixed(1)} ms, modelled ${modelled.toFixed(1)} ms, ratio ${(wall / modelled).toFixed(4)}`,
  );
}
