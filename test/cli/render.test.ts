// Rendering details users see: whole bytes per second, bars that fit the
// terminal, a table whose RESULT column stays short with the details below
// and a TOTAL line, and flashtool's result lines that scripts grep.
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatBytes, JsonReporter, TextReporter } from "../../src/cli/output.js";
import type { CliIo } from "../../src/cli/io.js";
import { appImage, canflash } from "./helpers.js";

function tty(columns: number) {
  let out = "";
  let t = 0;
  const io: CliIo = {
    stdout: { write: (s) => void (out += s), isTTY: true, columns },
    stderr: { write: () => undefined },
    env: {},
    cwd: "/",
  };
  return { io, out: () => out, now: () => (t += 1000) };
}

describe("rendering", () => {
  it("--json: at most one progress event per whole percent, always the last, again after a new phase start", () => {
    const t = tty(80);
    const r = new JsonReporter(t.io, "0.0.0");
    const total = 48 * 1024;
    const run = () => {
      r.flashEvent("b", { type: "phase-start", phase: "write", totalBytes: total });
      for (let bytes = 64; bytes <= total; bytes += 64)
        r.flashEvent("b", { type: "progress", phase: "write", bytes, totalBytes: total });
    };
    run();
    run();
    const progress = t
      .out()
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string; bytes?: number; totalBytes?: number })
      .filter((e) => e.type === "progress");
    // 768 blocks a run: one line per percent reached (0 % at the first block is 0, then 1..100)
    expect(progress.length).toBe(2 * 101);
    expect(progress[0]!.bytes).toBe(64);
    expect(progress[100]).toMatchObject({ bytes: total, totalBytes: total });
    expect(progress[101]!.bytes).toBe(64);
    expect(progress.at(-1)).toMatchObject({ bytes: total });
    const pcts = progress.slice(0, 101).map((e) => Math.floor((100 * e.bytes!) / total));
    expect(new Set(pcts).size).toBe(101);
  });

  it("prints rates below 1 KiB/s as whole bytes", () => {
    expect(formatBytes(667.829339285404)).toBe("668 B");
    expect(formatBytes(2048)).toBe("2.0 KiB");
  });

  it("cuts bar lines to the terminal width, so a redraw never scrolls", () => {
    const t = tty(60);
    const r = new TextReporter(t.io, { now: t.now });
    r.setMulti(true);
    r.flashEvent("a-very-long-board-name", {
      type: "phase-start",
      phase: "write",
      totalBytes: 1 << 20,
    });
    r.flashEvent("a-very-long-board-name", {
      type: "progress",
      phase: "write",
      bytes: 700,
      totalBytes: 1 << 20,
    });
    const ansi = new RegExp(String.fromCharCode(27) + "\\[[0-9;]*[A-Za-z]", "g"); // cursor sequences
    const lines = t.out().replace(ansi, "").split("\n").filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l.length).toBeLessThan(60);
  });

  it("keeps FAILED rows short, puts the cause below, and ends with a TOTAL line", () => {
    const t = tty(120);
    const r = new TextReporter({ ...t.io, stdout: { ...t.io.stdout, isTTY: false } });
    r.table([
      { board: "T0", uuid: "aabbccddeeff", result: "ok", bytes: 4096, ms: 2100 },
      {
        board: "T1",
        uuid: "112233445566",
        result: "failed",
        ms: 400,
        error: { code: "PREFLIGHT_MCU", message: "the image is built for stm32f103xe, but …" },
      },
    ]);
    expect(t.out()).toMatch(/T1\s+112233445566\s+FAILED \(PREFLIGHT_MCU, see below\)/);
    expect(t.out()).toMatch(/TOTAL\s+1 of 2 flashed\s+4\.0 KiB\s+2\.1 s/);
    expect(t.out()).toMatch(/\n {2}T1: the image is built for stm32f103xe/);
    for (const l of t.out().split("\n")) expect(l.length).toBeLessThan(100);
  });

  it("prints flashtool's 'Write complete: N pages' and 'Verification Complete: SHA = …'", async () => {
    const dir = mkdtempSync(join(tmpdir(), "canflash-render-"));
    const file = join(dir, "app.bin");
    writeFileSync(file, await appImage(6400, 3)); // 100 blocks of 64: no padding
    const r = await canflash(["-i", "sim", "-u", "8266c4636429", file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Write complete: \d+ pages$/m);
    const sha = createHash("sha1").update(readFileSync(file)).digest("hex").toUpperCase();
    expect(r.stdout).toContain(`Verification Complete: SHA = ${sha}`);
    const b = await canflash(["-i", "sim", "-u", "8266c4636429", "-u", "ef00c3c43f24", file]);
    expect(b.stdout).toMatch(/^8266c4636429: Programming Complete$/m);
    expect(b.stdout).toMatch(/^ef00c3c43f24: Programming Complete$/m);
  });
});
