// Katapult over CAN under lost replies: flash + verify of 48 KiB to a
// simulated STM32G0B1-like board (2 KiB pages, old firmware in every page)
// on the 1 Mbit/s bus-time model, on the precise clock, fault-free and with 2 %
// of the device's replies lost (the reply's first frame never arrives, so
// the host sees nothing it can parse) — measured in the same run; the ratio
// is the cost of recovering. Also printed: 2 % of replies duplicated, and 2 %
// of every device frame dropped (a multi-frame reply is then lost far more
// often than 2 %).
//
//   node bench/katapult-faults.mjs   after a build; CANFLASH_DIST=<dir> benches another build,
//   KATAPULT_FAULT_MIXES="2 % replies lost,…" runs only those mixes

import { pathToFileURL } from "node:url";
import { resolve } from "node:path";

const dist = pathToFileURL(
  resolve(process.env.CANFLASH_DIST ?? new URL("../dist", import.meta.url).pathname),
).href;
const { katapultCanAdapter } = await import(`${dist}/bootloaders/katapult/can.js`);
const { VirtualCanChannel } = await import(`${dist}/can/virtual.js`);
const { runFlash } = await import(`${dist}/flasher/execute.js`);
const { SimCanDevice } = await import(`${dist}/sim/device.js`);
const { preciseClock } = await import(`${dist}/util/clock.js`);
const { randomBytes, seededRandom } = await import(`${dist}/util/random.js`);

const UUID = "8266c4636429";
const APP = 0x08002000;
const SIZE = 48 * 1024;
/** 2 % lost replies may cost at most this much over the fault-free flash. */
export const LOST_REPLIES_TARGET = 1.5;
const RATE = 0.02;

const isReplyStart = (f) => (f.id & 0x701) === 0x201 && f.data[0] === 0x01 && f.data[1] === 0x88;

/** Fault mixes: a scripted decision per frame leaving the wire. */
const MIXES = {
  "fault-free": () => undefined,
  "2 % replies lost": (random) => (f) =>
    isReplyStart(f) && random() < RATE ? { kind: "drop" } : undefined,
  "2 % replies duplicated": (random) => (f) =>
    isReplyStart(f) && random() < RATE ? { kind: "duplicate" } : undefined,
  "2 % device frames dropped": (random) => (f) =>
    (f.id & 0x701) === 0x201 && random() < RATE ? { kind: "drop" } : undefined,
};

async function once(mix, seed) {
  const make = MIXES[mix];
  const script = make(seededRandom(seed));
  const channel = VirtualCanChannel.anonymous({
    bitrate: 1_000_000,
    clock: preciseClock,
    ...(script ? { faults: { script } } : {}),
  });
  const notable = [];
  const device = new SimCanDevice(channel.open({ txQueueLength: 3 }), {
    uuid: UUID,
    boot: "katapult",
    flash: { initial: randomBytes(128 * 1024, 99) },
    onEvent: (e) => {
      if (!(e.type === "read" || (e.type === "write" && e.ok))) notable.push(e);
    },
  });
  device.start();
  const host = channel.open({ label: "host" });
  const image = randomBytes(SIZE, 1);
  const t0 = performance.now();
  const adapter = katapultCanAdapter({ bus: host, uuid: UUID });
  let verified = false;
  try {
    const r = await runFlash(
      adapter,
      { segments: [{ address: APP, data: image }] },
      { clock: preciseClock },
    );
    verified = r.verified;
  } catch (e) {
    verified = false;
    console.log(`  ${mix}: flash failed: ${e.message}`);
    for (const n of notable.slice(-12)) console.log(`    device: ${JSON.stringify(n)}`);
  }
  const wall = performance.now() - t0;
  const result = {
    mix,
    wall,
    verified,
    retries: adapter.retries,
    faults: { ...channel.stats.faults },
  };
  await host.close();
  await device.close();
  return result;
}

export async function benchKatapultFaults() {
  console.log(
    `\nKatapult over CAN under faults: flash + verify 48 KiB at 1 Mbit/s (STM32G0-like), precise clock; target: 2 % lost replies <= ${LOST_REPLIES_TARGET}x fault-free`,
  );
  console.log("faults                       wall(ms)  resends  ratio");
  await once("fault-free", 1); // warm-up (JIT)
  const base = await once("fault-free", 1);
  let ok = base.verified;
  console.log(
    `${"fault-free".padEnd(27)} ${base.wall.toFixed(0).padStart(9)}  ${String(base.retries).padStart(7)}  1.000`,
  );
  const only = process.env.KATAPULT_FAULT_MIXES?.split(",");
  for (const mix of Object.keys(MIXES).slice(1)) {
    if (only && !only.includes(mix)) continue;
    const r = await once(mix, 7);
    const ratio = r.wall / base.wall;
    const judged = mix === "2 % replies lost";
    if (judged) ok &&= r.verified && ratio <= LOST_REPLIES_TARGET;
    console.log(
      `${mix.padEnd(27)} ${r.wall.toFixed(0).padStart(9)}  ${String(r.retries).padStart(7)}  ${ratio.toFixed(3)}${judged ? (r.verified && ratio <= LOST_REPLIES_TARGET ? "  ok" : "  ABOVE TARGET") : ""}${r.verified ? "" : "  (not verified)"}`,
    );
  }
  return ok;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const ok = await benchKatapultFaults();
  process.exitCode = ok ? 0 : 1;
}
