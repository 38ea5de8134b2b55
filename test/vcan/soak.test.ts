// The fault soak on the real kernel CAN stack (UML): the host on vxsoak0,
// simulated boards (in this process, so they can be inspected and reset) on
// its vxcan peer vxsoak1, and netem on the sending side's qdisc dropping or
// duplicating ~2 % of the frames that cross. vxcan rather than vcan: on a
// vcan, local receivers get a frame from the CAN core before the qdisc
// unless the module was loaded with echo=1, and that parameter is read once
// for every vcan (it would change vcan0, vcanq and vcanstall, which the other
// files rely on); cangw re-sends through the same local loopback and has no
// random drop of its own. Between vxcan ends a frame only crosses through
// the sender's qdisc. Every run checks the invariant of the virtual-bus soak
// (test/e2e/soak.ts); the counts are printed; runs are bounded
// (CANFLASH_VCAN_SOAK_RUNS, default 6 per mix) so the lane stays short.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { katapultCanAdapter } from "../../src/bootloaders/katapult/can.js";
import { openCanBus } from "../../src/can/backends.js";
import type { CanBus } from "../../src/can/bus.js";
import { CanBootloaderGate } from "../../src/entry/can-request.js";
import { runBatch, type BatchJob } from "../../src/flasher/batch.js";
import { FlashError } from "../../src/flasher/errors.js";
import { runFlash } from "../../src/flasher/execute.js";
import { SimCanDevice } from "../../src/sim/device.js";
import { realClock } from "../../src/util/clock.js";
import {
  APP,
  checkBoard,
  report,
  soakImage,
  tally,
  UUIDS,
  type BoardOutcome,
} from "../e2e/soak.js";
import { run } from "./helpers.js";

const HOST_IF = "vxsoak0";
const BOARD_IF = "vxsoak1";
const RUNS = Number(process.env.CANFLASH_VCAN_SOAK_RUNS) || 6;
const IMAGE = 3 * 1024;
/** Short bounds: a wedged board (most runs with faults toward it) fails in about 2 s. */
const TIMEOUTS = { replyMs: 300, sendBlockMs: 600 };

interface Mix {
  name: string;
  /** netem arguments for frames toward the boards (host side) and toward the host (board side). */
  toBoards?: string;
  toHost?: string;
}

const MIXES: Mix[] = [
  { name: "replies lost", toHost: "loss 2%" },
  { name: "replies duplicated", toHost: "duplicate 2%" },
  { name: "all lost", toBoards: "loss 2%", toHost: "loss 2%" },
  { name: "all duplicated", toBoards: "duplicate 2%", toHost: "duplicate 2%" },
];

async function netem(dev: string, args: string | undefined): Promise<void> {
  await run("tc", ["qdisc", "del", "dev", dev, "root"]).catch(() => undefined);
  if (args) await run("tc", ["qdisc", "add", "dev", dev, "root", "netem", ...args.split(" ")]);
}

async function netemCounts(dev: string): Promise<{ sent: number; drops: number }> {
  const { stdout } = await run("tc", ["-s", "-j", "qdisc", "show", "dev", dev]);
  const q = JSON.parse(stdout) as Array<{ kind: string; packets?: number; drops?: number }>;
  const n = q.find((x) => x.kind === "netem");
  return { sent: n?.packets ?? 0, drops: n?.drops ?? 0 };
}

async function boards(n: number): Promise<SimCanDevice[]> {
  const out: SimCanDevice[] = [];
  for (let i = 0; i < n; i++) {
    const d = new SimCanDevice(await openCanBus(BOARD_IF), {
      uuid: UUIDS[i]!,
      boot: i < 2 ? "katapult" : "klipper",
      klipper: { bootloaderDelayMs: 50 },
      ...(i >= 2 ? { flash: { initial: soakImage(128 * 1024, 100 + i) } } : {}),
    });
    d.start();
    out.push(d);
  }
  return out;
}

async function oneRun(
  seed: number,
  n: number,
): Promise<Array<{ outcome: BoardOutcome; code?: string }>> {
  const nodes = await boards(n);
  const host: CanBus = await openCanBus(HOST_IF);
  const image = soakImage(IMAGE, seed);
  const before = nodes.map((d) => d.flash.read(APP, IMAGE));
  try {
    const gate = new CanBootloaderGate(host, UUIDS.slice(0, n), { timeoutMs: 3000 });
    const jobs: BatchJob[] = UUIDS.slice(0, n).map((uuid) => ({
      id: uuid,
      group: HOST_IF,
      run: (onEvent, signal) =>
        runFlash(
          katapultCanAdapter({ bus: host, uuid, gate, timeouts: TIMEOUTS }),
          { segments: [{ address: APP, data: image }] },
          { clock: realClock, onEvent, ...(signal ? { signal } : {}) },
        ),
    }));
    const out = await runBatch(jobs, { keepGoing: true });
    await new Promise((r) => setTimeout(r, 300)); // a COMPLETE, if sent, has started the application
    return out.map((o, i) => {
      const err = o.error instanceof FlashError ? o.error.cause : o.error;
      const outcome = checkBoard(nodes[i]!, image, before[i]!, err, `seed ${seed} board ${i}`);
      if (err && process.env.CANFLASH_SOAK_DEBUG)
        report(
          `seed ${seed} board ${i}: ${err.message}\n` +
            nodes[i]!.events.filter((e) => e.type !== "read" && !(e.type === "write" && e.ok))
              .map((e) => `  ${JSON.stringify(e)}`)
              .join("\n"),
        );
      return { outcome, ...(err ? { code: (err as { code?: string }).code ?? "?" } : {}) };
    });
  } finally {
    await host.close();
    await Promise.all(nodes.map((d) => d.close()));
  }
}

beforeAll(async () => {
  for (const dev of [HOST_IF, BOARD_IF]) await run("ip", ["link", "show", dev]);
});

afterAll(async () => {
  await netem(HOST_IF, undefined);
  await netem(BOARD_IF, undefined);
});

describe("soak on the real kernel: netem on a vxcan pair", () => {
  it.each(MIXES)(
    `$name: ${RUNS} single-board runs and one batch of four, the invariant on every board`,
    async (mix) => {
      await netem(HOST_IF, mix.toBoards);
      await netem(BOARD_IF, mix.toHost);
      const outcomes: Array<{ outcome: BoardOutcome; code?: string }> = [];
      for (let seed = 1; seed <= RUNS; seed++) outcomes.push(...(await oneRun(seed, 1)));
      const batch = await oneRun(RUNS + 1, 4);
      const faulted = await netemCounts(mix.toHost ? BOARD_IF : HOST_IF);
      const single = tally(mix.name, outcomes);
      const four = tally(`${mix.name} (batch)`, batch);
      report(`vcan soak ${single.line}\nvcan soak ${four.line}`);
      report(
        `vcan soak ${mix.name}: netem on ${mix.toHost ? BOARD_IF : HOST_IF}: ${JSON.stringify(faulted)}`,
      );
      expect(faulted.sent).toBeGreaterThan(0);
      // Lost or doubled replies are recovered from.
      if (!mix.toBoards) expect(single.completed + four.completed).toBe(RUNS + 4);
    },
    300_000,
  );
});
