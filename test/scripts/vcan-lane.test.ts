// scripts/vcan-lane.mjs when User-Mode Linux dies: the lane must fail (never
// skip) and print the cause first, not just the console tail. UML is faked
// through UML_BIN, so this needs no UML and runs in the default suite.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const lane = resolve(import.meta.dirname, "../../scripts/vcan-lane.mjs");
let dir = "";

function fake(name: string, body: string, where = dir): string {
  const file = join(where, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

function runLane(umlBin: string, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [lane], {
    encoding: "utf8",
    timeout: 30_000,
    env: {
      ...process.env,
      // The lane checks the host has these before booting; they are not used.
      PATH: `${join(dir, "bin")}${delimiter}${process.env.PATH ?? ""}`,
      UML_BIN: umlBin,
      ...env,
    },
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "canflash-lane-test-"));
  const bin = join(dir, "bin");
  mkdirSync(bin);
  for (const tool of ["cansend", "candump", "ip", "tc", "insmod"]) fake(tool, "exit 0", bin);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("vcan lane failure report", () => {
  it("names the AVX-512/AMX ptrace panic and the umlfix wrapper, and exits 1", () => {
    const uml = fake(
      "uml-fpregs",
      `cat <<'X'
Linux version 6.1.176 (debian-kernel@lists.debian.org)
${Array.from({ length: 60 }, (_, i) => `boot line ${i}`).join("\n")}
Run /tmp/init.sh as init process
userspace - ptrace set fp regs failed, errno = 14
Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b
${Array.from({ length: 45 }, (_, i) => `after panic ${i}`).join("\n")}
X
exit 1`,
    );
    const { status, out } = runLane(uml);
    expect(status).toBe(1);
    expect(out).toMatch(/umlfix not preloaded \(UML_BIN\); CPU avx512f: \w+, amx_tile: \w+/);
    // The cause lines come first, although they are not in the last 40 lines.
    const cause = out.indexOf("cause:");
    expect(cause).toBeGreaterThan(-1);
    expect(out.indexOf("ptrace set fp regs failed, errno = 14", cause)).toBeGreaterThan(cause);
    expect(out.indexOf("Kernel panic - not syncing", cause)).toBeLessThan(
      out.indexOf("console tail:"),
    );
    expect(out).toContain("AVX-512/AMX problem");
    expect(out).toContain("The umlfix wrapper must be used");
    expect(out).not.toContain("boot line 59");
    expect(out).toContain("after panic 44");
  });

  it("names the umlfix fix for any panic without it", () => {
    const uml = fake(
      "uml-oops",
      "echo 'Oops: general protection fault'; echo 'Kernel panic - not syncing: Fatal exception'; exit 1",
    );
    const { status, out } = runLane(uml);
    expect(status).toBe(1);
    expect(out).toMatch(/cause:\n {2}Oops: general protection fault\n {2}Kernel panic/);
    expect(out).toContain("umlfix");
    expect(out).not.toContain("AVX-512/AMX problem");
  });

  it("reports a timeout from the timeout command's exit 124", () => {
    const uml = fake("uml-hang", "exec sleep 20");
    const { status, out } = runLane(uml, { UML_TIMEOUT_S: "1" });
    expect(status).toBe(1);
    expect(out).toMatch(/cause:\n {2}timeout: UML did not finish within 1 s \(timeout exit 124/);
  });
});
