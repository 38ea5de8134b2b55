// A small ARMv6-M (Thumb) interpreter, so a simulated SAM-BA monitor can do
// what the real one does with `G`: run whatever routine the host uploaded
// (bossac's word-copy applet, canflash's) against the chip's bus, and return
// to the monitor when it branches to the return address it was given in lr.
// It covers the 16-bit Thumb instruction set of the Cortex-M0+ plus BL; an
// instruction outside it, a jump to an even address, a bus fault or a loop
// that never ends is a HardFault: the chip stops answering, as the real one.

import { BusFault, type Bus } from "./bus.js";

/** The lr the monitor hands the routine; branching to it returns to the monitor. */
export const RETURN_ADDRESS = 0xfffffffe;
/** Cycles charged per instruction (flash wait states and loads averaged). */
export const CYCLES_PER_INSTRUCTION = 2;

export class CpuFault extends Error {
  constructor(
    readonly pc: number,
    readonly why: string,
  ) {
    super(`HardFault at 0x${(pc >>> 0).toString(16)}: ${why}`);
  }
}

export interface RunResult {
  instructions: number;
  /** Registers at return (r0–r3 carry results by convention). */
  regs: readonly number[];
}

const u32 = (v: number) => v >>> 0;
const sx = (v: number, bits: number) => (v << (32 - bits)) >> (32 - bits);

/**
 * Runs from `entry` (Thumb bit set) with `sp` until the routine returns to
 * RETURN_ADDRESS. Throws CpuFault (bus faults included) or when more than
 * `maxInstructions` run. `onStep` sees each instruction's cycles.
 */
export function runThumb(
  bus: Bus,
  o: { entry: number; sp: number; maxInstructions: number; onCycles?: (n: number) => void },
): RunResult {
  const r = new Array<number>(16).fill(0);
  let n = false,
    z = false,
    c = false,
    v = false;
  if ((o.entry & 1) === 0) throw new CpuFault(o.entry, "jump to an ARM (even) address");
  r[13] = u32(o.sp) & ~3;
  r[14] = RETURN_ADDRESS | 1;
  let pc = u32(o.entry & ~1);
  let count = 0;
  const nz = (x: number) => {
    n = (x & 0x80000000) !== 0;
    z = u32(x) === 0;
  };
  const addFlags = (a: number, b: number, carry: number): number => {
    const res = u32(a) + u32(b) + carry;
    const out = u32(res);
    c = res > 0xffffffff;
    v = ((a ^ out) & (b ^ out) & 0x80000000) !== 0;
    nz(out);
    return out;
  };
  const subFlags = (a: number, b: number) => addFlags(a, u32(~b), 1);
  const branchTo = (target: number, exchange: boolean) => {
    if (exchange && (target & 1) === 0) throw new CpuFault(pc, "BX to an even address");
    pc = u32(target & ~1);
  };
  /** The condition codes EQ NE CS CC MI PL VS VC HI LS GE LT GT LE (AL and beyond: true). */
  const cond = (cc: number): boolean =>
    [z, !z, c, !c, n, !n, v, !v, c && !z, !c || z, n === v, n !== v, !z && n === v, z || n !== v][
      cc
    ] ?? true;
  try {
    while (pc !== u32(RETURN_ADDRESS & ~1)) {
      if (++count > o.maxInstructions)
        throw new CpuFault(pc, `no return after ${o.maxInstructions} instructions`);
      o.onCycles?.(CYCLES_PER_INSTRUCTION);
      const at = pc;
      const op = bus.read(at, 2);
      const pcv = at + 4; // PC as instructions read it
      pc = at + 2;
      const rd = op & 7;
      const rs = (op >> 3) & 7;
      switch (op >> 11) {
        case 0:
        case 1:
        case 2: {
          // LSL, LSR, ASR immediate
          const sh = (op >> 6) & 31;
          const x = r[rs]!;
          const kind = op >> 11;
          let out: number;
          if (kind === 0) {
            if (sh) c = ((x >>> (32 - sh)) & 1) === 1;
            out = u32(x << sh);
          } else {
            const s = sh || 32;
            c = ((x >>> (s - 1)) & 1) === 1;
            out = kind === 1 ? (s === 32 ? 0 : x >>> s) : u32(s === 32 ? x >> 31 : x >> s);
          }
          r[rd] = out;
          nz(out);
          break;
        }
        case 3: {
          // ADD/SUB register or imm3
          const b = op & 0x400 ? (op >> 6) & 7 : r[(op >> 6) & 7]!;
          r[rd] = op & 0x200 ? subFlags(r[rs]!, b) : addFlags(r[rs]!, b, 0);
          break;
        }
        case 4:
          r[(op >> 8) & 7] = op & 0xff;
          nz(op & 0xff);
          break; // MOVS imm8
        case 5:
          subFlags(r[(op >> 8) & 7]!, op & 0xff);
          break; // CMP imm8
        case 6:
          r[(op >> 8) & 7] = addFlags(r[(op >> 8) & 7]!, op & 0xff, 0);
          break;
        case 7:
          r[(op >> 8) & 7] = subFlags(r[(op >> 8) & 7]!, op & 0xff);
          break;
        case 8: {
          // data processing, hi registers, BX
          if ((op & 0xfc00) === 0x4000) alu((op >> 6) & 15, rd, rs);
          else {
            const dn = (op & 7) | ((op >> 4) & 8);
            const m = (op >> 3) & 15;
            const val = m === 15 ? pcv : r[m]!;
            switch ((op >> 8) & 3) {
              case 0:
                if (dn === 15) branchTo(u32(pcv + val), false);
                else r[dn] = u32(r[dn]! + val);
                break;
              case 1:
                subFlags(dn === 15 ? pcv : r[dn]!, val);
                break;
              case 2:
                if (dn === 15) branchTo(val, false);
                else r[dn] = val;
                break;
              default:
                if (op & 0x80) r[14] = (at + 2) | 1; // BLX
                branchTo(val, true);
            }
          }
          break;
        }
        case 9:
          r[(op >> 8) & 7] = bus.read(((pcv & ~3) + (op & 0xff) * 4) >>> 0, 4);
          break;
        case 10:
        case 11: {
          // load/store register offset
          const a = u32(r[rs]! + r[(op >> 6) & 7]!);
          switch ((op >> 9) & 7) {
            case 0:
              bus.write(a, 4, r[rd]!);
              break;
            case 1:
              bus.write(a, 2, r[rd]! & 0xffff);
              break;
            case 2:
              bus.write(a, 1, r[rd]! & 0xff);
              break;
            case 3:
              r[rd] = u32(sx(bus.read(a, 1), 8));
              break;
            case 4:
              r[rd] = bus.read(a, 4);
              break;
            case 5:
              r[rd] = bus.read(a, 2);
              break;
            case 6:
              r[rd] = bus.read(a, 1);
              break;
            default:
              r[rd] = u32(sx(bus.read(a, 2), 16));
          }
          break;
        }
        case 12:
        case 13:
        case 14:
        case 15: {
          // load/store word/byte immediate
          const byte = (op & 0x1000) !== 0;
          const a = u32(r[rs]! + ((op >> 6) & 31) * (byte ? 1 : 4));
          if (op & 0x800) r[rd] = bus.read(a, byte ? 1 : 4);
          else bus.write(a, byte ? 1 : 4, byte ? r[rd]! & 0xff : r[rd]!);
          break;
        }
        case 16:
        case 17: {
          // halfword immediate
          const a = u32(r[rs]! + ((op >> 6) & 31) * 2);
          if (op & 0x800) r[rd] = bus.read(a, 2);
          else bus.write(a, 2, r[rd]! & 0xffff);
          break;
        }
        case 18:
        case 19: {
          // SP-relative
          const a = u32(r[13] + (op & 0xff) * 4);
          if (op & 0x800) r[(op >> 8) & 7] = bus.read(a, 4);
          else bus.write(a, 4, r[(op >> 8) & 7]!);
          break;
        }
        case 20:
          r[(op >> 8) & 7] = u32((pcv & ~3) + (op & 0xff) * 4);
          break; // ADR
        case 21:
          r[(op >> 8) & 7] = u32(r[13] + (op & 0xff) * 4);
          break; // ADD Rd, SP, #imm
        case 22:
        case 23:
          misc(op, at);
          break;
        case 24:
        case 25: {
          // STMIA / LDMIA
          const base = (op >> 8) & 7;
          let a = r[base]!;
          const load = (op & 0x800) !== 0;
          for (let i = 0; i < 8; i++)
            if (op & (1 << i)) {
              if (load) r[i] = bus.read(a, 4);
              else bus.write(a, 4, r[i]!);
              a = u32(a + 4);
            }
          if (!load || !(op & (1 << base))) r[base] = a;
          break;
        }
        case 26:
        case 27: {
          // conditional branch, SVC
          const cc = (op >> 8) & 15;
          if (cc >= 14) throw new CpuFault(at, cc === 15 ? "SVC" : "undefined instruction");
          if (cond(cc)) pc = u32(pcv + sx(op & 0xff, 8) * 2);
          break;
        }
        case 28:
          pc = u32(pcv + sx(op & 0x7ff, 11) * 2);
          break; // B
        case 30: {
          // BL (32-bit)
          const lo = bus.read(at + 2, 2);
          if ((lo & 0xd000) !== 0xd000) throw new CpuFault(at, "undefined 32-bit instruction");
          const s = (op >> 10) & 1;
          const i1 = ((lo >> 13) & 1) ^ s ^ 1;
          const i2 = ((lo >> 11) & 1) ^ s ^ 1;
          const off = sx(
            (s << 24) | (i1 << 23) | (i2 << 22) | ((op & 0x3ff) << 12) | ((lo & 0x7ff) << 1),
            25,
          );
          r[14] = (at + 4) | 1;
          pc = u32(at + 4 + off);
          break;
        }
        default:
          throw new CpuFault(at, `undefined instruction 0x${op.toString(16)}`);
      }
    }
  } catch (e) {
    if (e instanceof BusFault) throw new CpuFault(pc, e.message);
    throw e;
  }
  return { instructions: count, regs: r.slice() };

  function alu(opc: number, d: number, m: number): void {
    const a = r[d]!;
    const b = r[m]!;
    let out: number | undefined;
    switch (opc) {
      case 0:
        out = u32(a & b);
        break;
      case 1:
        out = u32(a ^ b);
        break;
      case 2: {
        const s = b & 0xff;
        if (s) {
          c = s <= 32 ? ((a >>> (32 - s)) & 1) === 1 : false;
        }
        out = s >= 32 ? 0 : u32(a << s);
        break;
      }
      case 3: {
        const s = b & 0xff;
        if (s) {
          c = s <= 32 ? ((a >>> (s - 1)) & 1) === 1 : false;
        }
        out = s >= 32 ? 0 : a >>> s;
        break;
      }
      case 4: {
        const s = b & 0xff;
        if (s) c = ((a >> Math.min(s - 1, 31)) & 1) === 1;
        out = u32(a >> Math.min(s, 31));
        break;
      }
      case 5:
        r[d] = addFlags(a, b, c ? 1 : 0);
        return;
      case 6:
        r[d] = addFlags(a, u32(~b), c ? 1 : 0);
        return;
      case 7: {
        const s = b & 31;
        out = s ? u32((a >>> s) | (a << (32 - s))) : a;
        if (b & 0xff) c = (out & 0x80000000) !== 0;
        break;
      }
      case 8:
        nz(a & b);
        return;
      case 9:
        r[d] = subFlags(0, b);
        return;
      case 10:
        subFlags(a, b);
        return;
      case 11:
        addFlags(a, b, 0);
        return;
      case 12:
        out = u32(a | b);
        break;
      case 13:
        out = u32(Math.imul(a, b));
        break;
      case 14:
        out = u32(a & ~b);
        break;
      default:
        out = u32(~b);
    }
    r[d] = out;
    nz(out);
  }

  function misc(op: number, at: number): void {
    if ((op & 0xff00) === 0xb000) {
      // ADD/SUB SP, #imm7
      const imm = (op & 0x7f) * 4;
      r[13] = u32(op & 0x80 ? r[13]! - imm : r[13]! + imm);
    } else if ((op & 0xfe00) === 0xb400) {
      // PUSH
      const list = (op & 0xff) | (op & 0x100 ? 1 << 14 : 0);
      let a = r[13]!;
      for (let i = 14; i >= 0; i--)
        if (list & (1 << i)) {
          a = u32(a - 4);
          bus.write(a, 4, r[i]!);
        }
      r[13] = a;
    } else if ((op & 0xfe00) === 0xbc00) {
      // POP
      let a = r[13]!;
      for (let i = 0; i < 8; i++)
        if (op & (1 << i)) {
          r[i] = bus.read(a, 4);
          a = u32(a + 4);
        }
      let target: number | undefined;
      if (op & 0x100) {
        target = bus.read(a, 4);
        a = u32(a + 4);
      }
      r[13] = a;
      if (target !== undefined) branchTo(target, true);
    } else if ((op & 0xff00) === 0xb200) {
      // SXTH, SXTB, UXTH, UXTB
      const x = r[(op >> 3) & 7]!;
      r[op & 7] = [u32(sx(x, 16)), u32(sx(x, 8)), x & 0xffff, x & 0xff][(op >> 6) & 3]!;
    } else if ((op & 0xff00) === 0xba00) {
      // REV, REV16, REVSH
      const x = r[(op >> 3) & 7]!;
      const k = (op >> 6) & 3;
      const rev = u32(((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24));
      const rev16 = u32(((x & 0xff00ff) << 8) | ((x >>> 8) & 0xff00ff));
      r[op & 7] =
        k === 0 ? rev : k === 1 ? rev16 : u32(sx(((x & 0xff) << 8) | ((x >> 8) & 0xff), 16));
    } else if ((op & 0xff00) === 0xbf00 || (op & 0xffe8) === 0xb660) {
      // NOP and hints (WFI/WFE would wait forever here: treat as faults), CPSIE/CPSID
      if ((op & 0xff0f) === 0xbf00 && (op & 0xf0) !== 0 && (op & 0xf0) !== 0x40)
        throw new CpuFault(at, "WFI/WFE with nothing to wake it");
    } else throw new CpuFault(at, `undefined instruction 0x${op.toString(16)}`);
  }
}
