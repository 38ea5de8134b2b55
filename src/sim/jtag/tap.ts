// A JTAG TAP as IEEE 1149.1 describes it: the 16-state controller stepped
// by TMS on each rising TCK edge, an instruction register (captures
// ...01 as the standard requires), and the data registers an instruction
// selects: IDCODE (32 bits, selected after Test-Logic-Reset) and BYPASS
// (1 bit). TDO is the selected shift register's low bit while shifting.

export type TapState =
  | "test-logic-reset"
  | "run-test-idle"
  | "select-dr"
  | "capture-dr"
  | "shift-dr"
  | "exit1-dr"
  | "pause-dr"
  | "exit2-dr"
  | "update-dr"
  | "select-ir"
  | "capture-ir"
  | "shift-ir"
  | "exit1-ir"
  | "pause-ir"
  | "exit2-ir"
  | "update-ir";

/** Next state for TMS = [0, 1]. */
const NEXT: Record<TapState, readonly [TapState, TapState]> = {
  "test-logic-reset": ["run-test-idle", "test-logic-reset"],
  "run-test-idle": ["run-test-idle", "select-dr"],
  "select-dr": ["capture-dr", "select-ir"],
  "capture-dr": ["shift-dr", "exit1-dr"],
  "shift-dr": ["shift-dr", "exit1-dr"],
  "exit1-dr": ["pause-dr", "update-dr"],
  "pause-dr": ["pause-dr", "exit2-dr"],
  "exit2-dr": ["shift-dr", "update-dr"],
  "update-dr": ["run-test-idle", "select-dr"],
  "select-ir": ["capture-ir", "test-logic-reset"],
  "capture-ir": ["shift-ir", "exit1-ir"],
  "shift-ir": ["shift-ir", "exit1-ir"],
  "exit1-ir": ["pause-ir", "update-ir"],
  "pause-ir": ["pause-ir", "exit2-ir"],
  "exit2-ir": ["shift-ir", "update-ir"],
  "update-ir": ["run-test-idle", "select-dr"],
};

export interface TapOptions {
  /** The IDCODE register's value (bit 0 must be 1). */
  idcode: number;
  /** Instruction register length in bits (default 4). */
  irLength?: number;
  /** The IDCODE instruction (default 0b1110, as ARM's JTAG-DP). */
  idcodeInstruction?: number;
}

export class JtagTap {
  private st: TapState = "test-logic-reset";
  private readonly irLength: number;
  private readonly idcodeOp: number;
  private ir: number;
  /** The shift register in use, as bits LSB first (BigInt-free: at most 32 bits). */
  private shift = 0;
  private shiftLength = 0;
  /** Rising edges seen, for tests. */
  edges = 0;
  /** Every instruction Update-IR loaded, for tests (which registers a host asked for). */
  readonly instructionsSeen = new Set<number>();

  constructor(private readonly o: TapOptions) {
    this.irLength = o.irLength ?? 4;
    this.idcodeOp = o.idcodeInstruction ?? 0b1110;
    this.ir = this.idcodeOp;
  }

  get state(): TapState {
    return this.st;
  }

  get instruction(): number {
    return this.ir;
  }

  /** The TDO line: the shift register's low bit in Shift-DR/IR (else 0: TDO is not driven). */
  get tdo(): 0 | 1 {
    return this.st === "shift-dr" || this.st === "shift-ir" ? ((this.shift & 1) as 0 | 1) : 0;
  }

  /** TRST, or five TMS=1 edges: Test-Logic-Reset, IDCODE selected. */
  reset(): void {
    this.st = "test-logic-reset";
    this.ir = this.idcodeOp;
  }

  /** One rising TCK edge with TMS and TDI as sampled on it. */
  clock(tms: 0 | 1, tdi: 0 | 1): void {
    this.edges++;
    const s = this.st;
    if (s === "shift-dr" || s === "shift-ir") {
      this.shift = (this.shift >>> 1) | (tdi << (this.shiftLength - 1));
      this.shift >>>= 0;
    }
    const next = NEXT[s][tms];
    this.st = next;
    if (next === "test-logic-reset") this.ir = this.idcodeOp;
    if (next === "capture-ir") this.load(0b01, this.irLength);
    else if (next === "capture-dr") {
      if (this.ir === this.idcodeOp) this.load(this.o.idcode >>> 0, 32);
      else this.load(0, 1); // BYPASS (and every instruction without a register here)
    } else if (next === "update-ir") {
      this.ir = this.shift & ((1 << this.irLength) - 1);
      this.instructionsSeen.add(this.ir);
    }
  }

  private load(value: number, length: number): void {
    this.shift = value >>> 0;
    this.shiftLength = length;
  }
}
