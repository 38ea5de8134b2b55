// Rendering for people and for programs. TextReporter: result lines on
// stdout (flashtool's wording), progress as live bars on a TTY (one line
// per board, redrawn in place) or plain lines elsewhere (readable over SSH
// and in Mainsail's console), errors with causes and the next command on
// stderr, a final table for batches. JsonReporter: NDJSON (json-events.ts)
// and nothing else on stdout.

import type { FlashEvent, FlashPhase } from "../flash-api/progress.js";
import type { Explained } from "./hints/index.js";
import type { CliIo } from "./io.js";
import type { JsonEvent } from "./json-events.js";

export interface BoardRow {
  board: string;
  uuid?: string;
  device?: string;
  interface?: string;
  /** ok; dry-run (nothing written); current (--skip-current: already on the image's build); failed; skipped (not started). */
  result: "ok" | "dry-run" | "current" | "failed" | "skipped";
  bytes?: number;
  ms?: number;
  /** CPU this process used during the flash, ms (process.cpuUsage; flashes side by side share it). */
  cpuMs?: number;
  /** Dry runs: what a real run would do. */
  note?: string;
  error?: { code: string; message: string; phase?: string; deviceState?: string };
  /** canflash ensure: this run changed the board (flashed it). */
  changed?: boolean;
}

export interface NodeLine {
  uuid: string;
  application: "Katapult" | "Klipper" | "Kalico" | "Unknown";
  interface: string;
  mcu?: string;
  version?: string;
  section?: string;
  /** Answered the query, or found holding a node id (silent to queries). */
  found?: "query" | "node-id";
  nodeId?: number;
  /** Katapult's CONNECT facts (--katapult-info). */
  blockSize?: number;
  appStart?: number;
  protocol?: string;
  /** Klipper build facts from identify. */
  transport?: string;
  canbusFrequency?: number;
  /** Identify or CONNECT failed. */
  error?: string;
}

/** A node printer.cfg names that did not show up. */
export interface MissingLine {
  section: string;
  uuid: string;
  interface: string;
  reason: string;
  fix?: string;
}

export interface Reporter {
  start(command: string): void;
  /** A result line (flashtool's wording); not part of --json. */
  line(text: string): void;
  info(text: string, board?: string, data?: Record<string, unknown>): void;
  node(n: NodeLine, text: string): void;
  missing(m: MissingLine, text: string): void;
  /** A row of the target table (text: the rendered line). */
  target(t: Record<string, unknown>, text: string): void;
  /** A doctor finding (text: the rendered line). */
  finding(
    f: { level: "ok" | "warn" | "error"; topic: string; message: string; fix?: string },
    text: string,
  ): void;
  flashEvent(board: string, e: FlashEvent): void;
  /** Final table of a batch. */
  table(rows: BoardRow[]): void;
  /** An error; `code` is the library's error code (for --json); `detail` a stack trace (-v only). */
  error(e: Explained, detail?: string, code?: string): void;
  /** The end: JSON writes its result object. */
  finish(exitCode: number, rows?: BoardRow[]): void;
}

export interface OutputOptions {
  quiet?: boolean;
  verbose?: boolean;
  now?: () => number;
}

const PHASE_TEXT: Record<FlashPhase, string> = {
  enter: "Entering the bootloader",
  connect: "Connecting to the bootloader",
  compare: "Reading back to compare",
  erase: "Erasing",
  write: "Writing",
  verify: "Verifying",
  finish: "Starting the new firmware",
};

export function formatBytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

/** Columns padded to their widest cell, two spaces apart. */
export function renderTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

interface BarState {
  phase: FlashPhase;
  bytes: number;
  total: number;
  started: number;
  lastPlainStep: number;
}

const REDRAW_MS = 100;

export class TextReporter implements Reporter {
  private readonly bars = new Map<string, BarState>();
  private drawn = 0;
  private lastDraw = 0;
  private readonly now: () => number;

  constructor(
    private readonly io: CliIo,
    private readonly options: OutputOptions = {},
  ) {
    this.now = options.now ?? (() => performance.now());
  }

  private get tty(): boolean {
    return this.io.stdout.isTTY === true;
  }

  start(): void {}

  line(text: string): void {
    this.clearBars();
    this.io.stdout.write(`${text}\n`);
    this.drawBars(true);
  }

  info(text: string, board?: string): void {
    if (this.options.quiet) return;
    this.line(board ? `${board}: ${text}` : text);
  }

  node(_n: NodeLine, text: string): void {
    this.line(text);
  }

  missing(_m: MissingLine, text: string): void {
    this.line(text);
  }

  target(_t: Record<string, unknown>, text: string): void {
    this.line(text);
  }

  finding(_f: unknown, text: string): void {
    this.line(text);
  }

  flashEvent(board: string, e: FlashEvent): void {
    switch (e.type) {
      case "phase-start": {
        const total = e.totalBytes ?? 0;
        if (
          e.phase === "write" ||
          e.phase === "verify" ||
          e.phase === "erase" ||
          e.phase === "compare"
        ) {
          this.bars.set(board, {
            phase: e.phase,
            bytes: 0,
            total,
            started: this.now(),
            lastPlainStep: -1,
          });
          if (!this.tty)
            this.info(
              // an erase of the whole chip has no size to say ("Erasing 0 B" was the SWD chip erase)
              `${PHASE_TEXT[e.phase]}${e.totalBytes !== undefined ? ` ${formatBytes(total)}` : ""}...`,
              this.multi ? board : undefined,
            );
          else this.drawBars(true);
        } else this.info(`${PHASE_TEXT[e.phase]}...`, this.multi ? board : undefined);
        break;
      }
      case "progress": {
        const bar = this.bars.get(board);
        if (!bar) break;
        bar.bytes = e.bytes;
        bar.total = e.totalBytes;
        if (this.tty) this.drawBars(e.bytes >= e.totalBytes);
        else this.plainProgress(board, bar);
        break;
      }
      case "phase-end":
      case "phase-failed": {
        const bar = this.bars.get(board);
        if (bar && this.tty) {
          this.drawBars(true);
          // Leave the finished bar in the scroll-back.
          this.clearBars();
          this.io.stdout.write(`${this.barLine(board, bar)}\n`);
        }
        this.bars.delete(board);
        this.drawBars(true);
        if (e.type === "phase-end" && this.options.verbose)
          this.info(`${e.phase} done in ${(e.ms / 1000).toFixed(2)} s`, board);
        break;
      }
      case "info":
        this.info(e.message, this.multi ? board : undefined);
        break;
    }
  }

  table(rows: BoardRow[]): void {
    const details: string[] = [];
    const body = rows.map((r) => {
      let result: string = r.result;
      if (r.result === "failed") {
        details.push(`  ${r.board}: ${r.error?.message ?? "failed"}`);
        result = `FAILED (${r.error?.code ?? "error"}, see below)`;
      } else if (r.note && r.note.length > 60) {
        details.push(`  ${r.board}: ${r.note}`);
        result = `${r.result} (see below)`;
      } else if (r.note) result = `${r.result} (${r.note})`;
      return [
        r.board,
        r.uuid ?? r.device ?? "-",
        result,
        r.bytes !== undefined ? formatBytes(r.bytes) : "-",
        r.ms !== undefined ? `${(r.ms / 1000).toFixed(1)} s` : "-",
      ];
    });
    const bytes = rows.reduce((n, r) => n + (r.result === "ok" ? (r.bytes ?? 0) : 0), 0);
    const ms = Math.max(0, ...rows.map((r) => r.ms ?? 0));
    const ok = rows.filter((r) => r.result === "ok").length;
    body.push([
      "TOTAL",
      `${ok} of ${rows.length} flashed`,
      "",
      formatBytes(bytes),
      `${(ms / 1000).toFixed(1)} s`,
    ]);
    this.line(renderTable([["BOARD", "UUID/DEVICE", "RESULT", "BYTES", "TIME"], ...body]));
    if (details.length) this.line(details.join("\n"));
  }

  error(e: Explained, detail?: string): void {
    this.clearBars();
    const lines = [`error: ${e.message}`];
    for (const c of e.causes) lines.push(`  ${c}`);
    if (e.next.length) {
      lines.push("  next:");
      for (const n of e.next) lines.push(`    ${n}`);
    }
    if (detail && this.options.verbose) lines.push(detail);
    this.io.stderr.write(`${lines.join("\n")}\n`);
    this.drawBars(true);
  }

  finish(): void {
    this.clearBars();
  }

  /** Several boards at once: label the lines. */
  private multi = false;
  setMulti(multi: boolean): void {
    this.multi = multi;
  }

  private plainProgress(board: string, bar: BarState): void {
    if (this.options.quiet) return;
    const pct = bar.total > 0 ? Math.floor((bar.bytes * 100) / bar.total) : 100;
    const step = Math.floor(pct / 25) * 25;
    if (step <= bar.lastPlainStep) return;
    bar.lastPlainStep = step;
    const secs = Math.max(1e-3, (this.now() - bar.started) / 1000);
    const prefix = this.multi ? `${board}: ` : "";
    this.io.stdout.write(
      `${prefix}${bar.phase} ${step}% (${formatBytes(bar.bytes)} of ${formatBytes(bar.total)}, ${formatBytes(bar.bytes / secs)}/s)\n`,
    );
  }

  private barLine(board: string, bar: BarState): string {
    const pct = bar.total > 0 ? Math.floor((bar.bytes * 100) / bar.total) : 100;
    const secs = Math.max(1e-3, (this.now() - bar.started) / 1000);
    const rate = bar.bytes / secs;
    const eta = rate > 0 ? (bar.total - bar.bytes) / rate : 0;
    const cols = this.io.stdout.columns || 80; // 0: a pty without a window size
    const label = this.multi ? `${board.slice(0, 14).padEnd(14)} ` : "";
    const width = Math.max(10, Math.min(40, cols - 62 - label.length));
    const filled = Math.round((pct / 100) * width);
    const full = `${label}${bar.phase.padEnd(6)} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${String(pct).padStart(3)}% ${formatBytes(bar.bytes)}/${formatBytes(bar.total)} ${formatBytes(rate)}/s ETA ${eta.toFixed(0)}s`;
    // A line wider than the terminal wraps, and every redraw would scroll.
    return full.length > cols - 1 ? full.slice(0, Math.max(1, cols - 1)) : full;
  }

  private clearBars(): void {
    if (!this.tty || this.drawn === 0) return;
    this.io.stdout.write(`\x1b[${this.drawn}F\x1b[J`);
    this.drawn = 0;
  }

  private drawBars(force: boolean): void {
    if (!this.tty || this.options.quiet || this.bars.size === 0) return;
    const t = this.now();
    if (!force && t - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = t;
    this.clearBars();
    const lines = [...this.bars].map(([board, bar]) => this.barLine(board, bar));
    this.io.stdout.write(`${lines.join("\n")}\n`);
    this.drawn = lines.length;
  }
}

export class JsonReporter implements Reporter {
  private lastError: (Explained & { code: string }) | undefined;
  /** Per board and phase: the whole percent of the last progress event written. */
  private readonly progressAt = new Map<string, number>();

  constructor(
    private readonly io: CliIo,
    private readonly version: string,
  ) {}

  private emit(e: JsonEvent): void {
    this.io.stdout.write(`${JSON.stringify(e)}\n`);
  }

  start(command: string): void {
    this.emit({ type: "start", command, version: this.version, time: new Date().toISOString() });
  }

  line(): void {}

  info(message: string, board?: string, data?: Record<string, unknown>): void {
    this.emit({ type: "info", message, ...(board ? { board } : {}), ...(data ? { data } : {}) });
  }

  node(n: NodeLine): void {
    this.emit({ type: "node", ...n });
  }

  missing(m: MissingLine): void {
    this.emit({ type: "missing", ...m });
  }

  target(t: Record<string, unknown>): void {
    this.emit({ type: "target", target: t });
  }

  finding(f: {
    level: "ok" | "warn" | "error";
    topic: string;
    message: string;
    fix?: string;
  }): void {
    this.emit({ type: "finding", ...f });
  }

  flashEvent(board: string, e: FlashEvent): void {
    switch (e.type) {
      case "phase-start":
        this.progressAt.delete(`${board}\u0000${e.phase}`);
        this.emit({
          type: "phase",
          board,
          phase: e.phase,
          status: "start",
          ...(e.totalBytes !== undefined ? { totalBytes: e.totalBytes } : {}),
        });
        break;
      case "phase-end":
        this.emit({
          type: "phase",
          board,
          phase: e.phase,
          status: "end",
          ms: Math.round(e.ms * 1000) / 1000,
        });
        break;
      case "phase-failed":
        this.emit({
          type: "phase",
          board,
          phase: e.phase,
          status: "failed",
          error: e.error.message,
        });
        break;
      case "progress":
        if (e.phase !== "enter" && e.phase !== "connect" && e.phase !== "finish") {
          // One event per whole percent (and the last): a program needs no line per 64-byte
          // block, and each line is a write to stdout in the middle of the flash.
          const key = `${board}\u0000${e.phase}`;
          const pct = e.totalBytes > 0 ? Math.floor((100 * e.bytes) / e.totalBytes) : 100;
          const last = this.progressAt.get(key);
          if (last !== undefined && pct <= last && e.bytes < e.totalBytes) break;
          this.progressAt.set(key, pct);
          this.emit({
            type: "progress",
            board,
            phase: e.phase,
            bytes: e.bytes,
            totalBytes: e.totalBytes,
          });
        }
        break;
      case "info":
        this.emit({ type: "info", board, message: e.message, ...(e.data ? { data: e.data } : {}) });
        break;
    }
  }

  table(): void {}

  error(e: Explained, _detail?: string, code?: string): void {
    // stdout carries the NDJSON; stderr gets one line for people, never a stack trace.
    this.lastError = { ...e, code: code ?? "ERROR" };
    this.io.stderr.write(`error: ${e.message}\n`);
  }

  finish(exitCode: number, rows?: BoardRow[]): void {
    const e = this.lastError;
    this.emit({
      type: "result",
      ok: exitCode === 0,
      exitCode,
      ...(rows ? { boards: rows } : {}),
      // canflash ensure: did the run change anything (Ansible's changed)?
      ...(rows?.some((r) => r.changed !== undefined)
        ? { changed: rows.some((r) => r.changed === true) }
        : {}),
      ...(e ? { error: { code: e.code, message: e.message, causes: e.causes, next: e.next } } : {}),
    });
  }
}
