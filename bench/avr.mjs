// AVR: canflash against avrdude on the same real bootloader (simavr harness,
// test/avr) and the same image: wall time of each whole session (open, reset,
// sync, write, verify, leave), and the ratio canflash / avrdude. Both must
// leave the same flash. Needs the packages of the test:avr lane.
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { randomBytes } from "../dist/util/random.js";
import {
  expectedFlash,
  PRESETS,
  removeTempFiles,
  startBoard,
  toIntelHex,
  writeTemp,
} from "../test/avr/harness.mjs";

const run = promisify(execFile);
const CLI = new URL("../dist/cli/main.mjs", import.meta.url).pathname;
/** canflash may take this much longer than avrdude. */
export const AVR_TARGET_RATIO = 1.15;

const CASES = [
  { name: "Uno (Optiboot, 115200)", preset: PRESETS.optiboot328, size: 30 * 1024 },
  { name: "Mega 2560 (stk500v2, 115200)", preset: PRESETS.mega2560, size: 100 * 1024 },
];

async function timed(fn) {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

function canflash(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`canflash ${code}: ${err}`)),
    );
  });
}

async function session(preset, flash) {
  const board = await startBoard(preset);
  try {
    const seconds = await timed(() => flash(board.port));
    return { seconds, dump: await board.stop() };
  } catch (e) {
    await board.stop().catch(() => undefined);
    throw e;
  }
}

export async function benchAvr() {
  const has = (tool) =>
    run("which", [tool]).then(
      () => true,
      () => false,
    );
  const missing = [];
  for (const tool of ["avrdude", "avr-gcc", "gcc"]) if (!(await has(tool))) missing.push(tool);
  if (missing.length) {
    console.log(`\nAVR vs avrdude: skipped (${missing.join(", ")} missing: see .ci/run)`);
    return true;
  }
  console.log("\nAVR: canflash vs avrdude 7.1 on the real bootloader in simavr (write + verify)");
  let ok = true;
  for (const c of CASES) {
    const image = randomBytes(c.size, c.size);
    const file = writeTemp(`bench-${c.preset.mcu}.hex`, toIntelHex(image));
    const ours = await session(c.preset, (port) =>
      canflash(["--target", c.preset.target, "-d", port, "--quiet", file]),
    );
    const theirs = await session(c.preset, (port) =>
      run("avrdude", [
        `-p${c.preset.mcu}`,
        `-c${c.preset.programmer}`,
        `-P${port}`,
        `-b${c.preset.baud}`,
        "-D",
        `-Uflash:w:${file}:i`,
      ]),
    );
    const same = ours.dump.equals(theirs.dump) && ours.dump.equals(expectedFlash(image, c.preset));
    const ratio = ours.seconds / theirs.seconds;
    ok = ok && same && ratio <= AVR_TARGET_RATIO;
    console.log(
      `  ${c.name}, ${(c.size / 1024).toFixed(0)} KiB: canflash ${ours.seconds.toFixed(2)} s, ` +
        `avrdude ${theirs.seconds.toFixed(2)} s, ratio ${ratio.toFixed(2)} ` +
        `(target <= ${AVR_TARGET_RATIO}); flash dumps ${same ? "identical" : "DIFFER"}`,
    );
  }
  removeTempFiles();
  return ok;
}
