// The simulated flash-sdcard board on a real pty, for canflash run as a
// user runs it: a python3 relay opens the pty pair (Node cannot), prints
// the slave's path and copies bytes both ways; the board runs in this
// process. The slave stays while the board reboots (as a UART's line does).
import { spawn, type ChildProcess } from "node:child_process";
import type { SimSpiKlipperBoard } from "../../../src/sim/sdcard/spi-board.js";

/** From spawn to the relay's path line. */
const PTY_READY_MS = 10_000;

const RELAY = String.raw`
import os, pty, sys, select, tty
m, s = pty.openpty()
tty.setraw(s)
sys.stderr.write('tty %s\n' % os.ttyname(s)); sys.stderr.flush()
os.close(s)
while True:
    r, _, _ = select.select([m, 0], [], [], 0.05)
    if m in r:
        try:
            d = os.read(m, 65536)
            if d: os.write(1, d)
        except OSError:
            pass
    if 0 in r:
        d = os.read(0, 65536)
        if not d: break
        os.write(m, d)
`;

export interface BoardOnPty {
  path: string;
  stop(): Promise<void>;
}

export function boardOnPty(board: SimSpiKlipperBoard): Promise<BoardOnPty> {
  return new Promise((resolve, reject) => {
    const proc: ChildProcess = spawn("python3", ["-u", "-c", RELAY], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    const timer = setTimeout(() => reject(new Error("pty relay: no tty")), PTY_READY_MS);
    let err = "";
    proc.stdout!.on("data", (d: Buffer) => {
      const out = board.receive(new Uint8Array(d));
      if (out.length) proc.stdin!.write(Buffer.from(out));
    });
    proc.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      const m = /^tty (\S+)$/m.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({
          path: m[1]!,
          stop: async () => {
            if (proc.exitCode !== null) return;
            proc.stdin!.end();
            proc.kill();
            await new Promise((r) => proc.once("exit", r));
          },
        });
      }
    });
    proc.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`pty relay exited (${code}): ${err}`));
    });
  });
}
