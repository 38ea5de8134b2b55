// The file-copy FlashAdapter (MSC and UF2 bootloader drives, SD cards in
// this computer). enter: find the drive, or say exactly what to press and
// wait for it; connect: check it is the row's bootloader; write: collect
// the planned blocks; endWrite: one file, written and synced (UF2 drives get
// UF2 blocks with the row's family id; SD cards a temporary name renamed
// once complete, and any old FIRMWARE.CUR removed so a new one proves this
// copy); finish: wait for the drive to leave and the board to come back.
// Nothing reads the flash back: the result line says what was checked.

import type { DeviceInfo, FlashAdapter, FlashContext } from "../../flash-api/adapter.js";
import type { DriveLink } from "../../flash-api/driver.js";
import { DryRunStopError } from "../../flash-api/errors.js";
import type { FlashPlan, PlannedBlock } from "../../flash-api/geometry.js";
import { awaitManualEntry } from "../../entry/manual.js";
import { ENTRIES } from "../../entry/index.js";
import type { Entry, Target } from "../../targets/index.js";
import { UsbTree } from "../../transport/usb-tree.js";
import { DriveTree, type BlockDevice, type Drive } from "./drives.js";
import { AmbiguousDriveError } from "./errors.js";
import { identifyDrive, type DriveFacts } from "./identify.js";
import { checkVectorTable } from "./image-check.js";
import { SDCARD_TEMP_NAME, type CopyProfile } from "./profile.js";
import { encodeUf2, mcuOfBoardId, UF2_PAYLOAD_BYTES } from "./uf2.js";
import { volumeOf, type Volume } from "./volume.js";
import { DRIVE_POLL_MS, waitBoardBack, waitDriveGone } from "./watch.js";
import { delay } from "../../util/clock.js";

export interface FileCopyOptions {
  target: Target;
  link: DriveLink;
  profile: CopyProfile;
  drives: DriveTree;
  usb: UsbTree;
  /** How long a person gets to bring the drive up (default: the manual-entry deadline). */
  appearTimeoutMs?: number;
  goneTimeoutMs?: number;
  backTimeoutMs?: number;
  /** How long a drive that just appeared is given to be mounted by the desktop (default AUTOMOUNT_GRACE_MS). */
  automountGraceMs?: number;
}

/** How long a desktop's automounter may take to mount a drive that just appeared (udisks: well under a second). */
export const AUTOMOUNT_GRACE_MS = 3000;

export class FileCopyAdapter implements FlashAdapter {
  readonly protocol: string;
  readonly capabilities = { verify: "none", erase: "none" } as const;
  private drive: Drive | undefined;
  private volume: Volume | undefined;
  private facts: DriveFacts | undefined;
  private readonly blocks: PlannedBlock[] = [];

  constructor(private readonly o: FileCopyOptions) {
    this.protocol = o.profile.kind;
  }

  /** The drive enter() found. */
  get found(): Drive | undefined {
    return this.drive;
  }

  private get where(): string {
    return this.o.link.device ?? `the ${this.o.target.id} drive`;
  }

  /** One look for the drive: the given path, or the one device with the row's USB id or label. */
  private async locate(): Promise<Drive | undefined> {
    const { link, drives, profile, target } = this.o;
    if (link.device !== undefined) return drives.open(link.device, target.id);
    const found = await drives.find({ usbIds: profile.usbIds, labels: profile.labels });
    if (found.length > 1)
      throw new AmbiguousDriveError(
        target.id,
        found.map((b) => b.devPath),
      );
    return found[0] ? drives.driveOf(found[0]) : undefined;
  }

  async enter(ctx: FlashContext): Promise<void> {
    this.drive = await this.locate();
    if (this.drive) return;
    const entry: Entry = this.o.target.entry[0]!;
    if (ctx.dryRun) throw new DryRunStopError(this.where, ENTRIES[entry].wouldDo);
    await awaitManualEntry({
      board: this.where,
      entry,
      expected: `the ${this.o.target.bootloader} drive`,
      clock: ctx.clock,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      emit: (e) => ctx.emit(e),
      ready: async () => (this.drive = await this.locate()) !== undefined,
      ...(this.o.appearTimeoutMs !== undefined ? { timeoutMs: this.o.appearTimeoutMs } : {}),
    });
    // It just appeared: a desktop's automounter mounts it within a moment, and
    // writing the raw device meanwhile would race that mount.
    const appeared = this.found; // set by ready()
    if (appeared?.kind === "fat" && appeared.block) await this.awaitAutomount(ctx, appeared.block);
  }

  private async awaitAutomount(ctx: FlashContext, block: BlockDevice): Promise<void> {
    const deadline = ctx.clock.now() + (this.o.automountGraceMs ?? AUTOMOUNT_GRACE_MS);
    while (ctx.clock.now() < deadline) {
      await delay(ctx.clock, DRIVE_POLL_MS, ctx.signal, "waiting for the drive to be mounted");
      const d = await this.o.drives.driveOf(block);
      if (d.kind === "mounted") {
        this.drive = d;
        return;
      }
    }
  }

  async connect(ctx: FlashContext): Promise<DeviceInfo> {
    const drive = this.drive!;
    const { profile: p, target: t } = this.o;
    this.volume = volumeOf(drive);
    this.facts = await identifyDrive(drive, this.volume, p, t);
    const f = this.facts;
    const about = [
      f.label && `label ${f.label}`,
      f.usbId && `USB ${f.usbId}`,
      f.info?.boardId && `Board-ID ${f.info.boardId}`,
    ].filter(Boolean);
    ctx.emit({
      type: "info",
      message: `${drive.path}: ${t.bootloader}${about.length ? ` (${about.join(", ")})` : ""}`,
      data: { drive: drive.path, ...f },
    });
    const mcu =
      p.kind === "uf2"
        ? mcuOfBoardId(f.info?.boardId)
        : t.mcu.length === 1 && t.mcu[0] !== "*"
          ? t.mcu[0]
          : undefined;
    return {
      geometry: {
        start: t.appStart ?? 0,
        ...(t.appEnd !== undefined ? { end: t.appEnd } : {}),
        blockSize: p.kind === "uf2" ? UF2_PAYLOAD_BYTES : 512,
        padByte: 0xff,
        addressUnit: "byte",
        ...(p.kind === "uf2" ? {} : { contiguousFromStart: true }),
      },
      description: `${t.bootloader} at ${drive.path}`,
      ...(mcu ? { mcu } : {}),
      ...(f.info?.version ? { bootloaderVersion: f.info.version } : {}),
      unverified:
        p.kind === "sdcard"
          ? `a file copy cannot be verified by read-back; once the board has flashed the card, ${p.currentName} on it proves it`
          : drive.block
            ? "a file copy cannot be verified by read-back; checked instead: the drive went away (the bootloader took the file)"
            : "a file copy cannot be verified by read-back, and an image file cannot be watched for the bootloader taking it",
    };
  }

  async check(_ctx: FlashContext, plan: FlashPlan): Promise<void> {
    const rp2040 = this.o.target.mcu.includes("rp2040");
    checkVectorTable(plan, {
      vectorOffset: rp2040 ? 0x100 : 0,
      strictMsc: this.o.profile.kind === "msc",
    });
  }

  async writeBlock(_ctx: FlashContext, block: PlannedBlock): Promise<void> {
    this.blocks.push(block);
  }

  async endWrite(ctx: FlashContext): Promise<void> {
    const p = this.o.profile;
    const bytes = p.kind === "uf2" ? encodeUf2(this.blocks, p.uf2Family!) : binOf(this.blocks);
    const v = this.volume!;
    if (p.kind === "sdcard" && (await v.remove(p.currentName!)))
      ctx.emit({ type: "info", message: `removed the old ${p.currentName} from ${v.where}` });
    await v.write(
      p.fileName,
      bytes,
      p.kind === "sdcard" ? { viaTemp: SDCARD_TEMP_NAME } : { mayVanish: p.leaves },
    );
    ctx.emit({
      type: "info",
      message: `wrote ${bytes.length} bytes as ${p.fileName} to ${v.where} and synced them`,
      data: { file: p.fileName, bytes: bytes.length },
    });
  }

  async finish(ctx: FlashContext): Promise<void> {
    const { profile: p, target: t } = this.o;
    const d = this.drive!;
    if (p.kind === "sdcard") {
      ctx.emit({
        type: "info",
        message: `${p.fileName} is on the card: unmount it, put it in the board and reset the board; the bootloader flashes it and renames it ${p.currentName}`,
        data: { next: "move-card", currentName: p.currentName },
      });
      return;
    }
    if (!d.block) return;
    const watch = { clock: ctx.clock, ...(ctx.signal ? { signal: ctx.signal } : {}) };
    await waitDriveGone(this.o.drives, d, t.protocol, {
      ...watch,
      ...(this.o.goneTimeoutMs !== undefined ? { timeoutMs: this.o.goneTimeoutMs } : {}),
    });
    ctx.emit({
      type: "info",
      message: `${d.path} went away: the bootloader took the file`,
      data: { driveGone: true },
    });
    const usbPath = d.block.usb?.usbPath;
    if (!usbPath) return;
    const back = await waitBoardBack(this.o.usb, usbPath, {
      ...watch,
      ...(this.o.backTimeoutMs !== undefined ? { timeoutMs: this.o.backTimeoutMs } : {}),
    });
    ctx.emit({
      type: "info",
      message: back
        ? `the board is back as ${back.what} (${back.usbId}) on USB port ${usbPath}`
        : `the board did not come back on USB port ${usbPath} as Klipper or Katapult (a CAN or UART build does not show up on USB)`,
      data: { boardBack: back?.what ?? null },
    });
  }

  async abandon(): Promise<boolean> {
    return false; // nothing of the board's was touched: a drive is left as found
  }

  async close(): Promise<void> {}
}

/**
 * The planned blocks as one raw image from the start: whole blocks, the last
 * cut after its image bytes (a .bin comes out as it went in) but never
 * before a byte that is not padding.
 */
function binOf(blocks: readonly PlannedBlock[]): Uint8Array {
  if (blocks.length === 0) return new Uint8Array(0);
  const start = blocks[0]!.address;
  const last = blocks[blocks.length - 1]!;
  let used = last.payload;
  for (let i = last.data.length - 1; i >= used; i--)
    if (last.data[i] !== 0xff) {
      used = i + 1;
      break;
    }
  const out = new Uint8Array(last.address - start + used);
  for (const b of blocks)
    out.set(
      b.data.subarray(0, Math.min(b.data.length, out.length - (b.address - start))),
      b.address - start,
    );
  return out;
}
