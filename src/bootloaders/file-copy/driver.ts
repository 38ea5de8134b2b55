// The file-copy drivers: one per protocol of the table (msc, uf2, sdcard),
// all the same shape. A board is a drive (a mount point, a block device, a
// FAT image, or found by the row's USB id and label); the adapter copies
// one file. Status reads the drive: the bootloader's INFO_UF2.TXT, or on an
// SD card whether the board has taken the update (FIRMWARE.CUR, no
// firmware.bin left).

import type {
  BootloaderDriver,
  DriveLink,
  DriverEnv,
  Link,
  StatusReport,
} from "../../flash-api/driver.js";
import { LinkNotSupportedError } from "../../flash-api/errors.js";
import type { Target } from "../../targets/index.js";
import { UsbTree } from "../../transport/usb-tree.js";
import { FileCopyAdapter } from "./adapter.js";
import { DriveTree } from "./drives.js";
import { DriveNotGivenError, SdcardNotConsumedError } from "./errors.js";
import { identifyDrive } from "./identify.js";
import { profileOf, type CopyKind } from "./profile.js";
import { volumeOf } from "./volume.js";

function driveLink(t: Target, link: Link): DriveLink {
  if (link.kind !== "drive")
    throw new LinkNotSupportedError(t.id, t.protocol, link.kind, ["drive"]);
  if (link.device === undefined && t.protocol === "sdcard") throw new DriveNotGivenError(t.id);
  return link;
}

const treesOf = (env: DriverEnv) => ({
  drives: new DriveTree({
    ...(env.usbTree ? { sysRoot: env.usbTree.sysfsRoot } : {}),
    ...(env.procRoot ? { procRoot: env.procRoot } : {}),
    ...(env.devRoot ? { devRoot: env.devRoot } : {}),
  }),
  usb: env.usbTree ?? new UsbTree(),
});

const NAMES: Record<CopyKind, string> = {
  msc: "MSC bootloader",
  uf2: "UF2 bootloader",
  sdcard: "SD card bootloader",
};

export function fileCopyDriver(kind: CopyKind): BootloaderDriver {
  return {
    protocol: kind,
    name: NAMES[kind],
    links: ["drive"],
    supports: (t) =>
      t.protocol === kind && (kind !== "uf2" || profileOf(t).uf2Family !== undefined),
    adapter: (t, link, env) =>
      new FileCopyAdapter({
        target: t,
        link: driveLink(t, link),
        profile: profileOf(t),
        ...treesOf(env),
      }),

    async status(t, link, env): Promise<StatusReport> {
      const l = driveLink(t, link);
      const p = profileOf(t);
      const adapter = new FileCopyAdapter({ target: t, link: l, profile: p, ...treesOf(env) });
      // Only looks: a missing drive is waited for (with the prompt) exactly as a flash would.
      await adapter.enter({ signal: env.signal, clock: env.clock, emit: (e) => env.emit?.(e) });
      const drive = adapter.found;
      const volume = volumeOf(drive!);
      const facts = await identifyDrive(drive!, volume, p, t);
      const fields = [
        { label: "Drive", value: drive!.path },
        ...(facts.label ? [{ label: "Label", value: facts.label }] : []),
        ...(facts.usbId ? [{ label: "USB id", value: facts.usbId }] : []),
        ...(facts.info ? [{ label: "Bootloader", value: facts.info.version }] : []),
        ...(facts.info?.model ? [{ label: "Model", value: facts.info.model }] : []),
        ...(facts.info?.boardId ? [{ label: "Board-ID", value: facts.info.boardId }] : []),
      ];
      if (p.kind !== "sdcard")
        return {
          bootloader: t.bootloader,
          fields,
          description: `${t.bootloader} at ${drive!.path}`,
        };
      const names = await volume.list();
      const has = (n: string) => names.some((x) => x.toLowerCase() === n.toLowerCase());
      if (has(p.fileName)) throw new SdcardNotConsumedError(drive!.path, p.fileName, t.id);
      const cur = await volume.read(p.currentName!);
      fields.push(
        { label: p.fileName, value: "not on the card (taken by the bootloader)" },
        { label: p.currentName!, value: cur ? `${cur.length} bytes` : "not on the card" },
      );
      return {
        bootloader: t.bootloader,
        fields,
        description: cur
          ? `the board flashed the card's ${p.fileName}`
          : `no update on ${drive!.path}`,
        notes: cur
          ? [`Update consumed: the bootloader renamed ${p.fileName} to ${p.currentName}`]
          : [
              `Neither ${p.fileName} nor ${p.currentName} is on the card: nothing was flashed from it`,
            ],
      };
    },
  };
}
