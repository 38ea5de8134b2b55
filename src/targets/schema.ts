// The schema of the device table (targets.json): what a chip is, what a
// chip/bootloader row says, and which applications canflash recognises by
// their USB id. Plain zod, no I/O; src/targets/index.ts loads and
// cross-checks the data.

import * as z from "zod";

/** Bootloader protocol families of the seed document; the driver table says which this build flashes. */
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
  "picoboot",
  "msc",
  "uf2",
  "sdcard",
  "sdcard-spi",
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
  "usb-picoboot",
  "sdcard",
  "swd",
]);
export type Transport = z.infer<typeof Transport>;

/** How a board gets from its application into the bootloader. */
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
  "bootsel",
  "swd",
  "klipper-reset",
]);
export type Entry = z.infer<typeof Entry>;

/** An address or size: an integer, or a hex string ("0x08002000"). */
const address = z.union([
  z.number().int().nonnegative(),
  z
    .string()
    .regex(/^0x[0-9a-f]+$/i, 'a hex string like "0x8000"')
    .transform((s) => Number.parseInt(s, 16)),
]);
const byte = address.pipe(z.number().max(255));
export const UsbId = z.string().regex(/^[0-9a-f]{4}:[0-9a-f]{4}$/, 'a USB id like "1d50:6177"');

export const ChipSchema = z.strictObject({
  family: z.enum(["avr", "arm"]),
  /** Address of the first flash byte. */
  flashBase: address,
  flashSize: address,
  /** Programming page in bytes. */
  pageSize: z.number().int().positive(),
  eepromSize: z.number().int().nonnegative().optional(),
  /** AVR device signature. */
  signature: z.array(byte).length(3).optional(),
  /** STK500 SET_DEVICE device code (ignored by the Arduino bootloaders). */
  stk500DevCode: byte.optional(),
});
export type Chip = z.infer<typeof ChipSchema> & { name: string };

export const ApplicationSchema = z.strictObject({
  name: z.string(),
  usbIds: z.array(UsbId).min(1),
  /** The USB manufacturer string the application reports. */
  manufacturer: z.string().optional(),
});
export type Application = z.infer<typeof ApplicationSchema>;

export const TargetRowSchema = z
  .strictObject({
    id: z.string().regex(/^[a-z0-9-]+$/),
    /** A chip of `chips` (its facts then come from there), or a free name ("any ARM"). */
    chip: z.string().min(1),
    /** Klipper's CONFIG_MCU name(s) for this chip, as in the data dictionary; "*" = any. */
    mcu: z.array(z.string()).min(1),
    board: z.string(),
    bootloader: z.string(),
    protocol: Protocol,
    transports: z.array(Transport).min(1),
    defaultBaud: z.number().int().positive().optional(),
    /** Where the application is linked and written (absent: the bootloader reports it). */
    appStart: address.optional(),
    /** End (exclusive) of the application area: bootloader start or flash end. */
    appEnd: address.optional(),
    /** Programming page / erase unit in bytes, for chips not in `chips`. */
    pageSize: z.number().int().positive().optional(),
    /** How long the bootloader listens after a reset before it starts the application. */
    listenWindowMs: z.number().int().positive().optional(),
    /** Ways into the bootloader, in the order canflash tries the ones that fit the link. */
    entry: z.array(Entry).min(1),
    imageFormat: z.enum(["ihex", "bin", "elf"]),
    /** USB ids the bootloader enumerates with. */
    usbIds: z.array(UsbId).default([]),
    /** File-copy rows: volume labels the bootloader's drive has (any one; absent: not checked). */
    volumeLabels: z.array(z.string().min(1).max(11)).optional(),
    /** UF2 drives: what INFO_UF2.TXT's Board-ID starts with ("RPI-RP2", "SAMD51"). */
    uf2BoardId: z.string().min(1).optional(),
    /** File-copy rows: the name the bootloader looks for (default firmware.bin; UF2 drives any *.uf2). */
    firmwareName: z
      .string()
      .regex(/^[^/\\]+$/)
      .optional(),
    /** SD-card rows: what the bootloader renames the file to once flashed (default FIRMWARE.CUR). */
    currentName: z
      .string()
      .regex(/^[^/\\]+$/)
      .optional(),
    /**
     * Klipper's flash-sdcard rows (scripts/spi_flash/board_defs.py): the SD
     * slot on the MCU's SPI, written through the running Klipper.
     */
    sdSpi: z
      .strictObject({
        /** The board_defs.py name. */
        board: z.string().min(1),
        /** Klipper's other names for the same board (case-insensitive; accepted by --target). */
        aliases: z.array(z.string().min(1)).default([]),
        /** Hardware SPI bus as the build's spi_bus enumeration names it. */
        bus: z.string().min(1).optional(),
        /** Software SPI pins: MISO, MOSI, SCK. */
        softwarePins: z.tuple([z.string(), z.string(), z.string()]).optional(),
        csPin: z.string().min(1),
        /** The bootloader leaves nothing to check by (board_defs' skip_verify). */
        skipVerify: z.boolean().optional(),
        /** requires_unique_fw_name: a date-time prefix on the file name. */
        uniqueFirmwareName: z.boolean().optional(),
        /** A vendor conversion script the image needs (board_defs' conversion_script). */
        conversionScript: z.string().min(1).optional(),
      })
      .refine((s) => (s.bus === undefined) !== (s.softwarePins === undefined), {
        message: "give either bus or softwarePins",
      })
      .optional(),
    /** The seed's command for the same job. */
    seedCommand: z.string().min(1),
    notes: z.string().optional(),
  })
  .refine((t) => t.appEnd === undefined || t.appEnd > (t.appStart ?? 0), {
    message: "appEnd must be above appStart",
    path: ["appEnd"],
  });

export type TargetRow = z.infer<typeof TargetRowSchema>;

/** A row as the code sees it: with its chip's facts (page size, signature) filled in. */
export type Target = TargetRow & {
  /** The chip's facts, when `chip` names one of `chips`. */
  chipInfo?: Chip;
  /** AVR signature (from the chip). */
  signature?: readonly number[];
};

export const TableSchema = z.strictObject({
  $comment: z.string().optional(),
  applications: z.record(z.string(), ApplicationSchema),
  chips: z.record(z.string(), ChipSchema),
  targets: z.array(z.unknown()),
});

/** mcus.json: the flash of each Klipper MCU name. */
export const McuTableSchema = z.strictObject({
  $comment: z.string().optional(),
  mcus: z.record(
    z.string().regex(/^[a-z0-9]+$/),
    z.strictObject({
      flashBase: address,
      flashSize: address,
      /** UF2 family ids a UF2 for this MCU carries. */
      uf2Families: z.array(address).optional(),
    }),
  ),
});
