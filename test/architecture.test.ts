// Imports flow one way, by layer:
//   cli → moonraker → flasher → sim → bootloaders → entry → flash-api → klippy-bridge →
//   transport → targets → can → util
// A module may import its own folder and lower layers only; peers on one
// layer do not import each other. On top of that:
// - cli/ imports only flasher/, moonraker/, flash-api/, util/ and itself: it parses,
//   calls the library and renders; it never picks a protocol or opens a bus.
// - outside bootloaders/, only the driver table (bootloaders/index.ts) is
//   imported: no code names a protocol's folder, so a new bootloader is one
//   folder, one table line and target rows.
// - a family's folder (katapult/, avr/ with its STK500v1 and STK500v2
//   drivers) imports no other family's folder.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve(__dirname, "../src");
const LAYER: Record<string, number> = {
  util: 0,
  can: 1,
  targets: 1.5,
  transport: 2,
  usb: 2.1,
  "gs-usb": 2.2,
  "klippy-bridge": 2.5,
  "flash-api": 2.7,
  entry: 2.8,
  bootloaders: 3,
  sim: 3.5,
  flasher: 4,
  moonraker: 4.5,
  cli: 5,
};
const CLI_MAY_IMPORT = new Set(["cli", "flasher", "moonraker", "flash-api", "util"]);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

const parts = (file: string) => relative(SRC, file).split("/");
const top = (file: string) => parts(file)[0]!;

function imports(f: string): string[] {
  return [...readFileSync(f, "utf8").matchAll(/(?:from |import\()"(\.[^"]+)"/g)].map((m) =>
    resolve(dirname(f), m[1]!),
  );
}

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
      for (const target of imports(f)) {
        const to = top(target);
        if (to === from) continue;
        if (!(LAYER[to]! < LAYER[from]!))
          violations.push(`${relative(SRC, f)} imports ${relative(SRC, target)} (${from} → ${to})`);
      }
    }
    expect(violations).toEqual([]);
  });

  it("cli/ imports only flasher/, flash-api/, util/ and its own files", () => {
    const violations: string[] = [];
    for (const f of files(join(SRC, "cli")))
      for (const target of imports(f))
        if (!CLI_MAY_IMPORT.has(top(target)))
          violations.push(`${relative(SRC, f)} imports ${relative(SRC, target)}`);
    expect(violations).toEqual([]);
  });

  it("outside bootloaders/ only the driver table is imported; protocol folders stay apart", () => {
    const violations: string[] = [];
    for (const f of files(SRC)) {
      const [from, fromSub] = parts(f);
      for (const target of imports(f)) {
        const [to, toSub] = parts(target);
        if (to !== "bootloaders" || toSub === "index.js") continue;
        // src/index.ts is the package's public surface: it re-exports the protocols' own APIs
        if (from === "index.ts") continue;
        // sim/ models the firmware: it speaks a protocol through its codec and chip facts
        if (from === "sim" && /\/(codec|parts)\.js$/.test(target)) continue;
        if (from !== "bootloaders")
          violations.push(`${relative(SRC, f)} imports ${relative(SRC, target)}`);
        else if (fromSub !== toSub && fromSub !== "index.ts")
          violations.push(`${relative(SRC, f)} imports another protocol: ${relative(SRC, target)}`);
      }
    }
    expect(violations).toEqual([]);
  });

  it("only cli/ prints, and native addons load lazily through util/native.ts", () => {
    for (const f of files(SRC)) {
      const text = readFileSync(f, "utf8");
      const rel = relative(SRC, f);
      if (!rel.startsWith("cli/"))
        expect(text, `${rel} writes to stdout`).not.toMatch(/console\.|process\.stdout/);
      for (const addon of ["socketcan", "serialport", "usb", "node-hid"]) {
        expect(text, `${rel} imports ${addon} statically`).not.toMatch(
          new RegExp(`^import .* from "${addon}"`, "m"),
        );
        if (new RegExp(`import\\("${addon}"\\)`).test(text))
          expect(text, `${rel} loads ${addon} without util/native.ts`).toMatch(/loadAddon/);
      }
    }
  });

  it("library errors name no command-line flag (the CLI words the fix)", () => {
    const violations: string[] = [];
    for (const f of files(SRC)) {
      const rel = relative(SRC, f);
      if (rel.startsWith("cli/")) continue;
      for (const m of readFileSync(f, "utf8").matchAll(/super\(\s*"[A-Z_]+",([\s\S]*?)\);/g))
        if (/--[a-z]|canflash -/.test(m[1]!))
          violations.push(`${rel}: ${m[1]!.trim().slice(0, 80)}`);
    }
    expect(violations).toEqual([]);
  });
});
