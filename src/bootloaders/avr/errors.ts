// Typed errors of the AVR serial bootloaders, with the facts a hint needs.

import { CanflashError } from "../../util/errors.js";
import { formatSignature, partBySignature } from "./parts.js";

/** Nothing (or nothing sensible) answered the sync within the bootloader's listen window. */
export class AvrNoAnswerError extends CanflashError {
  constructor(
    readonly port: string,
    readonly baud: number,
    readonly bootloader: string,
    readonly listenWindowMs: number,
    readonly attempts: number,
    /** Did the port accept the DTR/RTS reset pulse? (a pty, or some adapters, do not) */
    readonly resetPulsed: boolean,
    /** What came back instead, if anything. */
    readonly got: string | undefined,
    /** Other bootloader protocols and speeds tried afterwards, none answering ("STK500v2 at 115200 baud"). */
    readonly alsoTried: readonly string[] = [],
  ) {
    super(
      "AVR_NO_ANSWER",
      `no answer from the ${bootloader} bootloader on ${port} at ${baud} baud after ${attempts} sync attempts` +
        (got ? ` (got ${got})` : "") +
        `: it listens only about ${(listenWindowMs / 1000).toFixed(1)} s after a reset, and ` +
        (resetPulsed
          ? "canflash reset the board with a DTR/RTS pulse before each round"
          : "this port refused the DTR/RTS reset pulse, so the board was not reset") +
        (alsoTried.length ? `; nothing answered ${alsoTried.join(" or ")} either` : ""),
    );
  }

  /** The same failure, with the other bootloaders probed afterwards. */
  withAlsoTried(tried: readonly string[]): AvrNoAnswerError {
    return new AvrNoAnswerError(
      this.port,
      this.baud,
      this.bootloader,
      this.listenWindowMs,
      this.attempts,
      this.resetPulsed,
      this.got,
      tried,
    );
  }
}

/**
 * The bootloader the target names did not answer, but another AVR bootloader
 * did: the board is not what --target says (or -b is off). Nothing was written.
 */
export class AvrWrongTargetError extends CanflashError {
  constructor(
    readonly port: string,
    /** The target that was asked for. */
    readonly expectedTarget: string,
    /** "STK500v1 at 57600 baud". */
    readonly expectedLink: string,
    readonly expectedBaud: number,
    /** "STK500v2 at 115200 baud". */
    readonly foundLink: string,
    readonly foundBaud: number,
    readonly signature: readonly number[],
    readonly foundPart: string | undefined,
    /** Target rows that fit what answered. */
    readonly suggestedTargets: readonly string[],
  ) {
    super(
      "AVR_WRONG_TARGET",
      `no bootloader answered ${expectedLink} on ${port} (target ${expectedTarget}), but one answered ${foundLink}, ` +
        `with signature ${formatSignature(signature)}` +
        (foundPart ? ` (${foundPart})` : " (an unknown part)") +
        `: the board is not what --target ${expectedTarget} describes; nothing was written`,
    );
  }
}

export class AvrSignatureMismatchError extends CanflashError {
  constructor(
    readonly expectedPart: string,
    readonly expected: readonly number[],
    readonly found: readonly number[],
  ) {
    const foundPart = partBySignature(found)?.name;
    super(
      "AVR_SIGNATURE",
      `the bootloader reports signature ${formatSignature(found)}` +
        (foundPart ? ` (${foundPart})` : " (an unknown part)") +
        `, not ${expectedPart}'s ${formatSignature(expected)}`,
    );
  }
}

/** The bootloader broke the protocol: a reply out of sync, a failed status. */
export class Stk500ProtocolError extends CanflashError {
  constructor(
    readonly command: string,
    message: string,
  ) {
    super("STK500_PROTOCOL", `${command}: ${message}`);
  }
}
