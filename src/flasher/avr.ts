// The AVR serial bootloaders as flasher adapters, from a target row: the
// part (signature, pages), the bootloader's start, baud and listen window.

import type { AvrLink } from "../bootloaders/avr/link.js";
import { openAvrSerial } from "../bootloaders/avr/link.js";
import { findAvrPart } from "../bootloaders/avr/parts.js";
import { Stk500v1Adapter } from "../bootloaders/stk500v1/adapter.js";
import { Stk500v2Adapter } from "../bootloaders/stk500v2/adapter.js";
import { AvrNoAnswerError, AvrWrongTargetError } from "../bootloaders/avr/errors.js";
import type { DeviceInfo, FlashAdapter, FlashContext } from "../flash-api/adapter.js";
import type { PlannedBlock } from "../flash-api/geometry.js";
import { describeLink, probeAvrBootloaders, type AvrLinkKind } from "./avr-probe.js";
import type { ByteTransport } from "../transport/byte-transport.js";
import type { Target } from "./targets.js";

/** A listen window when the table has none: the shortest seen (Mega 2560). */
export const DEFAULT_LISTEN_WINDOW_MS = 830;

export interface AvrAdapterOptions {
  device: string;
  baud?: number;
  procRoot?: string;
  /** Wraps the opened link (traces). */
  wrapTransport?: (t: ByteTransport) => ByteTransport;
  /** Opens the link instead of a tty (tests). */
  open?: () => Promise<AvrLink>;
  /** Full reset + listen rounds before giving up (default: the adapter's). */
  resetRounds?: number;
  /**
   * When the bootloader does not answer, try the table's other AVR
   * bootloaders and name the one that answers (default true).
   */
  probeOthers?: boolean;
}

export const isAvrTarget = (t: Target | undefined): t is Target =>
  !!t &&
  (t.protocol === "stk500v1" || t.protocol === "stk500v2") &&
  findAvrPart(t.chip) !== undefined;

export function avrAdapterFor(t: Target, o: AvrAdapterOptions): FlashAdapter {
  const part = findAvrPart(t.chip);
  if (!part || !isAvrTarget(t))
    throw new RangeError(`target ${t.id} is not an AVR serial bootloader`);
  const baud = o.baud ?? t.defaultBaud ?? 115200;
  const open = async (): Promise<AvrLink> => {
    const link = o.open ? await o.open() : await openAvrSerial(o.device, baud, o.procRoot);
    if (!o.wrapTransport) return link;
    // Keep the reset lines reachable through a wrapping transport.
    const wrapped = o.wrapTransport(link) as AvrLink;
    if (link.setLines && !wrapped.setLines) wrapped.setLines = (l) => link.setLines!(l);
    return wrapped;
  };
  const common = {
    port: o.device,
    baud,
    part,
    bootloader: t.bootloader.split(" (")[0]!,
    bootStart: t.appEnd ?? part.flashSize,
    listenWindowMs: t.listenWindowMs ?? DEFAULT_LISTEN_WINDOW_MS,
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
    { protocol: t.protocol as AvrLinkKind["protocol"], baud },
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
      throw new AvrWrongTargetError(
        this.port,
        this.target.id,
        describeLink(this.kind),
        this.kind.baud,
        describeLink(hit),
        hit.baud,
        hit.signature,
        hit.part,
        hit.targets,
      );
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
