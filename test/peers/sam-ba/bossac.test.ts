// canflash against Debian's bossac 1.9.1 on the project's SAM-BA models (a
// pty each): bossac flashes a fresh model with the seed's command, canflash
// flashes another fresh model with the same image, and both flashes must be
// byte-identical, bossac must say "Verify successful", and both boards must
// then boot the new application. The bad cases: canflash refuses (exit 6)
// and the model's flash stays as it was. Run with `npm run test:peers`.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { SamBaAdapter } from "../../../src/bootloaders/sam-ba/adapter.js";
import { runFlash } from "../../../src/flasher/execute.js";
import { klipperImage } from "../../../src/sim/klipper-image.js";
import { findTarget } from "../../../src/targets/index.js";
import type { SamBaBoardKind } from "../../../src/sim/sam-ba/board.js";
import { randomBytes } from "../../../src/util/random.js";
import { runInProcess } from "../../cli/helpers.js";
import {
  bossac,
  bossacVersion,
  removeTempFiles,
  startBoard,
  writeTemp,
  type PtyBoard,
} from "./harness.js";

const boards: PtyBoard[] = [];
afterEach(async () => {
  await Promise.all(boards.splice(0).map((b) => b.stop()));
});
afterAll(removeTempFiles);

async function board(
  kind: SamBaBoardKind,
  o: { application?: Uint8Array; iface?: "usb" | "uart" } = {},
) {
  const b = await startBoard({ kind, ...o });
  boards.push(b);
  return b;
}

/** Polls `cond` until it holds (writes without an answer reach the model after the tool exits). */
async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`not within ${ms} ms: ${cond.toString()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Until the board has booted its application (the reset write came through). */
async function bootedApp(b: PtyBoard, ms = 3000): Promise<boolean> {
  return until(() => b.board.mode === "app", ms).then(
    () => true,
    () => false,
  );
}

const buf = (b: Uint8Array) => Buffer.from(b);

interface Case {
  name: string;
  kind: SamBaBoardKind;
  target: string;
  mcu: string;
  appStart: number;
  size: number;
  iface?: "uart";
  /** bossac's runs, the seed's commands (FILE replaced). */
  runs: string[][];
}

const CASES: Case[] = [
  {
    name: "Arduino Zero (SAMD21G18A)",
    kind: "zero",
    target: "samd21-zero-bossac",
    mcu: "samd21g18a",
    appStart: 0x2000,
    size: 141 * 64,
    runs: [["--usb-port=1", "--offset=0x2000", "-w", "-v", "-b", "-R", "FILE"]],
  },
  {
    name: "SAMD51J19A with the UF2 bootloader",
    kind: "uf2-samd51",
    target: "samd51-uf2-bossac",
    mcu: "samd51j19a",
    appStart: 0x4000,
    size: 45 * 512,
    runs: [["--usb-port=1", "--offset=0x4000", "-w", "-v", "-b", "-R", "FILE"]],
  },
  {
    name: "Arduino Due (SAM3X8E ROM, native USB)",
    kind: "due",
    target: "sam3x-bossac",
    mcu: "sam3x8e",
    appStart: 0x80000,
    size: 391 * 256,
    runs: [
      ["--usb-port=1", "-e", "-w", "-v", "-b", "FILE"],
      ["--usb-port=1", "-b", "-R"],
    ],
  },
  {
    name: "Duet (SAM4E8E ROM)",
    kind: "duet-sam4e",
    target: "sam4-bossac",
    mcu: "sam4e8e",
    appStart: 0x400000,
    size: 60 * 512,
    runs: [["--usb-port=1", "-b", "-e", "-w", "-v", "-R", "FILE"]],
  },
];

describe("bossac 1.9.1 and canflash on the same SAM-BA model", () => {
  it("bossac 1.9.1 is installed (Debian's bossa-cli: .ci/run installs it)", async () => {
    expect(await bossacVersion()).toBe("1.9.1");
  });

  describe.each(CASES)("$name", (c) => {
    // an older, longer application in flash first: both tools must leave the same bytes around the new one
    const old = randomBytes(c.size * 2, 99);
    const image = klipperImage({
      mcu: c.mcu,
      appStart: c.appStart,
      size: c.size,
      transport: "usb",
    });
    const file = writeTemp(`${c.kind}.bin`, image);

    it(`bossac ${c.runs.map((r) => r.join(" ")).join(" ; ")} and canflash --target ${c.target} leave the same flash`, async () => {
      const theirs = await board(c.kind, { application: old });
      for (const args of c.runs) {
        const r = await bossac(["-p", theirs.port, ...args.map((a) => (a === "FILE" ? file : a))]);
        expect(r.code, r.stdout + r.stderr).toBe(0);
        if (args.includes("-v")) expect(r.stdout).toMatch(/Verify successful/);
      }
      expect(await bootedApp(theirs)).toBe(true);
      expect(buf(theirs.board.application(c.size)).equals(buf(image))).toBe(true);

      const ours = await board(c.kind, { application: old });
      const r = await runInProcess(["--target", c.target, "-d", ours.port, file]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout + r.stderr).toMatch(new RegExp(`Wrote and verified ${c.size} bytes`));
      expect(await bootedApp(ours)).toBe(true);
      expect(buf(ours.board.flash()).equals(buf(theirs.board.flash()))).toBe(true);
      expect(ours.board.bootFromFlash).toBe(theirs.board.bootFromFlash);
    });
  });

  it("the Due's ROM over its UART (bossac --usb-port=0; canflash's UART session): XMODEM both ways, the same flash", async () => {
    const image = klipperImage({
      mcu: "sam3x8e",
      appStart: 0x80000,
      size: 12 * 256,
      transport: "serial",
    });
    const file = writeTemp("due-uart.bin", image);
    const theirs = await board("due-programming-port", { iface: "uart" });
    const r = await bossac(["--usb-port=0", "-p", theirs.port, "-e", "-w", "-v", "-b", file]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Verify successful/);
    expect(buf(theirs.board.application(image.length)).equals(buf(image))).toBe(true);
    await until(() => theirs.board.bootFromFlash); // the last write has no answer: bossac may exit first
    // canflash's UART session (XMODEM) on a fresh model of the programming port: the same flash
    const ours = await board("due-programming-port", { iface: "uart" });
    const res = await runFlash(
      new SamBaAdapter({
        device: ours.port,
        target: findTarget("sam3x-bossac"),
        transport: "uart",
      }),
      { segments: [{ address: 0x80000, data: image }] },
    );
    expect(res.verified).toBe(true);
    await until(() => ours.board.mode === "app");
    expect(buf(ours.board.flash()).equals(buf(theirs.board.flash()))).toBe(true);
    expect(ours.board.events.some((e) => e.type === "xmodem" && e.result === "ok")).toBe(true);
  });

  it("an image that is not a page multiple: the same image bytes; canflash pads the last page with erased 0xFF, bossac with 0x00", async () => {
    const size = 9000;
    const image = klipperImage({ mcu: "samd21g18a", appStart: 0x2000, size, transport: "usb" });
    const file = writeTemp("odd.bin", image);
    const theirs = await board("zero");
    expect(
      (await bossac(["--usb-port=1", "-p", theirs.port, "--offset=0x2000", "-w", "-v", "-R", file]))
        .code,
    ).toBe(0);
    const ours = await board("zero");
    expect(
      (await runInProcess(["--target", "samd21-zero-bossac", "-d", ours.port, file])).code,
    ).toBe(0);
    const a = buf(ours.board.flash());
    const b = buf(theirs.board.flash());
    const tail = 0x2000 + size;
    const pageEnd = 0x2000 + Math.ceil(size / 64) * 64;
    expect(a.subarray(0, tail).equals(b.subarray(0, tail))).toBe(true);
    expect(a.subarray(pageEnd).equals(b.subarray(pageEnd))).toBe(true);
    expect([...a.subarray(tail, pageEnd)].every((x) => x === 0xff)).toBe(true);
    expect([...b.subarray(tail, pageEnd)].every((x) => x === 0x00)).toBe(true);
  });

  describe("bad cases: canflash refuses and writes nothing", () => {
    it("wrong chip: a SAMD21 target on the SAMD51 board → exit 6, naming the chip and the target that fits", async () => {
      const b = await board("uf2-samd51");
      const before = buf(b.board.flash());
      const file = writeTemp(
        "d21.bin",
        klipperImage({ mcu: "samd21g18a", appStart: 0x2000, size: 4096, transport: "usb" }),
      );
      const r = await runInProcess(["--target", "samd21-zero-bossac", "-d", b.port, file]);
      expect(r.code, r.stderr).toBe(6);
      expect(r.stderr).toMatch(/runs on samd51j19a \(DID 0x60060005\), not on samd21g18a/);
      expect(r.stderr).toContain(`canflash --target samd51-uf2-bossac -d ${b.port} ${file}`);
      expect(buf(b.board.flash()).equals(before)).toBe(true);
      const writes = b.board.events.filter(
        (e) => e.type === "command" && /[SWOYXG]/.test(e.letter),
      );
      expect(writes).toEqual([]);
    });

    it("an image built for offset 0 (over the SAMD21 bootloader) → exit 6 after connect; nothing written", async () => {
      const b = await board("zero");
      const before = buf(b.board.flash());
      const file = writeTemp(
        "at0.bin",
        klipperImage({
          mcu: "samd21g18a",
          appStart: 0x2000,
          linkedFor: 0,
          size: 4096,
          transport: "usb",
        }),
      );
      const r = await runInProcess(["--target", "samd21-zero-bossac", "-d", b.port, file]);
      expect(r.code, r.stderr).toBe(6);
      expect(r.stderr).toMatch(/built for a different bootloader offset/);
      expect(buf(b.board.flash()).equals(before)).toBe(true);
    });

    it("the UF2 bootloader keeps its BOOTPROT: bossac --offset=0 fails at the first erase, canflash never gets that far", async () => {
      const b = await board("uf2-samd51");
      const before = buf(b.board.flash());
      const file = writeTemp("boot.bin", randomBytes(8192, 3));
      const r = await bossac(["--usb-port=1", "-p", b.port, "--offset=0x0", "-w", "-v", file]);
      expect(r.code).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/Flash command failed/i);
      expect(buf(b.board.flash()).equals(before)).toBe(true);
    });
  });
});
