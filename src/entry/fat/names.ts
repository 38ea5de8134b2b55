// FAT directory names, pure: 8.3 short names (with the lower-case flags
// Linux and Windows set for names like "firmware.bin"), long-name (VFAT)
// entries with their checksum, and short names made unique as "ZNP_RO~1.BIN".

/** Characters a short name may hold besides A–Z and 0–9. */
const SFN_EXTRA = "!#$%&'()-@^_`{}~";
/** Directory entry byte 12: the base / the extension are lower case. */
export const NT_LOWER_BASE = 0x08;
export const NT_LOWER_EXT = 0x10;
export const ATTR_LFN = 0x0f;
export const ATTR_ARCHIVE = 0x20;
export const ATTR_DIRECTORY = 0x10;
export const ATTR_VOLUME = 0x08;
export const ENTRY = 32;
/** UTF-16 units per long-name entry. */
const LFN_CHARS = 13;
const LFN_OFFSETS = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];

const sfnChar = (c: string) => /[A-Z0-9]/.test(c) || SFN_EXTRA.includes(c);

/** The 11 bytes of a short name ("FIRMWARE   CUR" style) as text "FIRMWARE.CUR". */
export function shortNameText(raw: Uint8Array, ntFlags = 0): string {
  const txt = (b: Uint8Array) => String.fromCharCode(...b).trimEnd();
  let base = txt(raw.subarray(0, 8));
  if (raw[0] === 0x05) base = "\u00e5" + base.slice(1);
  let ext = txt(raw.subarray(8, 11));
  if (ntFlags & NT_LOWER_BASE) base = base.toLowerCase();
  if (ntFlags & NT_LOWER_EXT) ext = ext.toLowerCase();
  return ext ? `${base}.${ext}` : base;
}

export interface NamePlan {
  /** The 11 short-name bytes. */
  short: Uint8Array;
  /** Byte 12's case flags (when no long name is needed). */
  ntFlags: number;
  /** Whether long-name entries are needed. */
  needsLong: boolean;
}

/** Is `name` an 8.3 name in one case per part (stored as a short name alone)? */
function plain83(name: string): { base: string; ext: string; flags: number } | undefined {
  const m = /^([^.]{1,8})(?:\.([^.]{1,3}))?$/.exec(name);
  if (!m) return undefined;
  const [, base = "", ext = ""] = m;
  const flagOf = (s: string, bit: number): number | undefined => {
    if (s === s.toUpperCase()) return 0;
    if (s === s.toLowerCase()) return bit;
    return undefined; // mixed case: only a long name keeps it
  };
  const fb = flagOf(base, NT_LOWER_BASE);
  const fe = flagOf(ext, NT_LOWER_EXT);
  if (fb === undefined || fe === undefined) return undefined;
  if (![...(base + ext).toUpperCase()].every(sfnChar)) return undefined;
  return { base: base.toUpperCase(), ext: ext.toUpperCase(), flags: fb | fe };
}

const pad = (s: string, n: number) => s.padEnd(n, " ").slice(0, n);
const bytesOf = (s: string) => Uint8Array.from([...s].map((c) => c.charCodeAt(0)));

/** How `name` is stored; `taken` are the short names (text) already in the folder. */
export function planName(name: string, taken: ReadonlySet<string>): NamePlan {
  const p = plain83(name);
  if (p)
    return { short: bytesOf(pad(p.base, 8) + pad(p.ext, 3)), ntFlags: p.flags, needsLong: false };
  const dot = name.lastIndexOf(".");
  const clean = (s: string) =>
    [...s.toUpperCase()]
      .filter((c) => c !== " " && c !== ".")
      .map((c) => (sfnChar(c) ? c : "_"))
      .join("");
  const base = clean(dot > 0 ? name.slice(0, dot) : name) || "FILE";
  const ext = clean(dot > 0 ? name.slice(dot + 1) : "").slice(0, 3);
  for (let n = 1; n < 1_000_000; n++) {
    const tail = `~${n}`;
    const b = base.slice(0, 8 - tail.length) + tail;
    const text = ext ? `${b}.${ext}` : b;
    if (!taken.has(text.toUpperCase()))
      return { short: bytesOf(pad(b, 8) + pad(ext, 3)), ntFlags: 0, needsLong: true };
  }
  throw new RangeError(`no free short name for ${name}`);
}

/** The checksum of a short name that its long-name entries carry. */
export function lfnChecksum(short: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < 11; i++) sum = (((sum & 1) << 7) + (sum >> 1) + short[i]!) & 0xff;
  return sum;
}

/** The long-name entries for `name`, in on-disk order (last part first). */
export function longEntries(name: string, short: Uint8Array): Uint8Array[] {
  const units = [...name].map((c) => c.charCodeAt(0));
  if (units.length > 255) throw new RangeError("a FAT long name has at most 255 characters");
  const count = Math.ceil(units.length / LFN_CHARS);
  const sum = lfnChecksum(short);
  const out: Uint8Array[] = [];
  for (let k = count; k >= 1; k--) {
    const e = new Uint8Array(ENTRY);
    e[0] = k | (k === count ? 0x40 : 0);
    e[11] = ATTR_LFN;
    e[13] = sum;
    for (let j = 0; j < LFN_CHARS; j++) {
      const i = (k - 1) * LFN_CHARS + j;
      const u = i < units.length ? units[i]! : i === units.length ? 0 : 0xffff;
      e[LFN_OFFSETS[j]!] = u & 0xff;
      e[LFN_OFFSETS[j]! + 1] = u >> 8;
    }
    out.push(e);
  }
  return out;
}

/** The characters one long-name entry carries (up to a 0x0000 end). */
export function longEntryChars(e: Uint8Array): string {
  let s = "";
  for (const o of LFN_OFFSETS) {
    const u = e[o]! | (e[o + 1]! << 8);
    if (u === 0 || u === 0xffff) break;
    s += String.fromCharCode(u);
  }
  return s;
}
