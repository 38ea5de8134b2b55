// Firmware image loaders: one model (FirmwareImage) for .bin, Intel HEX, ELF and UF2.
export * from "./errors.js";
export * from "./model.js";
export { parseBin, type BinOptions } from "./bin.js";
export { parseIntelHex } from "./ihex.js";
export { parseElf, hasElfMagic } from "./elf.js";
export {
  parseUf2,
  hasUf2Magic,
  UF2_BLOCK_SIZE,
  UF2_FLAG_FAMILY_ID,
  UF2_FLAG_FILE_CONTAINER,
  UF2_FLAG_NOT_MAIN_FLASH,
  UF2_MAGIC_END,
  UF2_MAGIC_START0,
  UF2_MAGIC_START1,
  UF2_MAX_PAYLOAD,
} from "./uf2.js";
export {
  detectImageFormat,
  formatFromExtension,
  formatName,
  rejectNonFirmware,
  sniffImageFormat,
} from "./detect.js";
export { parseImage, loadImage, type ImageLoadOptions } from "./load.js";
