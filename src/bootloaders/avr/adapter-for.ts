// The AVR serial bootloaders as flash adapters, from a target row: the part
// (signature, pages, from the device table's chips), the bootloader's start,
// baud, listen window, and the reset entry. When the row's bootloader stays
// silent, the adapter probes the table's other AVR bootloaders and names
// what answered (AvrWrongTargetError) — the usual cause is the wrong row.

import type { DeviceInfo, FlashAdapter, FlashContext } from "../../flash-api/adapter.js";
import type { PlannedBlock } from "../../flash-api/geometry.js";
import type { Target } from "../../targets/index.js";
import type { ByteTransport } from "../../transport/byte-transport.js";
import { openSerial } from "../../transport/serial.js";
import { pickEntry } from "../../entry/index.js";
import { Stk500v1Adapter } from "./stk500v1/adapter.js";
import { Stk500v2Adapter } from "./stk500v2/adapter.js";
import { AvrNoAnswerError, AvrWrongTargetError } from "./errors.js";
import { findAvrPart, type AvrPart } from "./parts.js";
import { describeLink, probeAvrBootloaders, type AvrLinkKind } from "./probe.js";
import { DEFAULT_AVR_BAUD, DEFAULT_LISTEN_WINDOW_MS, isAvrRow } from "./rows.js";

export interface AvrAdapterOptions {
  device: string;
  baud?: number;
  procRoot?: string;
  /** Wraps the opened link (traces). */
  wrapTransport?: (t: ByteTransport) => ByteTransport;
  /** Opens the link instead of a tty (tests). */
  open?: () => Promise<ByteTransport>;
  /** Full reset + listen rounds before giving up (default: the adapter's). */
  resetRounds?: number;
  /**
   * When the bootloader does not answer, try the table's other AVR
   * bootloaders and name the one that answers (default true).
   */
  probeOthers?: boolean;
}

export function avrAdapterFor(t: Target, o: AvrAdapterOptions): FlashAdapter {
  const part: AvrPart | undefined = findAvrPart(t.chip);
  if (!part || !isAvrRow(t)) throw new RangeError(`target ${t.id} is not an AVR serial bootloader`);
  const baud = o.baud ?? t.defaultBaud ?? DEFAULT_AVR_BAUD;
  const open = async (): Promise<ByteTransport> => {
    const link = o.open
      ? await o.open()
      : await openSerial({
          path: o.device,
          baudRate: baud,
          ...(o.procRoot ? { procRoot: o.procRoot } : {}),
        });
    return o.wrapTransport ? o.wrapTransport(link) : link;
  };
  const common = {
    port: o.device,
    baud,
    part,
    target: t.id,
    bootloader: t.bootloader.split(" (")[0]!,
    bootStart: t.appEnd ?? part.flashSize,
    listenWindowMs: t.listenWindowMs ?? DEFAULT_LISTEN_WINDOW_MS,
    autoReset: pickEntry(t, "serial") === "dtr-rts-reset",
    open,
    ...(o.resetRounds !== undefined ? { resetRounds: o.resetRounds } : {}),
  };
  const adapter =
    t.protocol === "stk500v2" ? new Stk500v2Adapter(common) : new Stk500v1Adapter(common);
  if (o.probeOthers === false) return adapter;
  return new DiagnosingAvrAdapter(
    adapter,
    t,
    o.device,
    { protocol: t.protocol, baud },
    (row, kind) =>
      avrAdapterFor(row, { ...o, baud: kind.baud, resetRounds: 1, probeOthers: false }),
  );
}

/**
 * An AVR adapter that turns "no answer" into a diagnosis: after the target's
 * own rounds fail it probes the other bootloaders (probeAvrBootloaders) and
 * reports the one that answered as AvrWrongTargetError.
 */
class DiagnosingAvrAdapter implements FlashAdapter {
  readonly protocol: string;
  readonly capabilities: FlashAdapter["capabilities"];

  constructor(
    private readonly inner: FlashAdapter,
    private readonly target: Target,
    private readonly port: string,
    private readonly kind: AvrLinkKind,
    private readonly adapterFor: (row: Target, kind: AvrLinkKind) => FlashAdapter,
  ) {
    this.protocol = inner.protocol;
    this.capabilities = inner.capabilities;
  }

  enter(ctx: FlashContext): Promise<void> {
    return this.inner.enter?.(ctx) ?? Promise.resolve();
  }

  async connect(ctx: FlashContext): Promise<DeviceInfo> {
    try {
      return await this.inner.connect(ctx);
    } catch (e) {
      if (!(e instanceof AvrNoAnswerError) || ctx.signal?.aborted) throw e;
      // The port must be free for the probes' own opens (each open resets a pty-backed board).
      await this.inner.close();
      const { hit, tried } = await probeAvrBootloaders(ctx, this.kind, this.adapterFor);
      if (!hit) throw e.withAlsoTried(tried.map(describeLink));
      throw new AvrWrongTargetError({
        port: this.port,
        expectedTarget: this.target.id,
        expectedLink: describeLink(this.kind),
        expectedBaud: this.kind.baud,
        foundLink: describeLink(hit),
        foundBaud: hit.baud,
        signature: hit.signature,
        foundPart: hit.part,
        suggestedTargets: hit.targets,
      });
    }
  }

  writeBlock(ctx: FlashContext, block: PlannedBlock): Promise<void> {
    return this.inner.writeBlock(ctx, block);
  }

  readBlock(ctx: FlashContext, block: PlannedBlock): Promise<Uint8Array> {
    return this.inner.readBlock!(ctx, block);
  }

  finish(ctx: FlashContext): Promise<void> {
    return this.inner.finish(ctx);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
