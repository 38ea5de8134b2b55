// printer.cfg on disk: Klipper's default location and the file access the
// parser needs. The glob follows Python's glob.glob as Klippy calls it
// (not recursive: "**" is "*"; "*", "?" and "[...]" match within one path
// segment; hidden files only match a pattern that starts with "."), which a
// general-purpose glob library would get subtly different (brace expansion,
// recursive "**"), so it is these few lines.

import { readdir, readFile, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import type { ConfigFs } from "./printer-cfg.js";

/** Where Klipper installs (KIAUH, MainsailOS, FluiddPi) put printer.cfg. */
export function defaultPrinterConfigPaths(home = homedir()): string[] {
  return [
    join(home, "printer_data/config/printer.cfg"),
    join(home, "klipper_config/printer.cfg"),
    join(home, "printer.cfg"),
  ];
}

function segmentRegExp(segment: string): RegExp {
  let re = "";
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const close = segment.indexOf("]", i + 2);
      if (close < 0) re += "\\[";
      else {
        let body = segment.slice(i + 1, close);
        if (body.startsWith("!")) body = `^${body.slice(1)}`;
        re += `[${body.replace(/\\/g, "\\\\")}]`;
        i = close;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

const magic = (s: string) => /[*?[]/.test(s);

async function expand(base: string, segments: string[]): Promise<string[]> {
  if (segments.length === 0) return [base];
  const [head, ...rest] = segments as [string, ...string[]];
  if (!magic(head)) return expand(join(base, head), rest);
  let names: string[];
  try {
    names = await readdir(base);
  } catch {
    return [];
  }
  const re = segmentRegExp(head);
  const matches = names
    .filter((n) => re.test(n) && (!n.startsWith(".") || head.startsWith(".")))
    .sort();
  return (await Promise.all(matches.map((n) => expand(join(base, n), rest)))).flat();
}

/** Python-glob-compatible match of an absolute pattern; existing paths only. */
export async function globFiles(pattern: string): Promise<string[]> {
  const abs = resolve(pattern);
  const found = await expand("/", abs.split("/").filter(Boolean));
  const files: string[] = [];
  for (const f of found) {
    // Only regular files (a directory matching "*" is not a config file).
    if ((await stat(f).catch(() => undefined))?.isFile()) files.push(f);
  }
  return files.sort();
}

export const nodeConfigFs: ConfigFs = {
  readFile: (p) => readFile(p, "utf8"),
  glob: globFiles,
};
