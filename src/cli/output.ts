// Rendering for people: compat lines on stdout, progress as a bar on a TTY
// or plain lines elsewhere (readable over SSH and in Mainsail's console),
// errors with causes and the next command on stderr.

import type { FlashEvent, FlashPhase } from "../flasher/progress.js";
import type { Explained } from "./hints.js";
import type { CliIo } from "./io.js";

export interface OutputOptions {
  quiet?: boolean;
  verbose?: boolean;
}

const PHASE_TEXT: Record<FlashPhase, string> = {
  enter: "Entering the bootloader",
  connect: "Connecting to the bootloader",
  erase: "Erasing",
  write: "Writing",
  verify: "Verifying",
  finish: "Starting the new firmware",
};

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

export class Output {
  private barOpen = false;
  private phaseStart = 0;
  private lastPlainPct = -1;

  constructor(
    private readonly io: CliIo,
    private readonly options: OutputOptions = {},
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A result line (always shown). */
  line(text: string): void {
    this.closeBar();
    this.io.stdout.write(`${text}\n`);
  }

  /** Informational line (hidden with --quiet). */
  info(text: string): void {
    if (this.options.quiet) return;
    this.line(text);
  }

  error(e: Explained, detail?: string): void {
    this.closeBar();
    const lines = [`error: ${e.message}`];
    for (const c of e.causes) lines.push(`  ${c}`);
    if (e.next.length) {
      lines.push("  next:");
      for (const n of e.next) lines.push(`    ${n}`);
    }
    if (detail && this.options.verbose) lines.push(detail);
    this.io.stderr.write(`${lines.join("\n")}\n`);
  }

  /** Renders one flash event. */
  flashEvent(e: FlashEvent, label = ""): void {
    const prefix = label ? `${label}: ` : "";
    switch (e.type) {
      case "phase-start":
        this.phaseStart = this.now();
        this.lastPlainPct = -1;
        if (e.phase === "write" || e.phase === "verify") {
          this.info(
            `${prefix}${PHASE_TEXT[e.phase]} ${e.totalBytes !== undefined ? formatBytes(e.totalBytes) : ""}...`,
          );
        } else this.info(`${prefix}${PHASE_TEXT[e.phase]}...`);
        break;
      case "progress":
        this.progress(prefix, e.phase, e.bytes, e.totalBytes);
        break;
      case "phase-end":
        this.closeBar();
        if (this.options.verbose)
          this.info(`${prefix}${e.phase} done in ${(e.ms / 1000).toFixed(2)} s`);
        break;
      case "phase-failed":
        this.closeBar();
        break;
      case "info":
        this.info(`${prefix}${e.message}`);
        break;
    }
  }

  private progress(prefix: string, phase: FlashPhase, bytes: number, total: number): void {
    if (this.options.quiet) return;
    const pct = total > 0 ? Math.floor((bytes * 100) / total) : 100;
    const secs = Math.max(1e-3, (this.now() - this.phaseStart) / 1000);
    const rate = bytes / secs;
    const eta = rate > 0 ? (total - bytes) / rate : 0;
    if (this.io.stdout.isTTY) {
      const width = Math.max(10, Math.min(40, (this.io.stdout.columns ?? 80) - 60));
      const filled = Math.round((pct / 100) * width);
      const bar = `${"#".repeat(filled)}${".".repeat(width - filled)}`;
      const text = `\r${prefix}${phase.padEnd(6)} [${bar}] ${String(pct).padStart(3)}% ${formatBytes(bytes)}/${formatBytes(total)} ${formatBytes(rate)}/s ETA ${eta.toFixed(0)}s `;
      this.io.stdout.write(text);
      this.barOpen = true;
    } else {
      const step = Math.floor(pct / 25) * 25;
      if (step > this.lastPlainPct) {
        this.lastPlainPct = step;
        this.io.stdout.write(
          `${prefix}${phase} ${step}% (${formatBytes(bytes)} of ${formatBytes(total)}, ${formatBytes(rate)}/s)\n`,
        );
      }
    }
  }

  private closeBar(): void {
    if (this.barOpen) {
      this.io.stdout.write("\n");
      this.barOpen = false;
    }
  }
}
