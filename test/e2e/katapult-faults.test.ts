// Safety under faults: with seeded drop/duplicate/reorder/delay on the bus,
// every run either verifies and completes, or fails with the node still in
// Katapult — and no run ever completes with a flash that differs from the file.
import { describe, expect, it } from "vitest";
import { katapultCanAdapter } from "../../src/bootloaders/katapult/can.js";
import { FlashError } from "../../src/flasher/errors.js";
import { runFlash } from "../../src/flasher/execute.js";
import { parseUuid } from "../../src/klippy-bridge/uuid.js";
import type { FaultOptions } from "../../src/can/faults.js";
import { CanflashError } from "../../src/util/errors.js";
import { randomBytes } from "../../src/util/random.js";
import { simBus } from "../fakes/sim-bus.js";

const UUID = parseUuid("8266c4636429");
const APP = 0x08002000;

interface Outcome {
  completed: boolean;
  failedPhase?: string;
  causeCode?: string;
}

async function faultyFlash(
  seed: number,
  faults: Omit<FaultOptions, "seed">,
  imageSize: number,
): Promise<Outcome> {
  const sim = simBus({ bitrate: 1_000_000, faults: { seed, ...faults } });
  const node = sim.add({ uuid: UUID, boot: "katapult" });
  const image = randomBytes(imageSize, seed ^ 0x5a5a);
  image.set([0, 0x80, 0, 0x20, 0x01, 0x21, 0, 0x08]);
  let outcome: Outcome;
  try {
    const r = await sim.run(
      runFlash(
        katapultCanAdapter({
          bus: sim.host,
          uuid: UUID,
          timeouts: { replyMs: 200, sendBlockMs: 500 },
        }),
        { segments: [{ address: APP, data: image }] },
        { clock: sim.clock },
      ),
    );
    expect(r.verified).toBe(true);
    outcome = { completed: true };
  } catch (e) {
    expect(e).toBeInstanceOf(FlashError);
    const fe = e as FlashError;
    expect(fe.cause).toBeInstanceOf(CanflashError);
    outcome = { completed: false, failedPhase: fe.phase, causeCode: fe.causeCode };
  }
  await sim.clock.advance(500); // a COMPLETE, if sent, has started the application by now
  const completeSent = node.events.some((e) => e.type === "complete");
  const app = node.flash.read(APP, image.length);
  if (completeSent) {
    // The safety property: the application is only ever started on a verified, identical image.
    expect(app).toEqual(image);
  } else {
    expect(node.state.mode).toBe("katapult");
  }
  if (!outcome.completed && outcome.failedPhase !== "finish") expect(completeSent).toBe(false);
  await sim.close();
  return outcome;
}

describe("Katapult over CAN under seeded bus faults", () => {
  it("200 runs, 2% each of drop/duplicate/reorder/delay on every frame: verified-and-complete or left in Katapult", async () => {
    const outcomes: Outcome[] = [];
    for (let seed = 1; seed <= 200; seed++) {
      outcomes.push(
        await faultyFlash(
          seed,
          { drop: 0.02, duplicate: 0.02, reorder: 0.02, delay: 0.02, delayMs: 3 },
          2048,
        ),
      );
    }
    const failures = outcomes.filter((o) => !o.completed);
    expect(Object.keys(tally(outcomes)).length).toBeGreaterThan(0);
    // Faults on host→device frames corrupt Katapult frames (the device wedges or NACKs): most runs fail, safely.
    expect(failures.length).toBeGreaterThan(0);
    const codes = new Set(failures.map((f) => f.causeCode));
    for (const c of codes)
      expect([
        "KATAPULT_WEDGED",
        "KATAPULT_NO_RESPONSE",
        "NO_NODE",
        "KATAPULT_COMMAND_ERROR",
        "UUID_MISMATCH",
      ]).toContain(c);
  }, 120_000);

  it("faults only on device→host frames: the host's retries carry (almost) every run through", async () => {
    const outcomes: Outcome[] = [];
    for (let seed = 1; seed <= 50; seed++) {
      outcomes.push(
        await faultyFlash(
          seed,
          {
            drop: 0.02,
            duplicate: 0.02,
            reorder: 0.02,
            delay: 0.02,
            delayMs: 3,
            appliesTo: [
              { id: 0x101, mask: 0x101 },
              { id: 0x3f1, mask: 0x7ff },
            ],
          },
          4096,
        ),
      );
    }
    const completed = outcomes.filter((o) => o.completed).length;
    expect(completed).toBeGreaterThanOrEqual(45);
  }, 120_000);
});

function tally(outcomes: Outcome[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const o of outcomes) {
    const k = o.completed ? "completed" : `${o.failedPhase}:${o.causeCode}`;
    t[k] = (t[k] ?? 0) + 1;
  }
  return t;
}
