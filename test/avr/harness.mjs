// The real Arduino bootloaders in simavr on a pty (test/avr/harness/avr-harness.c):
// builds the harness and the Optiboot images once per source version into the
// OS temp dir, starts a board, and returns its flash dump when stopped.
//
// Needs Debian's simavr, libsimavr-dev, arduino-core-avr, gcc-avr, avr-libc
// and gcc (and avrdude for the cross-checks); .ci/run installs them.
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const HARNESS_SOURCE = fileURLToPath(new URL("./harness/avr-harness.c", import.meta.url));
export const BOOTLOADERS = "/usr/share/arduino/hardware/arduino/avr/bootloaders";
/** From spawn to "ready <pty>". */
const READY_TIMEOUT_MS = 10_000;
/** From SIGTERM to the dump being written. */
const STOP_TIMEOUT_MS = 10_000;

/*
 * Debian bookworm's prebuilt Optiboot hex files for the 328P and 168 were
 * rebuilt with avr-gcc 5.4 and no longer fit 512 bytes (they spill into the
 * version word and break the watchdog exit; testing-avr.md). Build Debian's
 * own optiboot.c with the size options Optiboot's makefile uses: 494 bytes.
 */
const OPTIBOOT_CFLAGS = [
  "-g",
  "-Wall",
  "-Os",
  "-DF_CPU=16000000L",
  "-DBAUD_RATE=115200",
  "-DLED_START_FLASHES=3",
  "-mrelax",
  "-fno-caller-saves",
  "-fno-tree-scev-cprop",
  "-fno-ivopts",
  "-fno-move-loop-invariants",
  "-fno-inline",
  "-fno-inline-small-functions",
  "-fno-split-wide-types",
  "-mshort-calls",
  "-nostartfiles",
  "-nostdlib",
  "-Wl,--relax",
  "-Wl,--gc-sections",
];

function buildOptiboot(mcu, bootStart) {
  const dir = cacheDir();
  const out = join(dir, `optiboot_${mcu}.hex`);
  if (existsSync(out)) return out;
  const src = join(BOOTLOADERS, "optiboot");
  const work = join(dir, `optiboot-${mcu}-${process.pid}`);
  mkdirSync(work, { recursive: true });
  for (const f of ["optiboot.c", "pin_defs.h", "stk500.h", "boot.h"])
    copyFileSync(join(src, f), join(work, f));
  const elf = join(work, "optiboot.elf");
  const versionAt = bootStart + 0x200 - 2;
  execFileSync(
    "avr-gcc",
    [
      ...OPTIBOOT_CFLAGS,
      `-mmcu=${mcu}`,
      `-Wl,--section-start=.text=0x${bootStart.toString(16)}`,
      `-Wl,--section-start=.version=0x${versionAt.toString(16)}`,
      "-o",
      elf,
      join(work, "optiboot.c"),
    ],
    { stdio: "pipe" },
  );
  const size = execFileSync("avr-size", ["-A", elf]).toString();
  const text = Number(/^\.text\s+(\d+)/m.exec(size)?.[1]);
  if (!(text <= 0x200 - 2))
    throw new Error(`Optiboot for ${mcu} is ${text} bytes: it must fit 510 bytes`);
  const tmp = join(work, "optiboot.hex");
  execFileSync("avr-objcopy", [
    "-j",
    ".text",
    "-j",
    ".data",
    "-j",
    ".version",
    "--set-section-flags",
    ".version=alloc,load",
    "-O",
    "ihex",
    elf,
    tmp,
  ]);
  renameSync(tmp, out);
  rmSync(work, { recursive: true, force: true });
  return out;
}

export const PRESETS = {
  optiboot328: {
    mcu: "atmega328p",
    target: "avr-m328p-optiboot",
    programmer: "arduino",
    baud: 115200,
    bootStart: 0x7e00,
    boot: () => buildOptiboot("atmega328p", 0x7e00),
  },
  optiboot168: {
    mcu: "atmega168",
    target: "avr-m168-arduino",
    programmer: "arduino",
    baud: 115200,
    bootStart: 0x3e00,
    boot: () => buildOptiboot("atmega168", 0x3e00),
  },
  atmegaboot1280: {
    mcu: "atmega1280",
    target: "avr-m1280-arduino",
    programmer: "arduino",
    baud: 57600,
    bootStart: 0x1f000,
    boot: () => join(BOOTLOADERS, "atmega", "ATmegaBOOT_168_atmega1280.hex"),
  },
  mega2560: {
    mcu: "atmega2560",
    target: "avr-m2560-wiring",
    programmer: "wiring",
    baud: 115200,
    bootStart: 0x3e000,
    boot: () => join(BOOTLOADERS, "stk500v2", "stk500boot_v2_mega2560.hex"),
  },
};

/** @type {string | undefined} */
let cache;
function cacheDir() {
  if (cache) return cache;
  const h = createHash("sha256").update(readFileSync(HARNESS_SOURCE)).digest("hex").slice(0, 12);
  cache = join(tmpdir(), `canflash-avr-${h}`);
  mkdirSync(cache, { recursive: true });
  return cache;
}

/** Compiles the harness (once per source version). */
export function harnessBinary() {
  const bin = join(cacheDir(), "avr-harness");
  if (existsSync(bin)) return bin;
  const tmp = `${bin}.${process.pid}`;
  execFileSync(
    "gcc",
    ["-O2", "-Wall", "-I/usr/include/simavr", "-o", tmp, HARNESS_SOURCE, "-lsimavr"],
    { stdio: "pipe" },
  );
  renameSync(tmp, bin);
  return bin;
}

let seq = 0;

/** Starts a board running its bootloader; `dead` leaves the chip in reset (nothing answers). */
export async function startBoard(preset, o = {}) {
  const dump = join(cacheDir(), `dump-${process.pid}-${seq++}.bin`);
  const args = ["--mcu", preset.mcu, "--boot", preset.boot(), "--dump", dump];
  if (o.dead) args.push("--dead");
  const child = spawn(harnessBinary(), args, { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const watchers = new Set();
  child.stderr.on("data", (d) => {
    log += d.toString();
    for (const w of watchers) w();
  });
  const exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  const port = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`avr-harness did not get ready within ${READY_TIMEOUT_MS} ms: ${log}`));
    }, READY_TIMEOUT_MS);
    child.stdout.on("data", (d) => {
      out += d.toString();
      const m = /^ready (\S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`avr-harness exited (${code}) before it was ready: ${log}`));
    });
  });
  return {
    port,
    preset,
    log: () => log,
    waitForLog: (re, timeoutMs) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (!re.test(log)) return;
          watchers.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          watchers.delete(check);
          reject(new Error(`avr-harness log did not show ${re} within ${timeoutMs} ms:\n${log}`));
        }, timeoutMs);
        watchers.add(check);
        check();
      }),
    stop: async () => {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
      const code = await exited;
      clearTimeout(timer);
      if (code !== 0) throw new Error(`avr-harness exited ${code}: ${log}`);
      const flash = readFileSync(dump);
      rmSync(dump, { force: true });
      return flash;
    },
  };
}

/** The flash a board should hold after `image` was written at 0: the image, then erased bytes. */
export function expectedFlash(image, preset) {
  const b = Buffer.alloc(preset.bootStart, 0xff);
  b.set(image, 0);
  return b;
}

/** Intel HEX of `data` at 0, 16 bytes a record, extended linear records above 64 KiB. */
export function toIntelHex(data, base = 0) {
  const lines = [];
  const rec = (type, offset, bytes) => {
    const r = [bytes.length, (offset >> 8) & 0xff, offset & 0xff, type, ...Array.from(bytes)];
    const sum = (0x100 - (r.reduce((a, b) => a + b, 0) & 0xff)) & 0xff;
    return ":" + [...r, sum].map((x) => x.toString(16).padStart(2, "0").toUpperCase()).join("");
  };
  let upper = -1;
  for (let off = 0; off < data.length; off += 16) {
    const a = base + off;
    if (a >>> 16 !== upper) {
      upper = a >>> 16;
      lines.push(rec(4, 0, [upper >> 8, upper & 0xff]));
    }
    lines.push(rec(0, a & 0xffff, data.subarray(off, off + 16)));
  }
  lines.push(":00000001FF");
  return lines.join("\n") + "\n";
}

export function writeTemp(name, content) {
  const dir = join(cacheDir(), `files-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

/** Removes the files writeTemp made in this process. */
export function removeTempFiles() {
  rmSync(join(cacheDir(), `files-${process.pid}`), { recursive: true, force: true });
}
