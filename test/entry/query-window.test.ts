// The adaptive query window (issue 17 item 3) on virtual time: it ends once
// the bus has been quiet QUERY_QUIET_MS after the last answer, never before
// the floor and never after the upper bound; a fixed window (--query-ms)
// listens its whole length. Nodes that answer late (the sim's
// queryReplyDelayMs) are found as long as they answer within the floor or
// within the quiet period of the answer before them.
import { describe, expect, it } from "vitest";
import {
  QUERY_FIRST_ANSWER_MS,
  QUERY_QUIET_MS,
  QUERY_WINDOW_MS,
  queryNodes,
} from "../../src/entry/can-admin.js";
import {
  CanBootloaderGate,
  NODE_POLL_INTERVAL_MS,
  NODE_REPOLL_MS,
  waitForKatapult,
} from "../../src/entry/can-request.js";
import { parseUuid } from "../../src/klippy-bridge/uuid.js";
import type { SimCanDeviceOptions } from "../../src/sim/device.js";
import { scanCanBus } from "../../src/flasher/scan.js";
import { PROBE_REPLY_MS } from "../../src/klippy-bridge/assigned.js";
import { simBus } from "../fakes/sim-bus.js";

const uuid = (i: number) => parseUuid(`0000000001${i.toString(16).padStart(2, "0")}`);

/** A Katapult (even i) or Klipper (odd i) node whose answer leaves `delay` ms after the query. */
function late(i: number, delay: number): SimCanDeviceOptions {
  return i % 2 === 0
    ? { uuid: uuid(i), boot: "katapult", katapult: { queryReplyDelayMs: delay } }
    : { uuid: uuid(i), boot: "klipper", klipper: { queryReplyDelayMs: delay } };
}

async function timedQuery(
  boards: SimCanDeviceOptions[],
  options: Parameters<typeof queryNodes>[1] = {},
) {
  const sim = simBus({ bitrate: 500_000 });
  for (const b of boards) sim.add(b);
  const t0 = sim.clock.now();
  const answers = await sim.run(queryNodes(sim.host, options));
  const ms = sim.clock.now() - t0;
  await sim.close();
  return { uuids: answers.map((a) => a.uuid).sort(), ms };
}

describe("the adaptive query window", () => {
  it("nodes that answer at once: the window ends at the floor, not the old fixed 1,000 ms", async () => {
    const r = await timedQuery([late(0, 0), late(1, 0), late(2, 0)]);
    expect(r.uuids).toEqual([uuid(0), uuid(1), uuid(2)]);
    expect(r.ms).toBeGreaterThanOrEqual(QUERY_FIRST_ANSWER_MS);
    expect(r.ms).toBeLessThan(QUERY_FIRST_ANSWER_MS + 5);
  });

  it("no node at all: it still listens the floor", async () => {
    const r = await timedQuery([]);
    expect(r.uuids).toEqual([]);
    expect(r.ms).toBeGreaterThanOrEqual(QUERY_FIRST_ANSWER_MS);
    expect(r.ms).toBeLessThan(QUERY_FIRST_ANSWER_MS + 5);
  });

  it("a lone slow answerer inside the floor is found", async () => {
    const r = await timedQuery([late(0, QUERY_FIRST_ANSWER_MS - 10)]);
    expect(r.uuids).toEqual([uuid(0)]);
    // The quiet period runs from its answer.
    expect(r.ms).toBeGreaterThanOrEqual(QUERY_FIRST_ANSWER_MS - 10 + QUERY_QUIET_MS);
  });

  it("answers that keep coming within the quiet period of each other are all found, past the floor", async () => {
    const step = QUERY_QUIET_MS - 10;
    const boards = Array.from({ length: 8 }, (_, i) => late(i, i * step));
    const r = await timedQuery(boards);
    expect(r.uuids).toEqual(boards.map((b) => b.uuid).sort());
    const lastAnswer = 7 * step;
    expect(lastAnswer).toBeGreaterThan(QUERY_FIRST_ANSWER_MS);
    expect(r.ms).toBeGreaterThanOrEqual(lastAnswer + QUERY_QUIET_MS);
    expect(r.ms).toBeLessThan(lastAnswer + QUERY_QUIET_MS + 5);
  });

  it("is bounded: a bus that never goes quiet ends at the upper bound", async () => {
    const step = QUERY_QUIET_MS - 10;
    const n = Math.ceil((QUERY_WINDOW_MS + 200) / step);
    const boards = Array.from({ length: n }, (_, i) => late(i, i * step));
    const r = await timedQuery(boards);
    expect(r.ms).toBeGreaterThanOrEqual(QUERY_WINDOW_MS);
    expect(r.ms).toBeLessThan(QUERY_WINDOW_MS + 5);
    const inWindow = boards.filter((_, i) => i * step < QUERY_WINDOW_MS - 1).map((b) => b.uuid);
    expect(r.uuids).toEqual(inWindow.sort());
  });

  it("a node that answers long after the bus went quiet is left out, and a fixed window finds it", async () => {
    const boards = [late(0, 0), late(1, 500)];
    const adaptive = await timedQuery(boards);
    expect(adaptive.uuids).toEqual([uuid(0)]);
    const fixed = await timedQuery(boards, { windowMs: 600 });
    expect(fixed.uuids).toEqual([uuid(0), uuid(1)]);
    expect(fixed.ms).toBeGreaterThanOrEqual(600);
    expect(fixed.ms).toBeLessThan(605);
  });

  it("a fixed window shorter than the floor is kept", async () => {
    const r = await timedQuery([late(0, 0)], { windowMs: 60 });
    expect(r.uuids).toEqual([uuid(0)]);
    expect(r.ms).toBeLessThan(65);
  });
});

describe("the bootloader gate's windows", () => {
  it("a node already in Katapult: it arrives with the first answer", async () => {
    const sim = simBus({ bitrate: 500_000 });
    sim.add(late(0, 0));
    const t0 = sim.clock.now();
    const a = await sim.run(waitForKatapult(sim.host, uuid(0)));
    expect(a).toMatchObject({ nodeId: 128, requested: false, firstSeenAs: "katapult" });
    expect(sim.clock.now() - t0).toBeLessThan(5);
    await sim.close();
  });

  it("a Klipper node: requested at its first answer, seen as Katapult within one re-poll of its reboot", async () => {
    const rebootMs = 50;
    const sim = simBus({ bitrate: 500_000 });
    sim.add({ uuid: uuid(1), boot: "klipper", klipper: { bootloaderDelayMs: rebootMs } });
    const t0 = sim.clock.now();
    const a = await sim.run(waitForKatapult(sim.host, uuid(1)));
    const ms = sim.clock.now() - t0;
    expect(a).toMatchObject({ nodeId: 128, requested: true, firstSeenAs: "klipper" });
    // Not the rest of the first poll window, nor a whole poll interval after the reboot.
    expect(ms).toBeGreaterThanOrEqual(rebootMs);
    expect(ms).toBeLessThan(rebootMs + NODE_REPOLL_MS + 5);
    expect(rebootMs + NODE_REPOLL_MS).toBeLessThan(NODE_POLL_INTERVAL_MS);
    await sim.close();
  });

  it("a node silent through the first window (it holds a node id) is still requested after it", async () => {
    const sim = simBus({ bitrate: 500_000 });
    sim.add({
      uuid: uuid(3),
      boot: "klipper",
      klipper: { bootloaderDelayMs: 50, heldByNodeId: 5 },
    });
    const reasons: string[] = [];
    const t0 = sim.clock.now();
    const a = await sim.run(
      waitForKatapult(sim.host, uuid(3), { onRequest: (w) => reasons.push(w) }),
    );
    expect(reasons).toEqual(["no-answer"]);
    expect(a.requested).toBe(true);
    expect(sim.clock.now() - t0).toBeGreaterThanOrEqual(NODE_POLL_INTERVAL_MS + 50);
    await sim.close();
  });
});

describe("the flash path's identify pass (scanCanBus with wanted nodes)", () => {
  it("the wanted node answers as Katapult: the pass ends with its answer, the probes are not waited for", async () => {
    const sim = simBus({ bitrate: 500_000 });
    sim.add(late(0, 0));
    const other = sim.add(late(1, 0));
    const t0 = sim.clock.now();
    const r = await sim.run(scanCanBus(sim.host, { identify: true, wanted: [uuid(0)] }));
    expect(sim.clock.now() - t0).toBeLessThan(5);
    expect(r.nodes.find((n) => n.uuid === uuid(0))?.application).toBe("Katapult");
    // Nothing to identify: the Klipper node that is not wanted was left alone.
    expect(other.events.some((e) => e.type === "assigned")).toBe(false);
    await sim.close();
  });

  it("the wanted node runs Klipper: only it is identified, after the probes of the ids identify hands out", async () => {
    const sim = simBus({ bitrate: 500_000 });
    const wantedNode = sim.add(late(1, 0));
    const other = sim.add(late(3, 0));
    const t0 = sim.clock.now();
    const r = await sim.run(scanCanBus(sim.host, { identify: true, wanted: [uuid(1)] }));
    expect(sim.clock.now() - t0).toBeGreaterThanOrEqual(PROBE_REPLY_MS);
    expect(r.nodes.find((n) => n.uuid === uuid(1))?.dictionary?.mcu).toBe("stm32g0b1xx");
    expect(wantedNode.events.some((e) => e.type === "assigned")).toBe(true);
    expect(other.events.some((e) => e.type === "assigned")).toBe(false);
    await sim.close();
  });

  it("every wanted node answered the query: a node found on a probed id only marks the id taken, it is not identified", async () => {
    const sim = simBus({ bitrate: 500_000 });
    sim.add(late(1, 0));
    sim.add({ uuid: uuid(9), boot: "klipper", klipper: { heldByNodeId: 5 } });
    const r = await sim.run(
      scanCanBus(sim.host, { identify: true, wanted: [uuid(1)], probeIds: [5, 6] }),
    );
    expect(r.nodes.map((n) => n.uuid)).toEqual([uuid(1)]);
    expect(r.unnamed).toEqual([]);
    expect(r.nodes[0]?.dictionary).toBeDefined();
    // Without wanted nodes (the query, -q), it is identified.
    const all = await sim.run(scanCanBus(sim.host, { identify: true, probeIds: [5, 6] }));
    expect(all.nodes.find((n) => n.uuid === uuid(9))).toMatchObject({
      found: "node-id",
      nodeId: 5,
    });
    await sim.close();
  });

  it("a wanted node that holds a node id (silent to the query) is still found by the probes", async () => {
    const sim = simBus({ bitrate: 500_000 });
    sim.add(late(0, 0));
    sim.add({ uuid: uuid(5), boot: "klipper", klipper: { heldByNodeId: 200 } });
    const r = await sim.run(scanCanBus(sim.host, { identify: true, wanted: [uuid(0), uuid(5)] }));
    expect(r.nodes.find((n) => n.uuid === uuid(5))).toMatchObject({
      found: "node-id",
      nodeId: 200,
    });
    await sim.close();
  });

  it("the gate requests a node known to run Klipper at once, though it holds a node id and is silent", async () => {
    const rebootMs = 50;
    const sim = simBus({ bitrate: 500_000 });
    sim.add({
      uuid: uuid(7),
      boot: "klipper",
      klipper: { bootloaderDelayMs: rebootMs, heldByNodeId: 200 },
    });
    const reasons: string[] = [];
    const t0 = sim.clock.now();
    const a = await sim.run(
      new CanBootloaderGate(sim.host, [uuid(7)], {
        knownKlipper: [uuid(7)],
        onRequest: (_u, why) => reasons.push(why),
      }).arrival(uuid(7)),
    );
    expect(reasons).toEqual(["answered-as-klipper"]);
    expect(a).toMatchObject({ requested: true, firstSeenAs: "klipper", nodeId: 128 });
    expect(sim.clock.now() - t0).toBeLessThan(rebootMs + NODE_REPOLL_MS + 5);
    await sim.close();
  });
});
