// Imports flow one way: cli → flasher/sim → canboot/bootloaders →
// klippy-bridge → flash-api/transport → can → util. A module may import its
// own folder and lower layers only; peers on one layer do not import each other.
// klippy-bridge sits just above transport: it speaks Klipper's protocol over
// a byte stream (identify), never the other way round.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve(__dirname, "../src");
const LAYER: Record<string, number> = {
  util: 0,
  can: 1,
  transport: 2,
  "klippy-bridge": 2.5,
  "flash-api": 2,
  canboot: 3,
  bootloaders: 3,
  flasher: 4,
  sim: 4,
  cli: 5,
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

const top = (file: string) => relative(SRC, file).split("/")[0]!;

describe("architecture", () => {
  it("every src folder has a layer", () => {
    for (const f of files(SRC)) {
      const t = top(f);
      if (t.endsWith(".ts")) continue; // src/index.ts re-exports everything
      expect(LAYER, `src/${t} has no layer in test/architecture.test.ts`).toHaveProperty(t);
    }
  });

  it("imports only go to the own folder or a lower layer", () => {
    const violations: string[] = [];
    for (const f of files(SRC)) {
      const from = top(f);
      if (from.endsWith(".ts")) continue;
      for (const m of readFileSync(f, "utf8").matchAll(/from "(\.[^"]+)"/g)) {
        const to = top(resolve(dirname(f), m[1]!));
        if (to === from) continue;
        if (!(LAYER[to]! < LAYER[from]!))
          violations.push(`${relative(SRC, f)} imports ${m[1]} (${from} → ${to})`);
      }
    }
    expect(violations).toEqual([]);
  });

  it("only cli/ prints, and native addons load lazily in their two modules", () => {
    for (const f of files(SRC)) {
      const text = readFileSync(f, "utf8");
      const rel = relative(SRC, f);
      if (!rel.startsWith("cli/"))
        expect(text, `${rel} writes to stdout`).not.toMatch(/console\.|process\.stdout/);
      for (const addon of ["socketcan", "serialport", "usb", "node-hid"]) {
        expect(text, `${rel} imports ${addon} statically`).not.toMatch(
          new RegExp(`^import .* from "${addon}"`, "m"),
        );
      }
    }
  });
});
