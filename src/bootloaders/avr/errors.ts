// Typed errors of the AVR serial bootloaders, with the facts a hint needs.
// Many-field errors take one object.

import { CanflashError } from "../../util/errors.js";
import { formatSignature, partBySignature } from "./parts.js";

declare module "../../util/errors.js" {
  interface ErrorCodes {
    AVR_NO_ANSWER: true;
    AVR_WRONG_TARGET: true;
    AVR_SIGNATURE: true;
    STK500_PROTOCOL: true;
  }
}

export interface AvrNoAnswer {
  port: string;
  baud: number;
  bootloader: string;
  /** The target row asked for. */
  target: string;
  listenWindowMs: number;
  attempts: number;
  /** Did the port accept the DTR/RTS reset pulse? (a pty, or some adapters, do not) */
  resetPulsed: boolean;
  /** The row resets the board itself (dtr-rts-reset); false: a person presses reset. */
  autoReset: boolean;
  /** What came back instead, if anything. */
  got?: string | undefined;
  /** Other bootloader protocols and speeds tried afterwards, none answering ("STK500v2 at 115200 baud"). */
  alsoTried?: readonly string[];
}

/** Nothing (or nothing sensible) answered the sync within the bootloader's listen window. */
export class AvrNoAnswerError extends CanflashError implements AvrNoAnswer {
  readonly port: string;
  readonly baud: number;
  readonly bootloader: string;
  readonly target: string;
  readonly listenWindowMs: number;
  readonly attempts: number;
  readonly resetPulsed: boolean;
  readonly autoReset: boolean;
  readonly got: string | undefined;
  readonly alsoTried: readonly string[];

  constructor(f: AvrNoAnswer) {
    const also = f.alsoTried ?? [];
    super(
      "AVR_NO_ANSWER",
      `no answer from the ${f.bootloader} bootloader on ${f.port} at ${f.baud} baud after ${f.attempts} sync attempts` +
        (f.got ? ` (got ${f.got})` : "") +
        `: it listens only about ${(f.listenWindowMs / 1000).toFixed(1)} s after a reset, and ` +
        (!f.autoReset
          ? "this board is reset by hand (its bootloader has no auto-reset)"
          : f.resetPulsed
            ? "canflash reset the board with a DTR/RTS pulse before each round"
            : "this port refused the DTR/RTS reset pulse, so the board was not reset") +
        (also.length ? `; nothing answered ${also.join(" or ")} either` : ""),
    );
    this.port = f.port;
    this.baud = f.baud;
    this.bootloader = f.bootloader;
    this.target = f.target;
    this.listenWindowMs = f.listenWindowMs;
    this.attempts = f.attempts;
    this.resetPulsed = f.resetPulsed;
    this.autoReset = f.autoReset;
    this.got = f.got;
    this.alsoTried = also;
  }

  /** The same failure, with the other bootloaders probed afterwards. */
  withAlsoTried(tried: readonly string[]): AvrNoAnswerError {
    return new AvrNoAnswerError({ ...this, alsoTried: tried });
  }
}

export interface AvrWrongTarget {
  port: string;
  /** The target that was asked for. */
  expectedTarget: string;
  /** "STK500v1 at 57600 baud". */
  expectedLink: string;
  expectedBaud: number;
  /** "STK500v2 at 115200 baud". */
  foundLink: string;
  foundBaud: number;
  signature: readonly number[];
  foundPart: string | undefined;
  /** Target rows that fit what answered. */
  suggestedTargets: readonly string[];
}

/**
 * The bootloader the target names did not answer, but another AVR bootloader
 * did: the board is not what the target row describes (or the baud is off).
 * Nothing was written.
 */
export class AvrWrongTargetError extends CanflashError implements AvrWrongTarget {
  readonly port: string;
  readonly expectedTarget: string;
  readonly expectedLink: string;
  readonly expectedBaud: number;
  readonly foundLink: string;
  readonly foundBaud: number;
  readonly signature: readonly number[];
  readonly foundPart: string | undefined;
  readonly suggestedTargets: readonly string[];

  constructor(f: AvrWrongTarget) {
    super(
      "AVR_WRONG_TARGET",
      `no bootloader answered ${f.expectedLink} on ${f.port} (target ${f.expectedTarget}), but one answered ${f.foundLink}, ` +
        `with signature ${formatSignature(f.signature)}` +
        (f.foundPart ? ` (${f.foundPart})` : " (an unknown part)") +
        `: the board is not what target ${f.expectedTarget} describes; nothing was written`,
    );
    this.port = f.port;
    this.expectedTarget = f.expectedTarget;
    this.expectedLink = f.expectedLink;
    this.expectedBaud = f.expectedBaud;
    this.foundLink = f.foundLink;
    this.foundBaud = f.foundBaud;
    this.signature = f.signature;
    this.foundPart = f.foundPart;
    this.suggestedTargets = f.suggestedTargets;
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
