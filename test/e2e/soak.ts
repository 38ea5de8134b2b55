// The seeded fault soak on the virtual bus (shared by the single-board and
// batch soak files): flash runs under one fault mix each, and on every run
// the invariant — each board either verified and started the image, or was
// left in its bootloader with an error that says why (or, when nothing was
// written, sent back to the application it had); never started with a
// flash that differs from the image. Runs per mix: CANFLASH_SOAK_RUNS
// (`npm run soak`: 1,000), else the file's default.
import { expect } from "vitest";
import { katapultCanAdapter } from "../../src/bootloaders/katapult/can.js";
import type { FaultOptions } from "../../src/can/faults.js";
import { CanBootloaderGate } from "../../src/entry/can-request.js";
import { runBatch, type BatchJob } from "../../src/flasher/batch.js";
import { FlashError } from "../../src/flasher/errors.js";
import { runFlash } from "../../src/flasher/execute.js";
import { parseUuid, type Uuid } from "../../src/klippy-bridge/uuid.js";
import type { SimCanDevice } from "../../src/sim/device.js";
import { CanflashError } from "../../src/util/errors.js";
import { randomBytes } from "../../src/util/random.js";
import { simBus } from "../fakes/sim-bus.js";

export const APP = 0x08002000;
export const UUIDS = ["8266c4636429", "ef00c3c43f24", "625720a262c6", "aabbccddee01"].map(
  parseUuid,
);

/** About 2 % of frames faulted. */
const RATES: Record<string, Omit<FaultOptions, "seed">> = {
  drop: { drop: 0.02 },
  duplicate: { duplicate: 0.02 },
  reorder: { reorder: 0.02 },
  delay: { delay: 0.02, delayMs: 5 },
  mix: { drop: 0.005, duplicate: 0.005, reorder: 0.005, delay: 0.005, delayMs: 5 },
};

/** Frames the devices send: their Katapult replies (odd ids 0x101…0x2ff) and admin answers (0x3f1). */
const FROM_DEVICES = [
  { id: 0x101, mask: 0x101 },
  { id: 0x3f1, mask: 0x7ff },
];

/**
 * The mixes, each on two scopes: every frame of the bus (a lost or late
 * host→device fragment corrupts Katapult's byte stream, and the firmware
 * wedges: those runs must fail safely), and only the devices' frames
 * (lost, doubled or late replies: the host must recover).
 */
export const MIXES: Record<string, Omit<FaultOptions, "seed">> = Object.fromEntries(
  Object.entries(RATES).flatMap(([name, f]) => [
    [`${name}/all`, f],
    [`${name}/replies`, { ...f, appliesTo: FROM_DEVICES }],
  ]),
);

export function soakRuns(fallback: number): number {
  const n = Number(process.env.CANFLASH_SOAK_RUNS);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

/** completed: the image verified and started; failed-safe: left in Katapult; old-app: nothing written, running its old application. */
export type BoardOutcome = "completed" | "failed-safe" | "old-app";

/** Asserts the invariant for one board after its run; returns what happened to it. */
export function checkBoard(
  node: SimCanDevice,
  image: Uint8Array,
  before: Uint8Array,
  error: unknown,
  where: string,
): BoardOutcome {
  const started = node.events.some((e) => e.type === "complete");
  const wroteAny = node.events.some((e) => e.type === "write" && e.ok);
  const app = node.flash.read(APP, image.length);
  if (error === undefined) {
    expect(started, where).toBe(true);
    expect(app, where).toEqual(image);
    return "completed";
  }
  // Failed: the error says why.
  expect(error, where).toBeInstanceOf(CanflashError);
  expect((error as Error).message.length, where).toBeGreaterThan(0);
  if (started) {
    // Started anyway: only the verified image (COMPLETE's ACK lost), or the untouched old
    // application when nothing was written.
    if (wroteAny) expect(app, where).toEqual(image);
    else expect(app, where).toEqual(before.subarray(0, image.length));
    return wroteAny ? "completed" : "old-app";
  }
  if (node.state.mode === "klipper") {
    // Never taken into its bootloader (e.g. the gate gave up first): untouched.
    expect(wroteAny, where).toBe(false);
    expect(app, where).toEqual(before.subarray(0, image.length));
    return "old-app";
  }
  expect(node.state.mode, where).toBe("katapult");
  return "failed-safe";
}

export function soakImage(size: number, seed: number): Uint8Array {
  const img = randomBytes(size, seed);
  img.set([0, 0x80, 0, 0x20, 0x01, 0x21, 0, 0x08]);
  return img;
}

const SOAK_TIMEOUTS = { replyMs: 200, sendBlockMs: 500 };

/** One board in Katapult, one flash. */
export async function soakSingle(
  seed: number,
  faults: Omit<FaultOptions, "seed">,
  imageSize: number,
): Promise<{ outcome: BoardOutcome; code?: string }> {
  const sim = simBus({ bitrate: 1_000_000, faults: { seed, ...faults } });
  const node = sim.add({ uuid: UUIDS[0]!, boot: "katapult" });
  const before = node.flash.read(APP, imageSize);
  const image = soakImage(imageSize, seed ^ 0x5a5a);
  let error: unknown;
  try {
    const r = await sim.run(
      runFlash(
        katapultCanAdapter({ bus: sim.host, uuid: UUIDS[0]!, timeouts: SOAK_TIMEOUTS }),
        { segments: [{ address: APP, data: image }] },
        { clock: sim.clock },
      ),
    );
    expect(r.verified).toBe(true);
  } catch (e) {
    expect(e).toBeInstanceOf(FlashError);
    error = (e as FlashError).cause;
  }
  try {
    await sim.clock.advance(500); // a COMPLETE, if sent, has started the application by now
    const outcome = checkBoard(node, image, before, error, `seed ${seed}`);
    return { outcome, ...(error ? { code: (error as CanflashError).code } : {}) };
  } finally {
    await sim.close();
  }
}

/** Four boards (two in Katapult, two running Klipper) flashed at once through one gate. */
export async function soakBatch(
  seed: number,
  faults: Omit<FaultOptions, "seed">,
  imageSize: number,
): Promise<Array<{ outcome: BoardOutcome; code?: string }>> {
  const sim = simBus({ bitrate: 1_000_000, faults: { seed, ...faults } });
  const nodes = UUIDS.map((uuid, i) =>
    sim.add({
      uuid,
      boot: i < 2 ? "katapult" : "klipper",
      klipper: { bootloaderDelayMs: 50 },
      // The Klipper boards carry an old application (the one they run).
      ...(i >= 2 ? { flash: { initial: soakImage(128 * 1024, seed + i) } } : {}),
    }),
  );
  const before = nodes.map((n) => n.flash.read(APP, imageSize));
  const image = soakImage(imageSize, seed ^ 0xa5a5);
  const gate = new CanBootloaderGate(sim.host, UUIDS, { timeoutMs: 3000 });
  const jobs: BatchJob[] = UUIDS.map((uuid: Uuid) => ({
    id: uuid,
    group: "bus",
    run: (onEvent, signal) =>
      runFlash(
        katapultCanAdapter({ bus: sim.host, uuid, gate, timeouts: SOAK_TIMEOUTS }),
        { segments: [{ address: APP, data: image }] },
        { clock: sim.clock, onEvent, ...(signal ? { signal } : {}) },
      ),
  }));
  try {
    const out = await sim.run(runBatch(jobs, { keepGoing: true, now: () => sim.clock.now() }));
    await sim.clock.advance(500);
    return out.map((o, i) => {
      if (o.status === "ok") expect(o.result?.verified).toBe(true);
      const err = o.error instanceof FlashError ? o.error.cause : o.error;
      const outcome = checkBoard(nodes[i]!, image, before[i]!, err, `seed ${seed} board ${i}`);
      return { outcome, ...(err ? { code: (err as CanflashError).code } : {}) };
    });
  } finally {
    await sim.close();
  }
}

/** Counts per outcome and per failure code, printed as one line per mix. */
export function tally(mix: string, outcomes: Array<{ outcome: BoardOutcome; code?: string }>) {
  const t = { completed: 0, "failed-safe": 0, "old-app": 0 };
  const codes: Record<string, number> = {};
  for (const o of outcomes) {
    t[o.outcome]++;
    if (o.code) codes[o.code] = (codes[o.code] ?? 0) + 1;
  }
  const line = `${mix.padEnd(18)} ${String(outcomes.length).padStart(5)} boards: ${t.completed} completed, ${t["failed-safe"]} failed-safe (left in Katapult), ${t["old-app"]} untouched or back in their old application; failures: ${
    Object.entries(codes)
      .map(([c, n]) => `${c} ${n}`)
      .join(", ") || "none"
  }`;
  return { ...t, codes, line };
}

/** Prints a result line (the soak's counts are part of its output). */
export function report(line: string): void {
  process.stdout.write(`${line}\n`);
}
