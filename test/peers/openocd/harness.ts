// The real openocd 0.12 (Debian's package) for the peers lane: present →
// the tests run; absent → they skip, except in CI (.ci/run installs it and
// sets CANFLASH_PEERS_STRICT), which must not pass by skipping.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const OPENOCD = process.env.CANFLASH_OPENOCD ?? "openocd";

function present(): boolean {
  // openocd prints its version on stderr
  const r = spawnSync(OPENOCD, ["--version"], { encoding: "utf8" });
  return !r.error && /Open On-Chip Debugger 0\.1\d/.test(`${r.stdout}${r.stderr}`);
}

export const haveOpenOcd = present();
if (!haveOpenOcd && process.env.CI)
  throw new Error(`${OPENOCD} is missing: .ci/run installs openocd`);

/** A folder with one config file in it; returns the file's path. */
export function configFile(text: string, name = "openocd.cfg"): string {
  const dir = mkdtempSync(join(tmpdir(), "canflash-openocd-"));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The dummy adapter with one JTAG TAP and no target: OpenOCD's RPC channel without hardware. */
export const DUMMY_CONFIG = [
  "adapter driver dummy",
  "transport select jtag",
  "adapter speed 1000",
  "jtag newtap chip cpu -irlen 4 -expected-id 0",
  "",
].join("\n");

/** remote_bitbang into canflash's TAP model on `port`, one TAP expecting `expected`. */
export const bitbangConfig = (port: number, expected: number): string =>
  [
    "adapter driver remote_bitbang",
    "remote_bitbang host 127.0.0.1",
    `remote_bitbang port ${port}`,
    "transport select jtag",
    "adapter speed 1000",
    `jtag newtap chip cpu -irlen 4 -expected-id 0x${expected.toString(16)}`,
    "",
  ].join("\n");

/** True while process `pid` exists (signal 0 only checks). */
export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
