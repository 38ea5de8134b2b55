// A simulated SAM-BA board on a pty, for the real bossac and for canflash:
// the model runs in this process on the wall clock; the pty relay reports
// the line speed the host sets (a 1200-baud touch is seen as that).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { SamBaBoard, type SamBaBoardOptions } from "../../../src/sim/sam-ba/board.js";
import { preciseClock } from "../../../src/util/clock.js";
import { openPty, type Pty } from "../../fakes/pty.js";

const run = promisify(execFile);

export interface PtyBoard {
  board: SamBaBoard;
  pty: Pty;
  port: string;
  stop(): Promise<void>;
}

export async function startBoard(o: Omit<SamBaBoardOptions, "clock">): Promise<PtyBoard> {
  const pty = await openPty();
  const board = new SamBaBoard(
    { write: (b) => pty.write(b), onData: (cb) => pty.onData(cb), onBaud: (cb) => pty.onBaud(cb) },
    { ...o, clock: preciseClock },
  );
  return {
    board,
    pty,
    port: pty.path,
    stop: async () => {
      board.stop();
      await pty.close();
    },
  };
}

const dir = mkdtempSync(join(tmpdir(), "canflash-samba-"));
export function writeTemp(name: string, data: Uint8Array | string): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}
export const removeTempFiles = () => rmSync(dir, { recursive: true, force: true });

/** A whole bossac session. */
export const BOSSAC_TIMEOUT_MS = 120_000;

export interface BossacResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function bossac(args: string[]): Promise<BossacResult> {
  try {
    const { stdout, stderr } = await run("bossac", args, { timeout: BOSSAC_TIMEOUT_MS });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof x.code === "number" ? x.code : -1,
      stdout: x.stdout ?? "",
      stderr: x.stderr ?? "",
    };
  }
}

/** bossac's version line ("… Version 1.9.1"), or undefined when it is not installed. */
export async function bossacVersion(): Promise<string | undefined> {
  const r = await bossac(["--help"]);
  return /BOSSA\) Version (\S+)/.exec(r.stdout + r.stderr)?.[1];
}
