// UF2 bootloader drives (RP2040 ROM, SAMD51 uf2-samdx1): copy a UF2 of the image.
import { fileCopyDriver } from "./driver.js";

export const driver = fileCopyDriver("uf2");
