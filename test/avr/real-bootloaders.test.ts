// canflash against the real Arduino bootloaders (Optiboot, ATmegaBOOT, the
// Mega 2560 stk500v2 bootloader) running in simavr on a pty, cross-checked
// with Debian's avrdude on the same harness and image: both tools must leave
// the same flash, byte for byte. Run with `npm run test:avr`.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { randomBytes } from "../../src/util/random.js";
import { canflash } from "../cli/helpers.js";
import {
  expectedFlash,
  PRESETS,
  removeTempFiles,
  startBoard,
  toIntelHex,
  writeTemp,
  type AvrBoard,
  type AvrPreset,
} from "./harness.mjs";

const run = promisify(execFile);
/** A whole avrdude or canflash session, Mega 2560 at 70 KiB included (about 13 s here). */
const SESSION_TIMEOUT_MS = 90_000;

/** From canflash's exit to the bootloader jumping into the new application. */
const APP_START_TIMEOUT_MS = 3_000;

const boards: AvrBoard[] = [];
afterEach(async () => {
  // A failed test must not leave a harness running.
  await Promise.all(boards.splice(0).map((b) => b.stop().catch(() => undefined)));
});

afterAll(removeTempFiles);

async function board(preset: AvrPreset, o: { dead?: boolean } = {}): Promise<AvrBoard> {
  const b = await startBoard(preset, o);
  boards.push(b);
  return b;
}

async function stopped(b: AvrBoard): Promise<Buffer> {
  boards.splice(boards.indexOf(b), 1);
  return b.stop();
}

function resultOf(stdout: string): Record<string, unknown> {
  const lines = stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return lines.at(-1)!;
}

async function avrdude(preset: AvrPreset, port: string, file: string): Promise<string> {
  const { stderr } = await run(
    "avrdude",
    [
      `-p${preset.mcu}`,
      `-c${preset.programmer}`,
      `-P${port}`,
      `-b${preset.baud}`,
      "-D",
      `-Uflash:w:${file}:i`,
    ],
    { timeout: SESSION_TIMEOUT_MS },
  );
  return stderr;
}

const cases = [
  // preset, image size: several KiB; for the Mega more than 64 KiB (extended addressing)
  ["optiboot328", PRESETS.optiboot328, 9 * 1024 + 77],
  ["optiboot168", PRESETS.optiboot168, 6 * 1024 + 5],
  ["atmegaboot1280", PRESETS.atmegaboot1280, 12 * 1024 + 300],
  ["mega2560", PRESETS.mega2560, 70 * 1024 + 123],
] as const;

describe.each(cases)("%s: the real bootloader in simavr", (name, preset, size) => {
  const image = randomBytes(size, size);
  const hexFile = writeTemp(`${name}.hex`, toIntelHex(image));

  it(
    `canflash --target ${preset.target} writes and verifies a ${size}-byte HEX; avrdude leaves the same flash`,
    async () => {
      const ours = await board(preset);
      const r = await canflash(["--target", preset.target, "-d", ours.port, "--json", hexFile], {
        timeoutMs: SESSION_TIMEOUT_MS,
      });
      expect(r.code, r.stderr + ours.log()).toBe(0);
      const result = resultOf(r.stdout);
      expect(result).toMatchObject({ type: "result", ok: true, exitCode: 0 });
      expect(r.stdout).toMatch(new RegExp(`"phase":"verify"`));
      // canflash ended programming mode: the bootloader starts the application
      // (Optiboot through a 16 ms watchdog reset, the others at once).
      await ours.waitForLog(/app: bootloader left for 0x0/, APP_START_TIMEOUT_MS);
      const ourFlash = await stopped(ours);
      expect(ourFlash.equals(expectedFlash(image, preset))).toBe(true);
      expect(ours.log()).toMatch(/baud \d+ matches the chip/);
      expect(ours.log()).not.toMatch(/baud mismatch/);

      const theirs = await board(preset);
      await avrdude(preset, theirs.port, hexFile);
      const theirFlash = await stopped(theirs);
      expect(theirFlash.equals(ourFlash)).toBe(true);
    },
    3 * SESSION_TIMEOUT_MS,
  );
});

describe("the real bootloaders: other inputs and bad cases", () => {
  it(
    "a .bin (no addresses: written from 0) flashes too",
    async () => {
      const image = randomBytes(3000, 77);
      const b = await board(PRESETS.optiboot328);
      const r = await canflash(
        ["--target", "atmega328p", "-d", b.port, writeTemp("app.bin", image)],
        { timeoutMs: SESSION_TIMEOUT_MS },
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/Wrote and verified 3000 bytes/);
      expect((await stopped(b)).equals(expectedFlash(image, PRESETS.optiboot328))).toBe(true);
    },
    SESSION_TIMEOUT_MS,
  );

  it(
    "the atmega1280 preset on a Mega 2560: refused, naming the chip that answered and the target that fits; nothing written",
    async () => {
      const b = await board(PRESETS.mega2560);
      const file = writeTemp("m1280.hex", toIntelHex(randomBytes(2048, 5)));
      const r = await canflash(["--target", "atmega1280", "-d", b.port, file], {
        timeoutMs: SESSION_TIMEOUT_MS,
      });
      expect(r.code, r.stderr).toBe(6);
      expect(r.stderr).toContain(
        `error: connect failed: no bootloader answered STK500v1 at 57600 baud on ${b.port} (target avr-m1280-arduino), ` +
          "but one answered STK500v2 at 115200 baud, with signature 1e 98 01 (atmega2560)",
      );
      expect(r.stderr).toContain(`canflash --target avr-m2560-wiring -d ${b.port} ${file}`);
      expect((await stopped(b)).every((x) => x === 0xff)).toBe(true);
    },
    SESSION_TIMEOUT_MS,
  );

  it(
    "the wrong baud rate (-b 57600 on Optiboot at 115200): the bytes do not get through, canflash names the speed that works",
    async () => {
      const b = await board(PRESETS.optiboot328);
      const file = writeTemp("baud.hex", toIntelHex(randomBytes(1024, 6)));
      const r = await canflash(["--target", "atmega328p", "-d", b.port, "-b", "57600", file], {
        timeoutMs: SESSION_TIMEOUT_MS,
      });
      expect(r.code, r.stderr).toBe(6);
      expect(b.log()).toMatch(/baud mismatch: host 57600, chip 117647/);
      expect(r.stderr).toMatch(
        /but one answered STK500v1 at 115200 baud, with signature 1e 95 0f \(atmega328p\)/,
      );
      expect(r.stderr).toMatch(
        /-b 57600 is not this bootloader's speed: it answers at 115200 baud/,
      );
      expect(r.stderr).toContain(`canflash --target avr-m328p-optiboot -d ${b.port} ${file}`);
      expect((await stopped(b)).every((x) => x === 0xff)).toBe(true);
    },
    SESSION_TIMEOUT_MS,
  );

  it(
    "nothing alive on the port: a timeout naming the listen window and the reset, every bootloader kind tried",
    async () => {
      const b = await board(PRESETS.optiboot328, { dead: true });
      const file = writeTemp("dead.hex", toIntelHex(randomBytes(512, 7)));
      const r = await canflash(["--target", "atmega328p", "-d", b.port, file], {
        timeoutMs: SESSION_TIMEOUT_MS,
      });
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toMatch(
        /no answer from the Optiboot bootloader on \S+ at 115200 baud after \d+ sync attempts: it listens only about 1\.4 s after a reset, and this port refused the DTR\/RTS reset pulse, so the board was not reset; nothing answered STK500v2 at 115200 baud or STK500v1 at 57600 baud either/,
      );
      expect(r.stderr).toMatch(/press the board's reset button/);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    },
    SESSION_TIMEOUT_MS,
  );

  it(
    "a HEX reaching into the bootloader is refused before a byte is written",
    async () => {
      const b = await board(PRESETS.optiboot328);
      // 0x7D00..0x7F00 overlaps Optiboot at 0x7E00.
      const file = writeTemp("big.hex", toIntelHex(randomBytes(512, 8), 0x7d00));
      const r = await canflash(["--target", "atmega328p", "-d", b.port, file], {
        timeoutMs: SESSION_TIMEOUT_MS,
      });
      expect(r.code, r.stderr).toBe(6);
      expect(r.stderr).toMatch(/0x7e00/i);
      expect(r.stderr).toMatch(/Nothing was (sent to|written to) the board/);
      expect((await stopped(b)).every((x) => x === 0xff)).toBe(true);
    },
    SESSION_TIMEOUT_MS,
  );
});
