// OpenOCD's words → canflash's typed errors. OpenOCD prints its failures
// as "Error: …" lines (on stderr, and in what `capture` collects); these
// patterns are the messages of openocd 0.12 for the failures the seed's
// advice covers. Pure: the text in, an error (or undefined) out.

import type { CanflashError } from "../../util/errors.js";
import {
  lastLines,
  OpenOcdAdapterNotFoundError,
  OpenOcdConfigNotFoundError,
  OpenOcdFlashLockedError,
  OpenOcdNoTargetError,
  OpenOcdVerifyError,
  OpenOcdWrongIdcodeError,
} from "./errors.js";

export interface ClassifyContext {
  /** The adapter driver in use, when known. */
  adapter?: string | undefined;
  transport?: string | undefined;
  /** The image being verified, for a verify failure. */
  verify?: { file: string; address: number };
}

const ADAPTER =
  /Cannot open LinuxGPIOD chip[^\n]*|unable to find a matching CMSIS-DAP device|No J-Link device found|open failed|Cannot open \/dev\/(?:gpio)?mem[^\n]*|Error on socket[^\n]*|Can't connect to[^\n]*|unable to open ftdi device[^\n]*|libusb_open\(\) failed[^\n]*|No CMSIS-DAP device found|Error: couldn't open[^\n]*|Cannot access GPIO[^\n]*/i;
const NO_TARGET =
  /Invalid ACK[^\n]*|JTAG-DP STICKY ERROR[^\n]*|DP initiali[sz]ation failed[^\n]*|Target not examined[^\n]*|Examination failed[^\n]*|Error connecting DP[^\n]*|JTAG scan chain interrogation failed[^\n]*|Could not initialize the debug port[^\n]*|timed out while waiting for target halted[^\n]*|Target not halted[^\n]*|no targets? (?:defined|configured)[^\n]*/i;
const LOCKED =
  /Device Security Bit Set[^\n]*|NVM lock error[^\n]*|device protected[^\n]*|is (?:write )?protected[^\n]*|flash (?:is )?locked[^\n]*|failed to unlock[^\n]*|read ?out protection[^\n]*|Failed to erase[^\n]*lock[^\n]*/i;
const VERIFY =
  /checksum mismatch[^\n]*|verify failed[^\n]*|contents differ[^\n]*|diff \d+ address[^\n]*/i;

/** The IDCODE lines of a mismatching TAP: "JTAG tap: chip.cpu UNEXPECTED: 0x…" and "… expected 1 of 1: 0x…". */
function wrongIdcode(text: string): OpenOcdWrongIdcodeError | undefined {
  const m = /JTAG tap: (\S+)\s+UNEXPECTED: (0x[0-9a-f]+)/i.exec(text);
  if (!m) return undefined;
  const tap = m[1]!;
  const expected = [
    ...text.matchAll(
      new RegExp(
        `JTAG tap: ${tap.replace(/\./g, "\\.")}\\s+expected \\d+ of \\d+: (0x[0-9a-f]+)`,
        "gi",
      ),
    ),
  ].map((e) => e[1]!.toLowerCase());
  return new OpenOcdWrongIdcodeError(tap, m[2]!.toLowerCase(), expected);
}

/** The typed error OpenOCD's text describes, or undefined when it names none canflash knows. */
export function classifyOpenOcd(
  text: string,
  ctx: ClassifyContext = {},
): CanflashError | undefined {
  const config = /Can't find (\S+)/.exec(text);
  if (config) return new OpenOcdConfigNotFoundError(config[1]!);
  // What the chip said outranks what the adapter said: OpenOCD logs a failed libusb_open for
  // every USB device it may not open while looking for its probe, also on runs that found it.
  const idcode = wrongIdcode(text);
  if (idcode) return idcode;
  const locked = LOCKED.exec(text);
  if (locked) return new OpenOcdFlashLockedError(locked[0].trim());
  const verify = VERIFY.exec(text);
  if (verify && ctx.verify)
    return new OpenOcdVerifyError(ctx.verify.file, ctx.verify.address, verify[0].trim());
  // at91samd's probe: the DSU's device id names no part it knows (another chip, or a garbled read).
  const did = /Couldn't find part corresponding to DID ([0-9a-f]+)/i.exec(text);
  if (did)
    return new OpenOcdNoTargetError(
      `the chip's DSU answers DID 0x${did[1]!.toLowerCase().padStart(8, "0")}, a part OpenOCD's flash driver does not know (another chip than the target script's, or a garbled read)`,
      ctx.transport,
    );
  const none = NO_TARGET.exec(text);
  if (none) return new OpenOcdNoTargetError(none[0].trim(), ctx.transport);
  const adapter = ADAPTER.exec(text);
  if (adapter) return new OpenOcdAdapterNotFoundError(ctx.adapter, adapter[0].trim());
  return undefined;
}

export { lastLines };
