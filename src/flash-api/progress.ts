// Progress as typed events with a documented order, per flash:
//   for each phase run: phase-start, zero or more progress, then phase-end or phase-failed;
//   phases in order: enter, connect, [erase], write, verify, finish.
// `info` events carry facts learned on the way (bootloader, MCU, page count).
// The library emits; only the CLI renders.

export type FlashPhase = "enter" | "connect" | "compare" | "erase" | "write" | "verify" | "finish";

export type FlashEvent =
  | { type: "phase-start"; phase: FlashPhase; totalBytes?: number }
  | { type: "progress"; phase: FlashPhase; bytes: number; totalBytes: number }
  | { type: "phase-end"; phase: FlashPhase; ms: number }
  | { type: "phase-failed"; phase: FlashPhase; error: Error }
  | { type: "info"; message: string; data?: Record<string, unknown> };

export type FlashEventListener = (event: FlashEvent) => void;
