// An ADIv5 SW-DP (DPv1, as on the SAM D21/C21) on the wire: after power-up
// it listens for JTAG; the JTAG-to-SWD select sequence (50+ ones, 0xE79E,
// 50+ ones) puts it in SWD, where every line reset needs a DPIDR read
// before anything else is answered. DP registers: DPIDR, ABORT (clears the
// sticky flags, DAPABORT cancels a stalled transaction), CTRL/STAT (power-up
// requests acknowledged at once, sticky flags), SELECT (APSEL, APBANKSEL,
// DPBANKSEL), RDBUFF. AP reads are posted: the read returns the previous
// AP read's result and RDBUFF the last one. While an AP transaction waits
// for the bus every access but DPIDR, CTRL/STAT and ABORT gets WAIT; with a
// sticky flag set they get FAULT. An unpowered or unselected target drives
// nothing: the ACK reads 0b111. Pure.

import type { SwdClock } from "./clock.js";
import type { AccessPort, ApTransaction } from "./mem-ap.js";

export const ACK_OK = 1;
export const ACK_WAIT = 2;
export const ACK_FAULT = 4;
/** Nobody drives SWDIO: the pull-up reads as ones. */
export const ACK_NONE = 7;

/** SAM D21/C21's DPIDR (ARM DPv1, MINDP, part 0xBC). */
export const DPIDR_SAMD21 = 0x0bc11477;

export const DP_ABORT_DAPABORT = 1 << 0;
export const DP_ABORT_STKCMPCLR = 1 << 1;
export const DP_ABORT_STKERRCLR = 1 << 2;
export const DP_ABORT_WDERRCLR = 1 << 3;
export const DP_ABORT_ORUNERRCLR = 1 << 4;

export const CTRL_ORUNDETECT = 1 << 0;
export const CTRL_STICKYORUN = 1 << 1;
export const CTRL_STICKYCMP = 1 << 4;
export const CTRL_STICKYERR = 1 << 5;
export const CTRL_WDATAERR = 1 << 7;
export const CTRL_CDBGRSTREQ = 1 << 26;
export const CTRL_CDBGRSTACK = 1 << 27;
export const CTRL_CDBGPWRUPREQ = 1 << 28;
export const CTRL_CDBGPWRUPACK = 1 << 29;
export const CTRL_CSYSPWRUPREQ = 1 << 30;
export const CTRL_CSYSPWRUPACK = 1 << 31;
const STICKY = CTRL_STICKYORUN | CTRL_STICKYCMP | CTRL_STICKYERR | CTRL_WDATAERR;

/** One SWD transfer as an adapter issues it. */
export interface SwdRequest {
  ap: boolean;
  read: boolean;
  /** A[3:2] as a byte offset: 0, 4, 8, 0xC. */
  addr: number;
  /** For writes. */
  data?: number;
}

export interface SwdReply {
  ack: number;
  data: number;
}

/** What a CMSIS-DAP adapter drives: bit sequences on SWDIO/SWCLK, transfers, the reset pin. */
export interface SwdWire {
  /** `bits` LSB first, `count` of them. */
  sequence(bits: Uint8Array, count: number): void;
  transfer(r: SwdRequest): SwdReply;
  /** nRESET driven low (true) or released. */
  resetPin(asserted: boolean): void;
}

/** The 16-bit JTAG-to-SWD select sequence, sent LSB first. */
export const JTAG_TO_SWD = 0xe79e;
export const SWD_TO_JTAG = 0xe73c;
const LINE_RESET_ONES = 50;

export class SwDp {
  mode: "jtag" | "swd" = "jtag";
  /** After a line reset only a DPIDR read is answered. */
  private inLineReset = false;
  private ctrl = 0;
  private select = 0;
  private readBuffer = 0;
  private pending: { tx: ApTransaction; read: boolean; ap: AccessPort } | undefined;
  private ones = 0;
  private window = 0;
  private onesBeforeWindow = 0;
  private bitsInWindow = 0;
  /** Power to the target (false: nothing answers). */
  powered = true;

  constructor(
    private readonly clock: SwdClock,
    private readonly aps: ReadonlyMap<number, AccessPort>,
    readonly dpidr = DPIDR_SAMD21,
  ) {}

  /** The reset pin resets the debug logic: registers to their reset values, a line reset wanted. */
  reset(): void {
    this.ctrl = 0;
    this.select = 0;
    this.readBuffer = 0;
    if (this.pending) this.pending.ap.inProgress = false;
    this.pending = undefined;
    this.inLineReset = true;
  }

  get sticky(): number {
    return this.ctrl & STICKY;
  }

  sequence(bits: Uint8Array, count: number): void {
    for (let i = 0; i < count; i++) this.bit((bits[i >> 3]! >> (i & 7)) & 1);
  }

  private bit(b: number): void {
    // the last 16 bits, and how many ones came before them
    if (this.bitsInWindow === 16) {
      const oldest = this.window & 1;
      this.onesBeforeWindow = oldest ? this.onesBeforeWindow + 1 : 0;
      this.window >>>= 1;
      this.bitsInWindow--;
    }
    this.window |= b << this.bitsInWindow;
    this.bitsInWindow++;
    this.ones = b ? this.ones + 1 : 0;
    if (this.bitsInWindow === 16 && this.onesBeforeWindow >= LINE_RESET_ONES) {
      if (this.window === JTAG_TO_SWD) this.mode = "swd";
      else if (this.window === SWD_TO_JTAG) this.mode = "jtag";
    }
    if (this.ones >= LINE_RESET_ONES && this.mode === "swd") {
      this.inLineReset = true;
      this.select &= ~0xf;
    }
  }

  /** Completes the pending AP transaction if the bus has let it through. */
  private settle(): void {
    const p = this.pending;
    if (!p || this.clock.nowUs < p.tx.readyAt) return;
    this.finish(p.tx, p.read);
    p.ap.inProgress = false;
    this.pending = undefined;
  }

  private finish(tx: ApTransaction, read: boolean): void {
    const r = tx.run();
    if (r.fault) this.ctrl |= CTRL_STICKYERR;
    else if (read) this.readBuffer = r.value;
  }

  private start(ap: AccessPort, tx: ApTransaction, read: boolean): void {
    if (this.clock.nowUs >= tx.readyAt) this.finish(tx, read);
    else {
      this.pending = { tx, read, ap };
      ap.inProgress = true;
    }
  }

  transfer(r: SwdRequest): SwdReply {
    const none = { ack: ACK_NONE, data: 0xffffffff };
    if (!this.powered || this.mode !== "swd") return none;
    const dpidrRead = !r.ap && r.read && r.addr === 0;
    if (this.inLineReset) {
      if (!dpidrRead) return none;
      this.inLineReset = false;
    }
    this.settle();
    const ctrlRead = !r.ap && r.read && r.addr === 4 && (this.select & 0xf) === 0;
    const abortWrite = !r.ap && !r.read && r.addr === 0;
    if (dpidrRead) return { ack: ACK_OK, data: this.dpidr };
    if (ctrlRead) return { ack: ACK_OK, data: this.ctrlStat() };
    if (abortWrite) {
      this.abort(r.data ?? 0);
      return { ack: ACK_OK, data: 0 };
    }
    if (this.pending) return { ack: ACK_WAIT, data: 0 };
    if (this.sticky) return { ack: ACK_FAULT, data: 0 };
    return r.ap ? this.apAccess(r) : this.dpAccess(r);
  }

  private ctrlStat(): number {
    let v = this.ctrl;
    if (v & CTRL_CDBGPWRUPREQ) v |= CTRL_CDBGPWRUPACK;
    if (v & CTRL_CSYSPWRUPREQ) v |= CTRL_CSYSPWRUPACK;
    if (v & CTRL_CDBGRSTREQ) v |= CTRL_CDBGRSTACK;
    return v >>> 0;
  }

  private abort(v: number): void {
    if (v & DP_ABORT_DAPABORT && this.pending) {
      this.pending.ap.inProgress = false;
      this.pending = undefined;
    }
    if (v & DP_ABORT_STKCMPCLR) this.ctrl &= ~CTRL_STICKYCMP;
    if (v & DP_ABORT_STKERRCLR) this.ctrl &= ~CTRL_STICKYERR;
    if (v & DP_ABORT_WDERRCLR) this.ctrl &= ~CTRL_WDATAERR;
    if (v & DP_ABORT_ORUNERRCLR) this.ctrl &= ~CTRL_STICKYORUN;
  }

  private dpAccess(r: SwdRequest): SwdReply {
    if (r.read) {
      if (r.addr === 4) return { ack: ACK_OK, data: 0 }; // DLCR and other banks
      return { ack: ACK_OK, data: this.readBuffer }; // RESEND, RDBUFF
    }
    const v = (r.data ?? 0) >>> 0;
    if (r.addr === 4) {
      if ((this.select & 0xf) === 0)
        this.ctrl =
          ((this.ctrl & STICKY) |
            (v & ~STICKY & ~(CTRL_CDBGPWRUPACK | CTRL_CSYSPWRUPACK | CTRL_CDBGRSTACK))) >>>
          0;
    } else if (r.addr === 8) this.select = v;
    return { ack: ACK_OK, data: 0 };
  }

  private apAccess(r: SwdRequest): SwdReply {
    const ap = this.aps.get(this.select >>> 24);
    const reg = (this.select & 0xf0) | r.addr;
    if (r.read) {
      const previous = this.readBuffer;
      if (ap) this.start(ap, ap.read(reg), true);
      else this.readBuffer = 0;
      return { ack: ACK_OK, data: previous };
    }
    if (ap) this.start(ap, ap.write(reg, (r.data ?? 0) >>> 0), false);
    return { ack: ACK_OK, data: 0 };
  }
}
