// CoreSight identification: the peripheral and component ID registers at
// the top of every 4 KiB debug component (PIDR4 at 0xFD0 … CIDR3 at 0xFFC)
// and ROM tables (32-bit entries from offset 0: signed offset to the
// component, bit 1 "32-bit format", bit 0 "present"; a zero ends the
// table; MEMTYPE at 0xFCC). Pure.

import { RegisterBlock, type Register } from "./bus.js";

/** Component classes (CIDR1 bits 7:4). */
export const CID_CLASS_ROM_TABLE = 0x1;
export const CID_CLASS_GENERIC_IP = 0xe;

export interface ComponentId {
  /** JEP106 designer code (bank in `jep106Bank`). */
  jep106: number;
  jep106Bank: number;
  part: number;
  revision?: number;
  cidClass: number;
}

/** The PIDR/CIDR words of a component, by offset within its 4 KiB. */
export function idRegisters(id: ComponentId): Map<number, Register> {
  const pid = [
    id.part & 0xff,
    ((id.part >> 8) & 0x0f) | ((id.jep106 & 0x0f) << 4),
    ((id.jep106 >> 4) & 0x07) | 0x08 | ((id.revision ?? 0) << 4),
    0,
    id.jep106Bank & 0x0f,
  ];
  const cid = [0x0d, (id.cidClass << 4) & 0xf0, 0x05, 0xb1];
  const regs = new Map<number, Register>();
  const fixed = (v: number): Register => ({ read: () => v });
  regs.set(0xfd0, fixed(pid[4]!));
  for (const o of [0xfd4, 0xfd8, 0xfdc]) regs.set(o, fixed(0));
  pid.slice(0, 4).forEach((v, i) => regs.set(0xfe0 + 4 * i, fixed(v)));
  cid.forEach((v, i) => regs.set(0xff0 + 4 * i, fixed(v)));
  return regs;
}

/** A ROM table at `base` listing components at absolute addresses. */
export function romTable(
  base: number,
  components: readonly number[],
  id: ComponentId,
): RegisterBlock {
  const regs = idRegisters(id);
  components.forEach((addr, i) => {
    const entry = (((addr - base) & ~0xfff) | 0x3) >>> 0;
    regs.set(4 * i, { read: () => entry });
  });
  regs.set(4 * components.length, { read: () => 0 });
  regs.set(0xfcc, { read: () => 1 }); // MEMTYPE.SYSMEM: system memory on this bus
  return new RegisterBlock(regs, true);
}

/** ARM's JEP106 code (bank 4, 0x3B). */
export const ARM_JEP106 = { jep106: 0x3b, jep106Bank: 4 } as const;
