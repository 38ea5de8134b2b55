// Devices as data: every chip/bootloader combination of the seed's
// "Bootloaders" document (targets.md), with what canflash needs to flash it
// — protocol, transport, default baud, application area, page size, how to
// enter the bootloader, image format — checked by a zod schema. `--target`
// looks rows up by id or chip, so users type the board, not tool flags.

import { z } from "zod";
import { findAvrPart } from "../bootloaders/avr/parts.js";
import { CanflashError } from "../util/errors.js";

export const Protocol = z.enum([
  "katapult",
  "stk500v1",
  "stk500v2",
  "halfkay",
  "sam-ba",
  "stm32-usart",
  "dfu",
  "dfuse",
  "hid-bootloader",
  "msc",
  "sdcard",
  "swd",
]);
export type Protocol = z.infer<typeof Protocol>;

export const Transport = z.enum([
  "can",
  "usb-cdc",
  "uart",
  "usb-hid",
  "usb-dfu",
  "usb-msc",
  "sdcard",
  "swd",
]);

export const Entry = z.enum([
  "can-request",
  "1200-baud-touch",
  "serial-request",
  "dtr-rts-reset",
  "double-reset",
  "boot-pins",
  "button",
  "play-button",
  "erase-pin",
  "card-insert",
  "swd",
]);

const hex = z.number().int().nonnegative();

export const TargetSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9-]+$/),
    chip: z.string().min(1),
    /** Klipper's CONFIG_MCU name(s) for this chip, as in the data dictionary. */
    mcu: z.array(z.string()).min(1),
    board: z.string(),
    bootloader: z.string(),
    protocol: Protocol,
    transports: z.array(Transport).min(1),
    defaultBaud: z.number().int().positive().optional(),
    /** Where the application is linked and written. */
    appStart: hex,
    /** End (exclusive) of the application area: bootloader start or flash end. */
    appEnd: hex.optional(),
    /** Programming page / erase unit in bytes. */
    pageSize: z.number().int().positive().optional(),
    /** How long the bootloader listens after a reset before it starts the application. */
    listenWindowMs: z.number().int().positive().optional(),
    entry: z.array(Entry).min(1),
    imageFormat: z.enum(["ihex", "bin", "elf"]),
    usbIds: z.array(z.string().regex(/^[0-9a-f]{4}:[0-9a-f]{4}$/)).default([]),
    /** AVR device signature. */
    signature: z.array(z.number().int().min(0).max(255)).length(3).optional(),
    /** The seed's command for the same job. */
    seedCommand: z.string(),
    notes: z.string().optional(),
  })
  .refine((t) => t.appEnd === undefined || t.appEnd > t.appStart, {
    message: "appEnd must be above appStart",
  });

export type Target = z.infer<typeof TargetSchema>;

/** Protocols this build can flash (the rest are listed with their seed command). */
export const SUPPORTED_PROTOCOLS: ReadonlySet<Protocol> = new Set([
  "katapult",
  "stk500v1",
  "stk500v2",
]);

export function isSupported(t: Target): boolean {
  if (!SUPPORTED_PROTOCOLS.has(t.protocol)) return false;
  // STK500 here means the AVR serial bootloaders; the SAMD21 M0 bootloader only borrows the framing.
  if (t.protocol === "stk500v1" || t.protocol === "stk500v2")
    return findAvrPart(t.chip) !== undefined;
  return true;
}

const RAW: unknown[] = [
  {
    id: "avr-m2560-wiring",
    chip: "atmega2560",
    mcu: ["atmega2560"],
    board: "Arduino Mega 2560, RAMPS",
    bootloader: "Arduino stk500v2 (stk500boot_v2_mega2560, 8 KiB at 0x3E000)",
    protocol: "stk500v2",
    transports: ["uart"],
    defaultBaud: 115200,
    appStart: 0,
    appEnd: 0x3e000,
    pageSize: 256,
    listenWindowMs: 830,
    entry: ["dtr-rts-reset"],
    imageFormat: "ihex",
    signature: [0x1e, 0x98, 0x01],
    seedCommand:
      "avrdude -cwiring -patmega2560 -P/dev/ttyACM0 -b115200 -D -Uflash:w:out/klipper.elf.hex:i",
    notes:
      "the bootloader erases by its own counter: pages written in order from 0; chip erase always reports failure",
  },
  {
    id: "avr-m1280-arduino",
    chip: "atmega1280",
    mcu: ["atmega1280"],
    board: "Arduino Mega (1280)",
    bootloader: "ATmegaBOOT_168_atmega1280 (4 KiB at 0x1F000)",
    protocol: "stk500v1",
    transports: ["uart"],
    defaultBaud: 57600,
    appStart: 0,
    appEnd: 0x1f000,
    pageSize: 256,
    listenWindowMs: 1330,
    entry: ["dtr-rts-reset"],
    imageFormat: "ihex",
    signature: [0x1e, 0x97, 0x03],
    seedCommand:
      "avrdude -carduino -patmega1280 -P/dev/ttyACM0 -b57600 -D -Uflash:w:out/klipper.elf.hex:i",
  },
  {
    id: "avr-m1284p-arduino",
    chip: "atmega1284p",
    mcu: ["atmega1284p"],
    board: "Melzi (Sanguino)",
    bootloader: "Optiboot (Sanguino, 1 KiB at 0x1FC00)",
    protocol: "stk500v1",
    transports: ["uart"],
    defaultBaud: 115200,
    appStart: 0,
    appEnd: 0x1fc00,
    pageSize: 256,
    listenWindowMs: 1400,
    entry: ["dtr-rts-reset"],
    imageFormat: "ihex",
    signature: [0x1e, 0x97, 0x05],
    seedCommand:
      "avrdude -carduino -patmega1284p -P/dev/ttyACM0 -b115200 -D -Uflash:w:out/klipper.elf.hex:i",
  },
  {
    id: "avr-m1284p-arduino-57600",
    chip: "atmega1284p",
    mcu: ["atmega1284p"],
    board: "Melzi with the older 57600-baud bootloader",
    bootloader: "Optiboot, 57600 build",
    protocol: "stk500v1",
    transports: ["uart"],
    defaultBaud: 57600,
    appStart: 0,
    appEnd: 0x1fc00,
    pageSize: 256,
    listenWindowMs: 1400,
    entry: ["dtr-rts-reset"],
    imageFormat: "ihex",
    signature: [0x1e, 0x97, 0x05],
    seedCommand:
      "avrdude -carduino -patmega1284p -P/dev/ttyACM0 -b57600 -D -Uflash:w:out/klipper.elf.hex:i",
  },
  {
    id: "avr-m168-arduino",
    chip: "atmega168",
    mcu: ["atmega168"],
    board: "ATmega168 boards",
    bootloader: "Optiboot (512 B at 0x3E00)",
    protocol: "stk500v1",
    transports: ["uart"],
    defaultBaud: 115200,
    appStart: 0,
    appEnd: 0x3e00,
    pageSize: 128,
    listenWindowMs: 1400,
    entry: ["dtr-rts-reset"],
    imageFormat: "ihex",
    signature: [0x1e, 0x94, 0x06],
    seedCommand:
      "avrdude -carduino -patmega168 -P/dev/ttyACM0 -b115200 -D -Uflash:w:out/klipper.elf.hex:i",
  },
  {
    id: "avr-m328p-optiboot",
    chip: "atmega328p",
    mcu: ["atmega328p"],
    board: "Arduino Uno / Nano (Optiboot)",
    bootloader: "Optiboot (512 B at 0x7E00)",
    protocol: "stk500v1",
    transports: ["uart"],
    defaultBaud: 115200,
    appStart: 0,
    appEnd: 0x7e00,
    pageSize: 128,
    listenWindowMs: 1400,
    entry: ["dtr-rts-reset"],
    imageFormat: "ihex",
    signature: [0x1e, 0x95, 0x0f],
    seedCommand:
      "avrdude -carduino -patmega328p -P/dev/ttyACM0 -b115200 -D -Uflash:w:out/klipper.elf.hex:i",
    notes: "not a seed row; the common Optiboot part, used to test STK500v1",
  },
  {
    id: "teensy-at90usb1286",
    chip: "at90usb1286",
    mcu: ["at90usb1286"],
    board: "Teensy++ 2.0",
    bootloader: "PJRC HalfKay (top 1 KiB)",
    protocol: "halfkay",
    transports: ["usb-hid"],
    appStart: 0,
    appEnd: 0x1fc00,
    pageSize: 256,
    entry: ["button"],
    imageFormat: "ihex",
    usbIds: ["16c0:0478"],
    seedCommand: "teensy_loader_cli --mcu=at90usb1286 out/klipper.elf.hex -v",
  },
  {
    id: "sam3x-bossac",
    chip: "sam3x8e",
    mcu: ["sam3x8e"],
    board: "Arduino Due",
    bootloader: "ROM SAM-BA",
    protocol: "sam-ba",
    transports: ["usb-cdc", "uart"],
    defaultBaud: 921600,
    appStart: 0x80000,
    appEnd: 0x100000,
    pageSize: 256,
    entry: ["1200-baud-touch"],
    imageFormat: "bin",
    usbIds: ["03eb:6124"],
    seedCommand:
      "bossac -U -p /dev/ttyACM0 -a -e -w out/klipper.bin -v -b && bossac -U -p /dev/ttyACM0 -R",
    notes:
      "the programming port's 1200-baud touch erases the flash; -b (boot from flash) is what makes the new image start",
  },
  {
    id: "sam4-bossac",
    chip: "sam4e8e",
    mcu: ["sam4e8e", "sam4s8c"],
    board: "Duet WiFi / Duet Ethernet (also SAM4S)",
    bootloader: "ROM SAM-BA",
    protocol: "sam-ba",
    transports: ["usb-cdc"],
    appStart: 0x400000,
    appEnd: 0x480000,
    pageSize: 512,
    entry: ["erase-pin", "1200-baud-touch"],
    imageFormat: "bin",
    usbIds: ["03eb:6124"],
    seedCommand: "bossac --port=/dev/ttyACM0 -b -U -e -w -v -R out/klipper.bin",
  },
  {
    id: "samc21-swd",
    chip: "samc21g18a",
    mcu: ["samc21g18a"],
    board: "Duet3D 1LC",
    bootloader: "none",
    protocol: "swd",
    transports: ["swd"],
    appStart: 0,
    entry: ["swd"],
    imageFormat: "elf",
    seedCommand:
      "openocd: at91samd chip-erase; at91samd bootloader 0; program out/klipper.elf verify",
  },
  {
    id: "samd21-zero-bossac",
    chip: "samd21g18a",
    mcu: ["samd21g18a"],
    board: "Arduino Zero",
    bootloader: "Arduino Zero SAM-BA (8 KiB)",
    protocol: "sam-ba",
    transports: ["usb-cdc"],
    appStart: 0x2000,
    appEnd: 0x40000,
    pageSize: 64,
    entry: ["double-reset", "1200-baud-touch"],
    imageFormat: "bin",
    usbIds: ["2341:004d"],
    seedCommand: "bossac -U -p /dev/ttyACM0 --offset=0x2000 -w out/klipper.bin -v -b -R",
  },
  {
    id: "samd21-m0-stk500v2",
    chip: "samd21g18a",
    mcu: ["samd21g18a"],
    board: "Arduino M0",
    bootloader: "Arduino M0 bootloader (16 KiB)",
    protocol: "stk500v2",
    transports: ["usb-cdc"],
    defaultBaud: 115200,
    appStart: 0x4000,
    appEnd: 0x40000,
    pageSize: 64,
    entry: ["button"],
    imageFormat: "ihex",
    seedCommand:
      "avrdude -c stk500v2 -p atmega2560 -P /dev/ttyACM0 -u -Uflash:w:out/klipper.elf.hex:i",
  },
  {
    id: "samd51-uf2-bossac",
    chip: "samd51j19a",
    mcu: ["samd51j19a", "samd51g19a", "samd51p20a"],
    board: "Adafruit Metro M4 and similar",
    bootloader: "Adafruit uf2-samdx1 (16 KiB)",
    protocol: "sam-ba",
    transports: ["usb-cdc", "usb-msc"],
    appStart: 0x4000,
    appEnd: 0x80000,
    pageSize: 512,
    entry: ["double-reset", "1200-baud-touch"],
    imageFormat: "bin",
    usbIds: ["239a:0000"],
    seedCommand: "bossac -U -p /dev/ttyACM0 --offset=0x4000 -w out/klipper.bin -v -b -R",
  },
  {
    id: "stm32f103-rom-serial",
    chip: "stm32f103",
    mcu: ["stm32f103xe", "stm32f103x6"],
    board: "Blue Pill, boards with BOOT0 access",
    bootloader: "ROM USART bootloader",
    protocol: "stm32-usart",
    transports: ["uart"],
    defaultBaud: 57600,
    appStart: 0x08000000,
    appEnd: 0x08010000,
    pageSize: 1024,
    entry: ["boot-pins"],
    imageFormat: "bin",
    seedCommand: "stm32flash -w out/klipper.bin -v -g 0 /dev/ttyAMA0",
  },
  {
    id: "stm32f103-stm32duino-dfu",
    chip: "stm32f103",
    mcu: ["stm32f103xe"],
    board: "STM32F103 with stm32duino generic_boot20",
    bootloader: "stm32duino (Maple) DFU",
    protocol: "dfu",
    transports: ["usb-dfu"],
    appStart: 0x08002000,
    appEnd: 0x08010000,
    pageSize: 1024,
    entry: ["button", "1200-baud-touch"],
    imageFormat: "bin",
    usbIds: ["1eaf:0003"],
    seedCommand: "dfu-util -d 1eaf:0003 -a 2 -R -D out/klipper.bin",
  },
  {
    id: "stm32f103-hid",
    chip: "stm32f103",
    mcu: ["stm32f103xe"],
    board: "Blue Pill, SKR Mini E3 V1.2",
    bootloader: "Serasidis HID (2 KiB) / Arksine fork",
    protocol: "hid-bootloader",
    transports: ["usb-hid"],
    appStart: 0x08000800,
    appEnd: 0x08010000,
    pageSize: 1024,
    entry: ["boot-pins", "1200-baud-touch"],
    imageFormat: "bin",
    usbIds: ["1209:beba"],
    seedCommand: "hid-flash out/klipper.bin",
  },
  {
    id: "stm32-msc",
    chip: "stm32f103",
    mcu: ["stm32f103xe", "stm32f072xb"],
    board: "STM32F103 / STM32F072 with the MSC bootloader",
    bootloader: "MSC bootloader (8 or 16 KiB)",
    protocol: "msc",
    transports: ["usb-msc"],
    appStart: 0x08002000,
    entry: ["double-reset"],
    imageFormat: "bin",
    usbIds: ["1209:db42"],
    seedCommand: "copy klipper.bin to the drive",
    notes: "16 KiB builds start the application at 0x08004000",
  },
  {
    id: "stm32f072-rom-dfu",
    chip: "stm32f072",
    mcu: ["stm32f072xb", "stm32f042x6"],
    board: "STM32F072 / STM32F042",
    bootloader: "ROM DfuSe",
    protocol: "dfuse",
    transports: ["usb-dfu"],
    appStart: 0x08000000,
    appEnd: 0x08020000,
    pageSize: 2048,
    entry: ["boot-pins", "1200-baud-touch"],
    imageFormat: "bin",
    usbIds: ["0483:df11"],
    seedCommand: "dfu-util -d 0483:df11 -a 0 -R -D MSCboot-STM32F072.bin -s0x08000000:leave",
  },
  {
    id: "stm32f0x2-f103-canboot",
    chip: "stm32f103",
    mcu: ["stm32f103xe", "stm32f042x6", "stm32f072xb"],
    board: "STM32F103 / F042 / F072 CAN boards",
    bootloader: "CanBoot / Katapult (8 KiB)",
    protocol: "katapult",
    transports: ["can", "usb-cdc", "uart"],
    defaultBaud: 250000,
    appStart: 0x08002000,
    pageSize: 1024,
    entry: ["can-request", "1200-baud-touch", "serial-request", "double-reset"],
    imageFormat: "bin",
    usbIds: ["1d50:6177"],
    seedCommand: "python3 flash_can.py -i can0 -f ~/klipper/out/klipper.bin -u aabbccddeeff",
  },
  {
    id: "stm32f4-rom-serial",
    chip: "stm32f407",
    mcu: ["stm32f407xx"],
    board: "SKR Pro 1.1 (no DFU)",
    bootloader: "ROM USART bootloader",
    protocol: "stm32-usart",
    transports: ["uart"],
    defaultBaud: 57600,
    appStart: 0x08000000,
    entry: ["boot-pins"],
    imageFormat: "bin",
    seedCommand: "stm32flash -w hid_bootloader_SKR_PRO.bin -v -g 0 /dev/ttyAMA0",
  },
  {
    id: "stm32f4-rom-dfu",
    chip: "stm32f407",
    mcu: ["stm32f407xx", "stm32f446xx", "stm32f405xx"],
    board: "STM32F4 boards with working USB DFU",
    bootloader: "ROM DfuSe",
    protocol: "dfuse",
    transports: ["usb-dfu"],
    appStart: 0x08000000,
    entry: ["boot-pins", "1200-baud-touch"],
    imageFormat: "bin",
    usbIds: ["0483:df11"],
    seedCommand: "dfu-util -d 0483:df11 -a 0 -R -s 0x08000000:leave -D out/klipper.bin",
  },
  {
    id: "stm32f4-hid",
    chip: "stm32f407",
    mcu: ["stm32f407xx", "stm32f405xx"],
    board: "STM32F405/407 (SKR Pro 1.1 build)",
    bootloader: "Serasidis/Arksine HID (16 KiB)",
    protocol: "hid-bootloader",
    transports: ["usb-hid"],
    appStart: 0x08004000,
    entry: ["boot-pins", "1200-baud-touch"],
    imageFormat: "bin",
    usbIds: ["1209:beba"],
    seedCommand: "hid-flash out/klipper.bin",
  },
  {
    id: "lpc176x-sdcard",
    chip: "lpc1768",
    mcu: ["lpc1768", "lpc1769"],
    board: "Smoothieboard, BTT SKR 1.x and similar",
    bootloader: "LPC17xx-DFU-Bootloader / vendor SD bootloader (16 KiB)",
    protocol: "sdcard",
    transports: ["sdcard"],
    appStart: 0x4000,
    appEnd: 0x80000,
    entry: ["card-insert"],
    imageFormat: "bin",
    seedCommand: "copy klipper.bin as firmware.bin to the SD card and reboot",
  },
  {
    id: "lpc176x-dfu",
    chip: "lpc1768",
    mcu: ["lpc1768", "lpc1769"],
    board: "Smoothieboard",
    bootloader: "LPC17xx-DFU-Bootloader (16 KiB)",
    protocol: "dfu",
    transports: ["usb-dfu"],
    appStart: 0x4000,
    appEnd: 0x80000,
    entry: ["play-button", "1200-baud-touch"],
    imageFormat: "bin",
    usbIds: ["1d50:6015"],
    seedCommand: "make flash FLASH_DEVICE=1d50:6015",
  },
  {
    id: "openocd-swd",
    chip: "any ARM",
    mcu: ["*"],
    board: "any ARM board (bootloader installs, recovery)",
    bootloader: "none",
    protocol: "swd",
    transports: ["swd"],
    appStart: 0,
    entry: ["swd"],
    imageFormat: "elf",
    seedCommand: "openocd: program file verify [addr]",
  },
];

export class TargetTableError extends CanflashError {
  constructor(message: string) {
    super("TARGET_TABLE", message);
  }
}

/** Parses and checks the table; throws naming the row and field on a bad entry. */
export function loadTargets(rows: readonly unknown[] = RAW): Target[] {
  const out: Target[] = [];
  const ids = new Set<string>();
  rows.forEach((row, i) => {
    const r = TargetSchema.safeParse(row);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      const id = (row as { id?: string }).id ?? `#${i}`;
      throw new TargetTableError(
        `target ${id}: ${issue.path.join(".") || "row"}: ${issue.message}`,
      );
    }
    if (ids.has(r.data.id)) throw new TargetTableError(`target ${r.data.id} appears twice`);
    ids.add(r.data.id);
    out.push(r.data);
  });
  return out;
}

let cached: Target[] | undefined;
export function targets(): Target[] {
  cached ??= loadTargets();
  return cached;
}

export class UnknownTargetError extends CanflashError {
  constructor(
    readonly query: string,
    readonly candidates: readonly string[],
  ) {
    super(
      "UNKNOWN_TARGET",
      candidates.length > 1
        ? `"${query}" matches several targets: ${candidates.join(", ")}`
        : `no target "${query}"`,
    );
  }
}

/** A target by id, or by chip when exactly one row has that chip. */
export function findTarget(query: string): Target {
  const q = query.toLowerCase();
  const all = targets();
  const byId = all.find((t) => t.id === q);
  if (byId) return byId;
  const byChip = all.filter((t) => t.chip === q || t.mcu.includes(q));
  if (byChip.length === 1) return byChip[0]!;
  throw new UnknownTargetError(
    query,
    byChip.map((t) => t.id),
  );
}
