// What a Klipper build with SPI support declares in its data dictionary
// (src/spicmds.c, src/spi_software.c, src/basecmd.c): the SPI commands and
// response, and the enumerations the host resolves names with — spi_bus
// names per MCU family and pin names as runs ("PA0": [0, 16] is PA0…PA15).
// For klipperImage()/klipperDictionaryZlib() in simulations and tests.

import { klipperImage, type KlipperImageOptions } from "../klipper-image.js";

export const SPI_COMMANDS: Record<string, number> = {
  "config_spi oid=%c pin=%u cs_active_high=%c": 20,
  "config_spi_without_cs oid=%c": 21,
  "spi_set_bus oid=%c spi_bus=%u mode=%u rate=%u": 22,
  "spi_transfer oid=%c data=%*s": 23,
  "spi_send oid=%c data=%*s": 24,
  "spi_set_sw_bus oid=%c miso_pin=%u mosi_pin=%u sclk_pin=%u mode=%u pulse_ticks=%u": 25,
};

/** Builds from before spi_set_sw_bus (2025) had the rate-taking command instead. */
export const LEGACY_SOFTWARE_SPI = {
  "spi_set_software_bus oid=%c miso_pin=%u mosi_pin=%u sclk_pin=%u mode=%u rate=%u": 25,
};

export const SPI_RESPONSES: Record<string, number> = {
  "spi_transfer_response oid=%c response=%*s": 90,
};

const STM32_PINS = Object.fromEntries(
  "ABCDEFGHI".split("").map((port, i) => [`P${port}0`, [i * 16, 16]]),
);
const LPC_PINS = Object.fromEntries([0, 1, 2, 3, 4].map((p) => [`P${p}.0`, [p * 32, 32]]));

/** spi_bus and pin enumerations of an MCU's build. */
export function spiEnumerations(mcu: string): Record<string, unknown> {
  if (mcu.startsWith("lpc176")) return { spi_bus: { ssp0: 0, ssp1: 1 }, pin: LPC_PINS };
  return {
    spi_bus: { spi2: 0, spi1: 1, spi1a: 2, spi2a: 3, spi3: 4, spi3a: 5, spi4: 6 },
    pin: STM32_PINS,
  };
}

/** A klipper.bin of an SPI-capable build (what a board row's image looks like). */
export function spiKlipperImage(
  o: Omit<KlipperImageOptions, "commands" | "responses" | "enumerations"> & {
    legacySoftwareSpi?: boolean;
    /** Build without the SPI commands. */
    noSpi?: boolean;
  },
): Uint8Array {
  const { legacySoftwareSpi, noSpi, ...rest } = o;
  const commands = noSpi
    ? {}
    : legacySoftwareSpi
      ? {
          ...Object.fromEntries(
            Object.entries(SPI_COMMANDS).filter(([k]) => !k.startsWith("spi_set_sw_bus")),
          ),
          ...LEGACY_SOFTWARE_SPI,
        }
      : SPI_COMMANDS;
  return klipperImage({
    ...rest,
    commands,
    responses: noSpi ? {} : SPI_RESPONSES,
    enumerations: spiEnumerations(o.mcu),
  });
}
