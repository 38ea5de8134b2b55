// Types of harness.mjs (plain JS so `npm run bench` can use it too).

export declare const BOOTLOADERS: string;

export interface AvrPreset {
  /** simavr's part name (also avrdude's -p). */
  mcu: string;
  /** canflash's target row. */
  target: string;
  /** avrdude's -c. */
  programmer: "arduino" | "wiring";
  baud: number;
  /** Where the bootloader starts: the dump covers [0, bootStart). */
  bootStart: number;
  /** The bootloader image: a Debian file, or one built here from Debian's source. */
  boot: () => string;
}

export declare const PRESETS: {
  optiboot328: AvrPreset;
  optiboot168: AvrPreset;
  atmegaboot1280: AvrPreset;
  mega2560: AvrPreset;
};

export interface AvrBoard {
  /** The pty a flasher opens. */
  port: string;
  preset: AvrPreset;
  /** The harness's log (resets, baud checks, the jump into the application). */
  log(): string;
  /** Resolves when the log matches; rejects after `timeoutMs`. */
  waitForLog(re: RegExp, timeoutMs: number): Promise<void>;
  /** Stops the simulation; resolves with the application flash [0, bootStart). */
  stop(): Promise<Buffer>;
}

/** Compiles the harness (once per source version). */
export declare function harnessBinary(): string;
/** Starts a board running its bootloader; `dead` leaves the chip in reset (nothing answers). */
export declare function startBoard(preset: AvrPreset, o?: { dead?: boolean }): Promise<AvrBoard>;
/** The flash a board should hold after `image` was written at 0: the image, then erased bytes. */
export declare function expectedFlash(image: Uint8Array, preset: AvrPreset): Buffer;
/** Intel HEX of `data` at `base`, 16 bytes a record, extended linear records above 64 KiB. */
export declare function toIntelHex(data: Uint8Array, base?: number): string;
/** Writes a file into the harness's temp dir; returns its path. */
export declare function writeTemp(name: string, content: string | Uint8Array): string;
/** Removes the files writeTemp made in this process. */
export declare function removeTempFiles(): void;
