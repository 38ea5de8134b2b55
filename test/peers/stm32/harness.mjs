// The STM32 ROM model on a pty, for the real stm32flash and for canflash:
// a python3 relay opens the pty pair (Node cannot), reports the slave's
// path and the speed the host sets, and copies bytes both ways; the model
// runs in this process on the real clock, at the pty's speed with 10-bit
// characters (a pty has no parity: both tools run in 8N1 here). Plain JS so
// that the benchmark can use it with the built model (../dist); the test
// passes the model module it imports from src.
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** From spawn to the relay's "tty <path>" line. */
const PTY_READY_MS = 10_000;
/** A whole stm32flash session on a few dozen KiB at 57600 baud. */
export const STM32FLASH_TIMEOUT_MS = 120_000;

const RELAY = String.raw`
import os, pty, sys, select, termios, tty, time
m, s = pty.openpty()
tty.setraw(s)
name = os.ttyname(s)
os.close(s)
speeds = {getattr(termios, k): int(k[1:]) for k in dir(termios) if k.startswith('B') and k[1:].isdigit()}
sys.stderr.write('tty %s\n' % name); sys.stderr.flush()
last = None
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
    try:
        sp = speeds.get(termios.tcgetattr(m)[5])
        if sp != last:
            last = sp
            sys.stderr.write('baud %s\n' % sp); sys.stderr.flush()
    except termios.error:
        pass
`;

function openPty() {
  return new Promise((resolve, reject) => {
    const proc = spawn("python3", ["-u", "-c", RELAY], { stdio: ["pipe", "pipe", "pipe"] });
    const data = [];
    const baud = [];
    let err = "";
    const timer = setTimeout(
      () => reject(new Error(`pty relay: no tty after ${PTY_READY_MS} ms`)),
      PTY_READY_MS,
    );
    const p = {
      path: "",
      proc,
      write: (b) => void proc.stdin.write(Buffer.from(b)),
      onData: (cb) => void data.push(cb),
      onBaud: (cb) => void baud.push(cb),
      close: async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) return;
        proc.stdin.end();
        proc.kill();
        await new Promise((r) => proc.once("exit", r));
      },
    };
    proc.stdout.on("data", (d) => {
      for (const cb of data) cb(new Uint8Array(d));
    });
    proc.stderr.on("data", (d) => {
      err += d.toString();
      let nl;
      while ((nl = err.indexOf("\n")) >= 0) {
        const line = err.slice(0, nl);
        err = err.slice(nl + 1);
        if (line.startsWith("tty ")) {
          p.path = line.slice(4);
          clearTimeout(timer);
          resolve(p);
        } else if (line.startsWith("baud ")) {
          const b = Number(line.slice(5));
          if (Number.isFinite(b) && b > 0) for (const cb of baud) cb(b);
        }
      }
    });
    proc.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`pty relay exited (${code}): ${err}`));
    });
  });
}

/**
 * Starts a ROM model on a fresh pty. `sim` is the model module
 * (src/sim/stm32/index.ts, or dist's build of it) and `clock` the real clock.
 * `adapterLatencyMs` holds each answer back that long, as a USB-serial
 * adapter's receive latency does (CP210x, CH340: about 1 ms; an FTDI's
 * latency timer: up to 16 ms).
 */
export async function startRom(sim, clock, options) {
  const { adapterLatencyMs = 0, ...rest } = options;
  const pty = await openPty();
  // When the host's first byte came in and the model's last byte went out: the time on the line.
  const line = { firstIn: undefined, lastOut: undefined };
  pty.onData(() => (line.firstIn ??= performance.now()));
  const rom = sim.createStm32Rom(
    {
      write: (b) => {
        line.lastOut = performance.now() + adapterLatencyMs;
        if (adapterLatencyMs > 0) clock.schedule(adapterLatencyMs, () => pty.write(b));
        else pty.write(b);
      },
      onData: (cb) => pty.onData(cb),
    },
    { clock, line: { baud: 57600, frameBits: 10 }, ...rest },
  );
  pty.onBaud((b) => rom.setBaud(b));
  return {
    port: pty.path,
    rom,
    lineMs: () =>
      line.firstIn === undefined || line.lastOut === undefined ? 0 : line.lastOut - line.firstIn,
    stop: () => pty.close(),
  };
}

const temps = [];
/** Writes a file into a fresh temp dir; removeTemps() deletes them all. */
export function writeTemp(name, bytes) {
  const dir = mkdtempSync(join(tmpdir(), "canflash-stm32-"));
  temps.push(dir);
  const file = join(dir, name);
  writeFileSync(file, bytes);
  return file;
}

export function removeTemps() {
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Is Debian's stm32flash installed? */
export async function haveStm32flash() {
  return run("stm32flash", ["-h"]).then(
    () => true,
    (e) => e.code !== "ENOENT",
  );
}

/** Runs stm32flash; resolves {code, out} (stdout and stderr together), never rejects on exit codes. */
export function stm32flash(args, timeoutMs = STM32FLASH_TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    const child = spawn("stm32flash", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`stm32flash ${args.join(" ")} did not finish in ${timeoutMs} ms\n${out}`));
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}
