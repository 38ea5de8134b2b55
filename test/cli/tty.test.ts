// The TTY rendering, checked without screenshots: canflash runs under a
// pseudo-terminal (util-linux `script`), so stdout.isTTY is true; the bars
// must redraw in place, reach 100%, and the final table must be drawn.
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BIN, appImage } from "./helpers.js";

function underPty(args: string[]): Promise<string> {
  const cmd = [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(" ");
  return new Promise((resolve, reject) => {
    const p = spawn("script", ["-qec", cmd, "/dev/null"], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, COLUMNS: "120" },
    });
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.on("error", reject);
    p.on("close", (code) =>
      code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${out}`)),
    );
  });
}

describe("TTY rendering", () => {
  it("draws live bars that reach 100% and the final table", async () => {
    const dir = mkdtempSync(join(tmpdir(), "canflash-tty-"));
    const file = join(dir, "klipper.bin");
    writeFileSync(file, await appImage(16_384, 61));
    const out = await underPty(["-i", "sim", "-u", "8266c4636429", "-u", "ef00c3c43f24", file]);
    expect(out).toContain("\x1b["); // redrawn in place (cursor movement), not plain lines
    for (const board of ["8266c4636429", "ef00c3c43f24"]) {
      expect(out).toMatch(new RegExp(`${board}\\s+write\\s+\\[#+\\]\\s+100%`));
      expect(out).toMatch(new RegExp(`${board}\\s+verify\\s+\\[#+\\]\\s+100%`));
    }
    expect(out).toMatch(/BOARD\s+UUID\/DEVICE\s+RESULT\s+BYTES\s+TIME/);
    expect(out).not.toMatch(/write 25% \(/); // the plain-line fallback is not used on a TTY
  });

  it("a single board gets one bar and flashtool's last line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "canflash-tty-"));
    const file = join(dir, "klipper.bin");
    writeFileSync(file, await appImage(8192, 62));
    const out = await underPty(["-i", "sim", "-u", "8266c4636429", file]);
    expect(out).toMatch(/write\s+\[#+\]\s+100%/);
    expect(out).toMatch(/Programming Complete/);
  });
});
