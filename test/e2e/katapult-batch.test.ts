// Several Katapult/Klipper nodes on one bus: one clear, one request round,
// each node its own node id, flashed concurrently; the bridge last.
import { describe, expect, it } from "vitest";
import { katapultCanAdapter } from "../../src/bootloaders/katapult/can.js";
import { CanBootloaderGate } from "../../src/entry/can-request.js";
import { runBatch, type BatchJob } from "../../src/flasher/batch.js";
import { runFlash } from "../../src/flasher/execute.js";
import { parseUuid, type Uuid } from "../../src/klippy-bridge/uuid.js";
import { randomBytes } from "../../src/util/random.js";
import { simBus } from "../fakes/sim-bus.js";

const UUIDS = ["8266c4636429", "ef00c3c43f24", "625720a262c6", "aabbccddee01"].map(parseUuid);
const APP = 0x08002000;

function image(size: number, seed: number): Uint8Array {
  const img = randomBytes(size, seed);
  img.set([0, 0x80, 0, 0x20, 0x01, 0x21, 0, 0x08]);
  return img;
}

describe("batch flashing on one bus", () => {
  it("flashes 4 boards (2 in Katapult, 2 running Klipper) concurrently with one request round", async () => {
    const sim = simBus({ bitrate: 1_000_000 });
    const nodes = UUIDS.map((uuid, i) =>
      sim.add({ uuid, boot: i < 2 ? "katapult" : "klipper", klipper: { bootloaderDelayMs: 300 } }),
    );
    const img = image(16 * 1024, 5);
    const requests: Uuid[] = [];
    const gate = new CanBootloaderGate(sim.host, UUIDS, { onRequest: (u) => requests.push(u) });
    const jobs: BatchJob[] = UUIDS.map((uuid) => ({
      id: uuid,
      group: "bus",
      run: (onEvent, signal) =>
        runFlash(
          katapultCanAdapter({ bus: sim.host, uuid, gate }),
          { segments: [{ address: APP, data: img }] },
          { clock: sim.clock, onEvent, ...(signal ? { signal } : {}) },
        ),
    }));
    const out = await sim.run(runBatch(jobs, { now: () => sim.clock.now() }));
    expect(out.map((o) => o.status)).toEqual(["ok", "ok", "ok", "ok"]);
    expect(requests.sort()).toEqual([UUIDS[2], UUIDS[3]].sort()); // once each, only the Klipper ones
    const ids = new Set(
      nodes
        .map((n) => n.events.find((e) => e.type === "assigned"))
        .map((e) => (e as { nodeId: number }).nodeId),
    );
    expect(ids.size).toBe(4);
    for (const n of nodes) expect(n.writtenApplication()).toEqual(img);
    // Concurrent: the flashes overlap in time instead of running one after another.
    const spans = out.map((o) => o.ms);
    const total = Math.max(...spans);
    expect(total).toBeLessThan(spans.reduce((a, b) => a + b, 0) * 0.6);
    await sim.close();
  });

  it("stops starting boards after a failure unless keep-going; a missing board fails alone with keep-going", async () => {
    for (const keepGoing of [false, true]) {
      const sim = simBus({ bitrate: 1_000_000 });
      sim.add({ uuid: UUIDS[0]!, boot: "katapult" });
      const missing = parseUuid("0000000000aa");
      const gate = new CanBootloaderGate(sim.host, [missing, UUIDS[0]!], { timeoutMs: 500 });
      const img = image(2048, 6);
      const jobs: BatchJob[] = [missing, UUIDS[0]!].map((uuid) => ({
        id: uuid,
        group: "bus",
        run: (onEvent) =>
          runFlash(
            katapultCanAdapter({ bus: sim.host, uuid, gate }),
            { segments: [{ address: APP, data: img }] },
            { clock: sim.clock, onEvent },
          ),
      }));
      const out = await sim.run(runBatch(jobs, { jobs: 1, keepGoing }));
      expect(out[0]!.status).toBe("failed");
      expect(out[1]!.status).toBe(keepGoing ? "ok" : "skipped");
      await sim.close();
    }
  });

  it("runs jobs marked last (the bridge) after the rest of their group", async () => {
    const order: string[] = [];
    const fake = (id: string, last = false): BatchJob => ({
      id,
      group: "can0",
      last,
      run: async () => {
        order.push(`start ${id}`);
        await new Promise((r) => setTimeout(r, 5));
        order.push(`end ${id}`);
        return {} as never;
      },
    });
    await runBatch([fake("bridge", true), fake("a"), fake("b")]);
    expect(order.slice(-2)).toEqual(["start bridge", "end bridge"]);
    expect(order.indexOf("end a")).toBeLessThan(order.indexOf("start bridge"));
  });
});
