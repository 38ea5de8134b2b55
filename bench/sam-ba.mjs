// SAM-BA: canflash against Debian's bossac 1.9.1 on the same device models
// (the project's SAM-BA monitors on a pty each) and the same image: wall
// time of each whole session — connect, erase, write, verify, boot flag,
// reset; for the Due bossac's two seed commands together — and the ratio
// canflash / bossac. Both must leave the same flash. Needs bossa-cli.
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { klipperImage } from "../dist/sim/klipper-image.js";
import { SamBaBoard } from "../dist/sim/sam-ba/board.js";
import { preciseClock } from "../dist/util/clock.js";

const run = promisify(execFile);
const CLI = new URL("../dist/cli/main.mjs", import.meta.url).pathname;
/** canflash may take at most this share of bossac's time (the issue: no slower than bossac). */
export const SAMBA_TARGET_RATIO = 1.0;

const CASES = [
  {
    name: "Arduino Zero (SAMD21, 8 KiB bootloader)",
    kind: "zero",
    target: "samd21-zero-bossac",
    mcu: "samd21g18a",
    appStart: 0x2000,
    size: 100 * 1024,
    bossac: [["--usb-port=1", "--offset=0x2000", "-w", "-v", "-b", "-R", "FILE"]],
  },
  {
    name: "SAMD51 (UF2 bootloader)",
    kind: "uf2-samd51",
    target: "samd51-uf2-bossac",
    mcu: "samd51j19a",
    appStart: 0x4000,
    size: 100 * 1024,
    bossac: [["--usb-port=1", "--offset=0x4000", "-w", "-v", "-b", "-R", "FILE"]],
  },
  {
    name: "Arduino Due (SAM3X8E ROM)",
    kind: "due",
    target: "sam3x-bossac",
    mcu: "sam3x8e",
    appStart: 0x80000,
    size: 100 * 1024,
    bossac: [
      ["--usb-port=1", "-e", "-w", "-v", "-b", "FILE"],
      ["--usb-port=1", "-R"],
    ],
  },
];

// The same pty relay as test/fakes/pty.ts: python3 opens the pair and copies bytes; it reports the speed the host sets.
const RELAY = String.raw`
import os, pty, sys, select, termios, tty, time
m, s = pty.openpty()
tty.setraw(s)
name = os.ttyname(s)
os.close(s)
sys.stderr.write('tty %s\n' % name); sys.stderr.flush()
while True:
    r, _, _ = select.select([m, 0], [], [], 0.002)
    if m in r:
        try:
            data = os.read(m, 65536)
            if data: os.write(1, data)
        except OSError:
            time.sleep(0.002)
    if 0 in r:
        data = os.read(0, 65536)
        if not data: break
        os.write(m, data)
`;

function board(kind) {
  return new Promise((resolve, reject) => {
    const proc = spawn("python3", ["-u", "-c", RELAY], { stdio: ["pipe", "pipe", "pipe"] });
    const listeners = [];
    proc.stdout.on("data", (d) => listeners.forEach((cb) => cb(new Uint8Array(d))));
    proc.stderr.on("data", (d) => {
      const m = /tty (\S+)/.exec(d.toString());
      if (!m) return;
      const b = new SamBaBoard(
        { write: (x) => proc.stdin.write(Buffer.from(x)), onData: (cb) => listeners.push(cb) },
        { kind, clock: preciseClock },
      );
      resolve({
        port: m[1],
        board: b,
        stop: () => {
          b.stop();
          proc.stdin.end();
          proc.kill();
        },
      });
    });
    proc.on("exit", (code) => reject(new Error(`pty relay exited (${code})`)));
  });
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

async function session(kind, flash) {
  const b = await board(kind);
  try {
    const t0 = performance.now();
    await flash(b.port);
    const seconds = (performance.now() - t0) / 1000;
    // the last write (the reset) has no answer: let it land before the dump
    await new Promise((r) => setTimeout(r, 200));
    return { seconds, dump: Buffer.from(b.board.flash()) };
  } finally {
    b.stop();
  }
}

export async function benchSamBa() {
  const has = await run("bossac", ["--help"]).then(
    () => true,
    (e) => /BOSSA/.test(String(e.stdout ?? "")),
  );
  if (!has) {
    console.log(
      "\nSAM-BA vs bossac: skipped (bossac missing: apt-get install bossa-cli, see .ci/run)",
    );
    return true;
  }
  const dir = mkdtempSync(join(tmpdir(), "bench-samba-"));
  console.log(
    "\nSAM-BA: canflash vs bossac 1.9.1 on the same model and pty (write + verify + boot + reset)",
  );
  let ok = true;
  try {
    for (const c of CASES) {
      const image = klipperImage({
        mcu: c.mcu,
        appStart: c.appStart,
        size: c.size,
        transport: "usb",
      });
      const file = join(dir, `${c.kind}.bin`);
      writeFileSync(file, image);
      const ours = await session(c.kind, (port) =>
        canflash(["--target", c.target, "-d", port, "--quiet", file]),
      );
      const theirs = await session(c.kind, async (port) => {
        for (const args of c.bossac)
          await run("bossac", ["-p", port, ...args.map((a) => (a === "FILE" ? file : a))]);
      });
      const same = ours.dump.equals(theirs.dump);
      const ratio = ours.seconds / theirs.seconds;
      ok = ok && same && ratio <= SAMBA_TARGET_RATIO;
      console.log(
        `  ${c.name}, ${(c.size / 1024).toFixed(0)} KiB: canflash ${ours.seconds.toFixed(2)} s, ` +
          `bossac ${theirs.seconds.toFixed(2)} s, ratio ${ratio.toFixed(2)} ` +
          `(target <= ${SAMBA_TARGET_RATIO}); flash dumps ${same ? "identical" : "DIFFER"}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return ok;
}

if (import.meta.url === `file://${process.argv[1]}`)
  process.exitCode = (await benchSamBa()) ? 0 : 1;
