// Katapult over real SocketCAN (vcan in User-Mode Linux): the simulated
// boards run as `canflash sim` in another process; this process flashes them
// through the library and through the CLI, and compares the sim's dumps.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { katapultCanAdapter } from "../../src/bootloaders/katapult/can.js";
import { queryNodes } from "../../src/entry/can-admin.js";
import { openCanBus } from "../../src/can/backends.js";
import { runFlash } from "../../src/flasher/execute.js";
import { parseUuid } from "../../src/klippy-bridge/uuid.js";
import { randomBytes } from "../../src/util/random.js";
import { BIN, canflash } from "../cli/helpers.js";

const KATAPULT = parseUuid("8266c4636429");
const KLIPPER = parseUuid("625720a262c6");
const dumps = mkdtempSync(join(tmpdir(), "canflash-dumps-"));
let sim: ChildProcess;
let simOut = "";

async function waitFor(cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}\nsim output:\n${simOut}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function appImage(size: number, seed: number): Uint8Array {
  const img = randomBytes(size, seed);
  img.set([0, 0x80, 0, 0x20, 0x01, 0x21, 0, 0x08]);
  return img;
}

beforeAll(async () => {
  sim = spawn(
    process.execPath,
    [BIN, "sim", "-i", "vcan0", "--katapult", KATAPULT, "--klipper", KLIPPER, "--dump-dir", dumps],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  sim.stdout!.on("data", (d: Buffer) => (simOut += d.toString()));
  sim.stderr!.on("data", (d: Buffer) => (simOut += d.toString()));
  await waitFor(() => simOut.includes("sim: ready"), "canflash sim to start");
});

afterAll(async () => {
  sim.kill("SIGTERM");
  if (sim.exitCode === null) await new Promise((r) => sim.once("exit", r));
  rmSync(dumps, { recursive: true, force: true });
});

describe("Katapult over vcan with `canflash sim` in another process", () => {
  it("query lists both applications", async () => {
    const bus = await openCanBus("vcan0");
    const answers = await queryNodes(bus);
    await bus.close();
    expect(answers.map((a) => `${a.uuid} ${a.app}`).sort()).toEqual(
      [`${KLIPPER} klipper`, `${KATAPULT} katapult`].sort(),
    );
  });

  it("flashes 48 KiB to the Katapult board: verified, and the sim's dump equals the image", async () => {
    const bus = await openCanBus("vcan0");
    const image = appImage(48 * 1024, 21);
    const r = await runFlash(katapultCanAdapter({ bus, uuid: KATAPULT }), {
      segments: [{ address: 0x08002000, data: image }],
    });
    await bus.close();
    expect(r.verified).toBe(true);
    const dump = join(dumps, `${KATAPULT}.bin`);
    await waitFor(() => simOut.includes(`${KATAPULT} dump written`), "the dump");
    expect(new Uint8Array(readFileSync(dump))).toEqual(image);
    await waitFor(
      () => simOut.includes(`${KATAPULT} boot klipper (COMPLETE)`),
      "the board to start its application",
    );
  });

  it("the CLI requests the Klipper board into Katapult, flashes it, and it answers as Klipper again", async () => {
    const image = appImage(20_000, 22);
    const file = join(dumps, "klipper.bin");
    writeFileSync(file, image);
    const r = await canflash(["-i", "vcan0", "-u", KLIPPER, file], { timeoutMs: 120_000 });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/runs Klipper: requesting its bootloader[\s\S]*Programming Complete/);
    await waitFor(
      () =>
        existsSync(join(dumps, `${KLIPPER}.bin`)) &&
        simOut.includes(`${KLIPPER} boot klipper (COMPLETE)`),
      "the Klipper board's dump",
    );
    const dump = new Uint8Array(readFileSync(join(dumps, `${KLIPPER}.bin`)));
    expect(dump.subarray(0, image.length)).toEqual(image);
    expect(dump.subarray(image.length).every((b) => b === 0xff)).toBe(true);
    const q = await canflash(["-i", "vcan0", "-q"]);
    expect(q.stdout).toContain(`Detected UUID: ${KLIPPER}, Application: Klipper`);
  });
});
