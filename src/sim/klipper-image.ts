// Real-shaped Klipper artifacts for simulations and tests: a data dictionary
// laid out as buildcommands.py emits it (compact JSON, sorted keys, zlib
// level 9) and a klipper.bin around it — a Cortex-M vector table at the
// application start (initial stack pointer in RAM, Thumb reset handler
// inside the image), code-like bytes, and the compressed dictionary.

import { deflateSync } from "node:zlib";
import { randomBytes } from "../util/random.js";

export interface DictionaryOptions {
  mcu: string;
  version?: string;
  /** The link the build talks over. */
  transport: "can" | "usb-can-bridge" | "serial" | "usb";
  canbusFrequency?: number;
  serialBaud?: number;
  clockFreq?: number;
  /** More commands, responses and enumerations (an SPI build's), merged into the base set. */
  commands?: Record<string, number>;
  responses?: Record<string, number>;
  enumerations?: Record<string, unknown>;
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

/** The dictionary JSON text of a Klipper build. */
export function klipperDictionaryJson(o: DictionaryOptions): string {
  const config: Record<string, string | number> = {
    MCU: o.mcu,
    CLOCK_FREQ: o.clockFreq ?? 64000000,
    STATS_SUMSQ_BASE: 256,
    ADC_MAX: 4095,
    PWM_MAX: 255,
  };
  if (o.transport === "can" || o.transport === "usb-can-bridge") {
    config.CANBUS_FREQUENCY = o.canbusFrequency ?? 1000000;
    config.RECEIVE_WINDOW = 192;
    config.RESERVE_PINS_CAN = "PB0,PB1";
  }
  if (o.transport === "usb-can-bridge") {
    config.CANBUS_BRIDGE = 1;
    config.RESERVE_PINS_USB = "PA11,PA12";
  }
  if (o.transport === "serial") {
    config.SERIAL_BAUD = o.serialBaud ?? 250000;
    config.RECEIVE_WINDOW = 192;
    config.RESERVE_PINS_serial = "PA10,PA9";
  }
  if (o.transport === "usb") config.RESERVE_PINS_USB = "PA11,PA12";
  const data = {
    app: "Klipper",
    version: o.version ?? "v0.12.0-427-g1a2b3c4d",
    build_versions: "gcc: (15:12.2.rel1-1) 12.2.1 20221205 binutils: (2.40-2+18+b1) 2.40",
    license: "GNU GPLv3",
    commands: {
      "identify offset=%u count=%c": 1,
      get_uptime: 2,
      get_clock: 3,
      get_config: 4,
      "allocate_oids count=%c": 5,
      "finalize_config crc=%u": 6,
      reset: 7,
      emergency_stop: 8,
      clear_shutdown: 9,
      get_canbus_id: 10,
      "set_digital_out pin=%u value=%c": 11,
      "config_stepper oid=%c step_pin=%c dir_pin=%c invert_step=%c step_pulse_ticks=%u": 12,
      ...o.commands,
    },
    responses: {
      "identify_response offset=%u data=%.*s": 0,
      "clock clock=%u": 80,
      "uptime high=%u clock=%u": 81,
      "config is_config=%c crc=%u is_shutdown=%c move_count=%hu": 82,
      "shutdown clock=%u static_string_id=%hu": 83,
      "is_shutdown static_string_id=%hu": 84,
      "canbus_id canbus_uuid=%.*s canbus_nodeid=%u": 85,
      "stats count=%u sum=%u sumsq=%u": 86,
      starting: 87,
      ...o.responses,
    },
    enumerations: {
      static_string_id: {
        "Shutdown cleared when not shutdown": 2,
        "Timer too close": 3,
        "Missed scheduling of next digital out event": 4,
      },
      pin: { PA0: [0, 16], PB0: [16, 16], PC0: [32, 16] },
      ...o.enumerations,
    },
    config,
  };
  return JSON.stringify(sortKeys(data));
}

/** The compressed dictionary bytes a build embeds (zlib level 9, starts 78 da). */
export function klipperDictionaryZlib(o: DictionaryOptions): Uint8Array {
  return new Uint8Array(deflateSync(Buffer.from(klipperDictionaryJson(o)), { level: 9 }));
}

export interface KlipperImageOptions extends DictionaryOptions {
  /** Where the image is linked (the bootloader's application start). */
  appStart: number;
  size?: number;
  seed?: number;
  /** Link the reset handler as if for this address instead (a wrong bootloader offset). */
  linkedFor?: number;
  /** Leave the dictionary out (not a Klipper build). */
  noDictionary?: boolean;
}

/** A klipper.bin-shaped image. */
export function klipperImage(o: KlipperImageOptions): Uint8Array {
  const size = o.size ?? 28 * 1024;
  const img = randomBytes(size, o.seed ?? 1);
  const linked = o.linkedFor ?? o.appStart;
  const dv = new DataView(img.buffer);
  dv.setUint32(0, 0x20024000, true); // initial stack pointer: top of RAM
  dv.setUint32(4, (linked + 0x10d) | 1, true); // Reset_Handler (Thumb)
  for (let v = 2; v < 48; v++) dv.setUint32(v * 4, (linked + 0x200 + v * 8) | 1, true);
  if (!o.noDictionary) {
    const dict = klipperDictionaryZlib(o);
    const at = Math.max(0x400, Math.floor(size * 0.6) - dict.length);
    if (at + dict.length > size)
      throw new RangeError(
        `image of ${size} bytes is too small for its ${dict.length}-byte dictionary`,
      );
    img.set(dict, at);
  }
  return img;
}
