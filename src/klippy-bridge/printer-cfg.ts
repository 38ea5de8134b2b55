// Klipper's printer.cfg as Klippy reads it: INI sections, "key: value" or
// "key = value" (keys lower-cased), whole-line comments (# or ;) and inline
// ones after whitespace, indented continuation lines, sections that repeat
// (later values win), [include <glob>] relative to the including file, and
// the SAVE_CONFIG block ("#*# " lines after the marker) applied last.
//
// Pure: file access comes in as a small interface, so tests and the CLI
// decide where files live.

import { CanflashError } from "../util/errors.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    PRINTER_CFG: true;
  }
}

export const SAVE_CONFIG_MARKER = "#*# <---------------------- SAVE_CONFIG ---------------------->";
/** The block Klipper writes above saved settings; the settings count only below all of it. */
export const SAVE_CONFIG_HEADER = `\n${SAVE_CONFIG_MARKER}\n#*# DO NOT EDIT THIS BLOCK OR BELOW. The contents are auto-generated.\n#*#\n`;

export interface ConfigFs {
  readFile(path: string): Promise<string>;
  /** Files matching a glob pattern (absolute), sorted. */
  glob(pattern: string): Promise<string[]>;
}

export class PrinterConfigError extends CanflashError {
  constructor(
    message: string,
    readonly file: string,
    readonly line: number | undefined,
  ) {
    super(
      "PRINTER_CFG",
      line !== undefined ? `${file}:${line}: ${message}` : `${file}: ${message}`,
    );
  }
}

export interface ConfigOption {
  value: string;
  file: string;
  line: number;
}

export interface ConfigSection {
  /** As written, e.g. "mcu EBBCan" (Klipper keeps the case of section names). */
  name: string;
  options: Map<string, ConfigOption>;
  /** Where it first appears. */
  file: string;
  line: number;
}

export interface PrinterConfig {
  /** In order of first appearance. */
  sections: ConfigSection[];
  /** Every file read, the main one first. */
  files: string[];
}

const SECTION = /^\[(?<header>[^\]]+)\]/;
const OPTION = /^(?<key>[^:=\s][^:=]*?)\s*[:=]\s*(?<value>.*)$/;
const MAX_INCLUDE_DEPTH = 32;

const dirOf = (p: string) => (p.includes("/") ? p.slice(0, p.lastIndexOf("/")) || "/" : ".");
const join = (dir: string, rel: string) =>
  rel.startsWith("/") ? rel : `${dir.endsWith("/") ? dir : `${dir}/`}${rel}`;
const hasMagic = (p: string) => /[*?[]/.test(p);

/** Strips an inline comment: "#" or ";" preceded by whitespace (configparser's rule). */
function stripInline(text: string): string {
  const m = /\s[#;]/.exec(text);
  return (m ? text.slice(0, m.index) : text).trimEnd();
}

/**
 * Splits the main file into its own part and the SAVE_CONFIG settings
 * (prefixes removed). As Klippy does: without the exact header, or with
 * "#*# " lines above it or other lines below it, the block is not applied
 * (its lines are comments then).
 */
export function splitSaveConfig(text: string): { main: string; saved: string | undefined } {
  const data = text.replace(/\r\n/g, "\n");
  const at = data.indexOf(SAVE_CONFIG_HEADER);
  if (at < 0) return { main: data, saved: undefined };
  const main = data.slice(0, at);
  const block = data.slice(at + SAVE_CONFIG_HEADER.length).trim();
  if (main.includes("\n#*# ")) return { main: data, saved: undefined };
  const lines: string[] = [];
  for (const line of block === "" ? [] : block.split("\n")) {
    if (!line.startsWith("#*#") || (line.length >= 4 && !line.startsWith("#*# ")))
      return { main: data, saved: undefined };
    lines.push(line.slice(4));
  }
  return { main, saved: lines.join("\n") };
}

class Builder {
  readonly sections = new Map<string, ConfigSection>();
  readonly files: string[] = [];

  section(name: string, file: string, line: number): ConfigSection {
    let s = this.sections.get(name);
    if (!s) {
      s = { name, options: new Map(), file, line };
      this.sections.set(name, s);
    }
    return s;
  }
}

async function parseText(
  text: string,
  file: string,
  fs: ConfigFs,
  b: Builder,
  stack: string[],
): Promise<void> {
  let current: ConfigSection | undefined;
  let last: ConfigOption | undefined;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i]!.replace(/\r$/, "");
    const trimmed = raw.trim();
    if (trimmed === "" || trimmed.startsWith("#") || trimmed.startsWith(";")) continue;
    if (/^\s/.test(raw)) {
      // Continuation of the previous value.
      if (!last)
        throw new PrinterConfigError(`indented line outside an option: "${trimmed}"`, file, lineNo);
      const more = stripInline(trimmed);
      if (more !== "") last.value = last.value === "" ? more : `${last.value}\n${more}`;
      continue;
    }
    const sec = SECTION.exec(trimmed);
    if (sec) {
      const header = sec.groups!.header!.trim();
      last = undefined;
      if (header.startsWith("include ")) {
        current = undefined;
        await include(header.slice(8).trim(), file, lineNo, fs, b, stack);
        continue;
      }
      current = b.section(header, file, lineNo);
      continue;
    }
    const opt = OPTION.exec(stripInline(raw));
    if (!opt)
      throw new PrinterConfigError(
        `cannot read "${trimmed}" (expected "name: value" or [section])`,
        file,
        lineNo,
      );
    if (!current)
      throw new PrinterConfigError(
        `option "${opt.groups!.key}" before any [section]`,
        file,
        lineNo,
      );
    last = { value: opt.groups!.value!.trim(), file, line: lineNo };
    current.options.set(opt.groups!.key!.trim().toLowerCase(), last);
  }
}

async function include(
  spec: string,
  from: string,
  line: number,
  fs: ConfigFs,
  b: Builder,
  stack: string[],
): Promise<void> {
  const pattern = join(dirOf(from), spec);
  const files = hasMagic(pattern) ? await fs.glob(pattern) : [pattern];
  for (const f of files) {
    if (stack.includes(f)) throw new PrinterConfigError(`recursive [include ${spec}]`, from, line);
    if (stack.length >= MAX_INCLUDE_DEPTH)
      throw new PrinterConfigError(`includes nest deeper than ${MAX_INCLUDE_DEPTH}`, from, line);
    let text: string;
    try {
      text = await fs.readFile(f);
    } catch (e) {
      throw new PrinterConfigError(
        `[include ${spec}]: cannot read ${f} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
        from,
        line,
      );
    }
    b.files.push(f);
    await parseText(text, f, fs, b, [...stack, f]);
  }
}

/** Reads a printer.cfg and everything it includes. */
export async function loadPrinterConfig(path: string, fs: ConfigFs): Promise<PrinterConfig> {
  let text: string;
  try {
    text = await fs.readFile(path);
  } catch (e) {
    throw new PrinterConfigError(
      `cannot read the printer config (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      path,
      undefined,
    );
  }
  const b = new Builder();
  b.files.push(path);
  const { main, saved } = splitSaveConfig(text);
  await parseText(main, path, fs, b, [path]);
  if (saved !== undefined) await parseText(saved, `${path} (SAVE_CONFIG)`, fs, b, [path]);
  return { sections: [...b.sections.values()], files: b.files };
}

/** Parses config text without includes (an [include] is an error). */
export function parsePrinterConfig(text: string, file = "printer.cfg"): Promise<PrinterConfig> {
  const none: ConfigFs = {
    readFile: () => Promise.reject(new Error("includes are not read here")),
    glob: () => Promise.resolve([]),
  };
  return loadPrinterConfig(file, {
    ...none,
    readFile: (p) => (p === file ? Promise.resolve(text) : none.readFile(p)),
  });
}
