// Which chip the monitor runs on, read the way bossac reads it (sam-ba.md
// §4) so that no address the chip lacks is touched (that would hang its
// CPU): the reset vector (an ARM7 branch means an old SAM7/SAM9), the
// Cortex-M CPUID, then the DSU device id (SAMD/SAME) or CHIPID (SAM3/SAM4;
// SAM4's reset vector points into its ROM at 0x00800000).

import { SamBaUnknownChipError } from "./errors.js";
import { chipByChipId, chipByDeviceId, CpuPart, IdRegs, type ChipMatch } from "./parts.js";
import type { SambaSession } from "./session.js";

const hex = (n: number) => `0x${(n >>> 0).toString(16).padStart(8, "0")}`;

/** Reads the ids; throws SamBaUnknownChipError for a chip outside the table. */
export async function identifyChip(s: SambaSession, port: string): Promise<ChipMatch> {
  const vector = await s.readWord(IdRegs.RESET_VECTOR_SP);
  if ((vector & 0xff000000) >>> 0 === 0xea000000)
    throw new SamBaUnknownChipError(port, `an ARM7 reset vector ${hex(vector)} (SAM7/SAM9)`);
  const cpuid = await s.readWord(IdRegs.CPUID);
  const part = cpuid & 0xfff0;
  const viaDid = async (): Promise<ChipMatch> => {
    const did = await s.readWord(IdRegs.DSU_DID);
    const m = chipByDeviceId(did);
    if (!m) throw new SamBaUnknownChipError(port, `CPUID ${hex(cpuid)}, DID ${hex(did)}`);
    return m;
  };
  const viaChipId = async (): Promise<ChipMatch> => {
    let cid = await s.readWord(IdRegs.CHIPID_SAM4);
    let exid = 0;
    if (cid !== 0) exid = await s.readWord(IdRegs.CHIPID_SAM4 + 4);
    else {
      cid = await s.readWord(IdRegs.CHIPID_SAM3);
      if (cid !== 0) exid = await s.readWord(IdRegs.CHIPID_SAM3 + 4);
    }
    const m = chipByChipId(cid, exid);
    if (!m)
      throw new SamBaUnknownChipError(
        port,
        `CPUID ${hex(cpuid)}, CHIPID ${hex(cid)}, EXID ${hex(exid)}`,
      );
    return m;
  };
  if (part === CpuPart.CORTEX_M0P) return viaDid();
  if (part === CpuPart.CORTEX_M4) {
    const reset = await s.readWord(IdRegs.RESET_VECTOR_PC);
    return (reset & 0xfff00000) >>> 0 === 0x00800000 ? viaChipId() : viaDid();
  }
  return viaChipId();
}
