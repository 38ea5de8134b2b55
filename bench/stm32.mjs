// STM32 ROM USART bootloader: canflash against Debian's stm32flash on the
// same ROM model (an F103 with ERASE, an F407 with EXTENDED_ERASE over
// sectors) and the same line (a pty at 57600 baud, 8N1: a pty has no
// parity), same image, each tool into a fresh model: wall time of the whole
// session (start, open, sync, identify, erase, write, verify, GO), the
// ratio canflash / stm32flash, and whether both dumps are the image. Each
// tool runs twice, alternating; the faster run of each counts.
//
// Two lines. A bare pty answers within microseconds, which no UART does;
// there canflash's start (Node, the Klipper guard, the port checks: about
// 0.3 s) and Node's serial reads (a thread-pool round trip per read) are
// not paid back, so that row is printed, not judged. The judged rows put
// the receive latency of a real line on the pty (1 ms: a CP210x/CH340
// USB-serial adapter; a Pi's PL011 waits 32 bit times, 0.56 ms at 57600,
// before it hands over the last bytes): canflash sends the steps of each
// READ and WRITE back to back (2 exchanges per block against stm32flash's
// 6), so every exchange saved counts.
import { spawn } from "node:child_process";
import { klipperImage } from "../dist/sim/klipper-image.js";
import * as sim from "../dist/sim/stm32/index.js";
import { preciseClock } from "../dist/util/clock.js";
import {
  haveStm32flash,
  removeTemps,
  startRom,
  stm32flash,
  writeTemp,
} from "../test/peers/stm32/harness.mjs";

const CLI = new URL("../dist/cli/main.mjs", import.meta.url).pathname;
/** canflash may take at most this long relative to stm32flash (judged rows). */
export const STM32_TARGET_RATIO = 1.0;
const ROUNDS = 2;
/** The receive latency of the judged rows' line, ms. */
export const LINE_LATENCY_MS = 1;

const F103 = { preset: "f103", target: "stm32f103-rom-serial", mcu: "stm32f103xe" };
const F407 = { preset: "f407", target: "stm32f4-rom-serial", mcu: "stm32f407xx" };
const CASES = [
  {
    name: "F103 (0x410, 1 KiB pages), bare pty",
    ...F103,
    size: 28 * 1024,
    latency: 0,
    judged: false,
  },
  {
    name: `F103 (0x410, 1 KiB pages), ${LINE_LATENCY_MS} ms line`,
    ...F103,
    size: 28 * 1024,
    latency: LINE_LATENCY_MS,
    judged: true,
  },
  {
    name: `F407 (0x413, sectors), ${LINE_LATENCY_MS} ms line`,
    ...F407,
    size: 36 * 1024,
    latency: LINE_LATENCY_MS,
    judged: true,
  },
];

function canflash(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`canflash exited ${code}: ${err}`)),
    );
  });
}

async function session(c, flash) {
  const board = await startRom(sim, preciseClock, {
    preset: c.preset,
    adapterLatencyMs: c.latency,
  });
  try {
    const t0 = performance.now();
    await flash(board.port);
    const seconds = (performance.now() - t0) / 1000;
    return { seconds, line: board.lineMs() / 1000, dump: Buffer.from(board.rom.flash()) };
  } finally {
    await board.stop();
  }
}

export async function benchStm32() {
  if (!(await haveStm32flash())) {
    console.log(
      "\nSTM32 ROM vs stm32flash: skipped (stm32flash missing: apt-get install stm32flash)",
    );
    return true;
  }
  console.log(
    "\nSTM32 ROM: canflash vs stm32flash 0.7 on the ROM model, pty at 57600 8N1 (erase + write + verify + GO)",
  );
  let ok = true;
  for (const c of CASES) {
    const image = klipperImage({
      mcu: c.mcu,
      transport: "serial",
      appStart: 0x08000000,
      size: c.size,
      seed: c.size,
    });
    const file = writeTemp(`bench-${c.preset}.bin`, image);
    const ours = [];
    const theirs = [];
    for (let r = 0; r < ROUNDS; r++) {
      ours.push(
        await session(c, (port) =>
          canflash(["--target", c.target, "-d", port, "--serial-mode", "8n1", "--quiet", file]),
        ),
      );
      theirs.push(
        await session(c, async (port) => {
          const out = await stm32flash(["-m", "8n1", "-w", file, "-v", "-g", "0", port]);
          if (out.code !== 0) throw new Error(`stm32flash exited ${out.code}: ${out.out}`);
        }),
      );
    }
    const best = (runs) => runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const a = best(ours);
    const b = best(theirs);
    const expected = Buffer.from(image);
    const same = [...ours, ...theirs].every(
      (s) =>
        s.dump.subarray(0, image.length).equals(expected) &&
        s.dump.subarray(image.length).every((x) => x === 0xff),
    );
    const ratio = a.seconds / b.seconds;
    ok = ok && same && (!c.judged || ratio <= STM32_TARGET_RATIO);
    console.log(
      `  ${c.name}, ${(c.size / 1024).toFixed(0)} KiB: canflash ${a.seconds.toFixed(2)} s, stm32flash ${b.seconds.toFixed(2)} s, ` +
        `ratio ${ratio.toFixed(3)} (${c.judged ? `target <= ${STM32_TARGET_RATIO}` : "not judged"}); ` +
        `on the line ${a.line.toFixed(2)} s vs ${b.line.toFixed(2)} s (${(a.line / b.line).toFixed(3)}), ` +
        `canflash's start ${(a.seconds - a.line).toFixed(2)} s; flash dumps ${same ? "identical" : "DIFFER"}`,
    );
  }
  removeTemps();
  return ok;
}

// Alone: node bench/stm32.mjs (after npm run build)
if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = (await benchStm32()) ? 0 : 1;
}
