// CRC-16/MCRF4XX (reflected 0x1021, init 0xFFFF, no final xor): the checksum
// of Katapult frames (little-endian on the wire) and Klipper msgproto blocks
// (big-endian). "123456789" -> 0x6F91. The `crc` package's KERMIT calculator
// is the same reflected algorithm; seeded with 0xFFFF it computes MCRF4XX.
import crc16kermit from "crc/calculators/crc16kermit";

export function crc16Mcrf4xx(data: Uint8Array): number {
  return crc16kermit(data, 0xffff);
}
