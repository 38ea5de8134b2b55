// /proc/mounts and /dev/disk/by-label names as text (pure): the kernel
// escapes space, tab, newline and backslash in mount fields as octal
// (\040), udev escapes a label's unsafe bytes as \xNN.

export interface MountEntry {
  /** The device as mounted ("/dev/sdb1"). */
  source: string;
  /** The mount point. */
  target: string;
  fstype: string;
  options: string[];
}

const unOctal = (s: string): string =>
  s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(Number.parseInt(o, 8)));

/** The lines of /proc/mounts (or /proc/self/mounts). */
export function parseMounts(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4) continue;
    out.push({
      source: unOctal(f[0]!),
      target: unOctal(f[1]!),
      fstype: f[2]!,
      options: f[3]!.split(","),
    });
  }
  return out;
}

/** A /dev/disk/by-label link name as the label it stands for ("MY\x20CARD" → "MY CARD"). */
export function decodeLabel(name: string): string {
  return name.replace(/\\x([0-9a-fA-F]{2})/g, (_m, h: string) =>
    String.fromCharCode(Number.parseInt(h, 16)),
  );
}

/** FAT file systems as /proc/mounts names them (exFAT is not FAT: the bootloaders cannot read it). */
export const FAT_TYPES: readonly string[] = ["vfat", "msdos", "fat"];
