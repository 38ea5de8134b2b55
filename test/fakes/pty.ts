// A pseudo-terminal pair for serial tests. Node cannot open ptys, so a small
// python3 relay (python3 is on every machine of this kind) creates one,
// reports the slave's path, copies master <-> its stdin/stdout, and reports
// the line speed the host sets on the slave ("baud N" on stderr) — a pty
// carries no DTR/RTS, so speed is the only line signal a device model sees.
import { spawn, type ChildProcess } from "node:child_process";

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

export interface Pty {
  /** The slave device path the host opens, e.g. /dev/pts/7. */
  path: string;
  /** Bytes to the host (as if the device sent them). */
  write(bytes: Uint8Array): void;
  onData(cb: (bytes: Uint8Array) => void): void;
  onBaud(cb: (baud: number) => void): void;
  /** Current line speed set by the host. */
  baud: number | undefined;
  close(): Promise<void>;
  readonly process: ChildProcess;
}

export function openPty(): Promise<Pty> {
  return new Promise((resolve, reject) => {
    const proc = spawn("python3", ["-u", "-c", RELAY], { stdio: ["pipe", "pipe", "pipe"] });
    const dataCbs: Array<(b: Uint8Array) => void> = [];
    const baudCbs: Array<(b: number) => void> = [];
    let err = "";
    let resolved = false;
    const pty: Pty = {
      path: "",
      baud: undefined,
      process: proc,
      write: (b) => void proc.stdin.write(Buffer.from(b)),
      onData: (cb) => void dataCbs.push(cb),
      onBaud: (cb) => void baudCbs.push(cb),
      close: async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) return;
        proc.stdin.end();
        proc.kill();
        await new Promise((r) => proc.once("exit", r));
      },
    };
    proc.stdout.on("data", (d: Buffer) => {
      for (const cb of dataCbs) cb(new Uint8Array(d));
    });
    proc.stderr.on("data", (d: Buffer) => {
      err += d.toString();
      let nl: number;
      while ((nl = err.indexOf("\n")) >= 0) {
        const line = err.slice(0, nl);
        err = err.slice(nl + 1);
        if (line.startsWith("tty ")) {
          pty.path = line.slice(4);
          resolved = true;
          resolve(pty);
        } else if (line.startsWith("baud ")) {
          const b = Number(line.slice(5));
          if (Number.isFinite(b)) {
            pty.baud = b;
            for (const cb of baudCbs) cb(b);
          }
        }
      }
    });
    proc.on("exit", (code) => {
      if (!resolved) reject(new Error(`pty relay exited (${code}): ${err}`));
    });
  });
}
