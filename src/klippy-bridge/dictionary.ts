// Klipper's data dictionary (klipper-can.md §8–9): zlib-compressed compact
// JSON with sorted keys (buildcommands.py), read from a node with identify
// or found inside a klipper.bin. Parsed with limits, checked with zod, and
// summarised: app, version, MCU, and the transport the build talks over.

import { inflateSync } from "node:zlib";
import * as z from "zod/mini";
import { CanflashError } from "../util/errors.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    KLIPPER_DICTIONARY: true;
  }
}

/** Largest inflated dictionary accepted (real ones are 10–40 KiB). */
export const MAX_DICTIONARY_BYTES = 4 * 1024 * 1024;

export class DictionaryError extends CanflashError {
  constructor(message: string, cause?: unknown) {
    super("KLIPPER_DICTIONARY", message, { cause });
  }
}

/**
 * The link a build talks over, from the constants it declares (Klipper's
 * src/generic): usb_canbus.c declares CANBUS_BRIDGE=1 (plus canbus.c's
 * CANBUS_FREQUENCY); canbus.c declares CANBUS_FREQUENCY in every CAN build;
 * serial_irq.c declares SERIAL_BAUD in every UART build; USB drivers
 * (stm32 usbfs/usbotg, atsam(d), lpc176x) declare RESERVE_PINS_USB*.
 */
export type BuildTransport = "can" | "usb-can-bridge" | "serial" | "usb" | "unknown";

// zod's tree-shakable "mini" API: the same checks without pulling the whole
// library into every start of a flash (a Klipper image is checked each time).
const Raw = z.looseObject({
  app: z.string(),
  version: z._default(z.string(), ""),
  build_versions: z.optional(z.string()),
  license: z.optional(z.string()),
  commands: z._default(z.record(z.string(), z.number()), {}),
  responses: z._default(z.record(z.string(), z.number()), {}),
  output: z.optional(z.record(z.string(), z.number())),
  enumerations: z.optional(z.record(z.string(), z.unknown())),
  config: z._default(z.record(z.string(), z.union([z.string(), z.number()])), {}),
});

export interface KlipperDictionary {
  app: string;
  version: string;
  buildVersions: string | undefined;
  mcu: string | undefined;
  config: Record<string, string | number>;
  commands: Record<string, number>;
  responses: Record<string, number>;
  transport: BuildTransport;
  canbusFrequency: number | undefined;
  serialBaud: number | undefined;
  receiveWindow: number | undefined;
  /** Names of enumerated parameters (pins, buses): a name → value, or a run "PA0": [first value, count]. */
  enumerations?: Record<string, unknown>;
}

const num = (v: string | number | undefined): number | undefined =>
  v === undefined
    ? undefined
    : typeof v === "number"
      ? v
      : Number.isFinite(Number(v))
        ? Number(v)
        : undefined;

export function buildTransport(config: Record<string, string | number>): BuildTransport {
  if (num(config.CANBUS_BRIDGE) === 1) return "usb-can-bridge";
  if (config.CANBUS_FREQUENCY !== undefined) return "can";
  if (config.SERIAL_BAUD !== undefined) return "serial";
  if (Object.keys(config).some((k) => k.startsWith("RESERVE_PINS_USB"))) return "usb";
  return "unknown";
}

const sameRecord = (a: Record<string, unknown>, b: Record<string, unknown>): boolean => {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => k in b && a[k] === b[k]);
};

/**
 * Are two dictionaries of the same build: same version (with its -dirty
 * mark), toolchain, build config and command set? Then the firmware a board
 * runs is the one an image holds, for all flashing is concerned.
 */
export function sameBuild(a: KlipperDictionary, b: KlipperDictionary): boolean {
  return (
    a.app === b.app &&
    a.version !== "" &&
    a.version === b.version &&
    a.buildVersions === b.buildVersions &&
    sameRecord(a.config, b.config) &&
    sameRecord(a.commands, b.commands) &&
    sameRecord(a.responses, b.responses)
  );
}

/** Inflates (when zlib-compressed) and parses a dictionary. */
export function parseDictionary(bytes: Uint8Array): KlipperDictionary {
  let text: string;
  if (bytes[0] === 0x78) {
    let raw: Buffer;
    try {
      raw = inflateSync(bytes, { maxOutputLength: MAX_DICTIONARY_BYTES });
    } catch (e) {
      throw new DictionaryError(
        `the data dictionary does not inflate (${(e as Error).message})`,
        e,
      );
    }
    text = raw.toString("utf8");
  } else {
    if (bytes.length > MAX_DICTIONARY_BYTES)
      throw new DictionaryError(`the data dictionary is over ${MAX_DICTIONARY_BYTES} bytes`);
    text = new TextDecoder().decode(bytes);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new DictionaryError("the data dictionary is not JSON", e);
  }
  const r = Raw.safeParse(json);
  if (!r.success)
    throw new DictionaryError(
      `the data dictionary lacks ${r.error.issues[0]!.path.join(".") || "its fields"}`,
    );
  const d = r.data;
  const mcu = d.config.MCU;
  return {
    app: d.app,
    version: d.version,
    buildVersions: d.build_versions,
    mcu: typeof mcu === "string" ? mcu : undefined,
    config: d.config,
    commands: d.commands,
    responses: d.responses,
    transport: buildTransport(d.config),
    canbusFrequency: num(d.config.CANBUS_FREQUENCY),
    serialBaud: num(d.config.SERIAL_BAUD),
    receiveWindow: num(d.config.RECEIVE_WINDOW),
    enumerations: d.enumerations ?? {},
  };
}

/**
 * The dictionary embedded in a klipper.bin: the first zlib stream (78 da)
 * that inflates to JSON with app "Klipper". Undefined when there is none.
 */
export function findImageDictionary(
  image: Uint8Array,
): { dictionary: KlipperDictionary; offset: number; length: number } | undefined {
  for (
    let i = image.indexOf(0x78);
    i >= 0 && i + 1 < image.length;
    i = image.indexOf(0x78, i + 1)
  ) {
    if (image[i + 1] !== 0xda) continue;
    let raw: Buffer;
    let length: number;
    try {
      const r = inflateSync(image.subarray(i), {
        maxOutputLength: MAX_DICTIONARY_BYTES,
        info: true,
      }) as unknown as {
        buffer: Buffer;
        engine: { bytesWritten: number };
      };
      raw = r.buffer;
      length = r.engine.bytesWritten;
    } catch {
      continue;
    }
    if (raw[0] !== 0x7b) continue; // "{"
    try {
      const d = parseDictionary(raw);
      if (d.app === "Klipper") return { dictionary: d, offset: i, length };
    } catch {
      // not a dictionary: keep scanning
    }
  }
  return undefined;
}
