// SD-card bootloaders (LPC176x, BTT, FYSETC): write firmware.bin to the card in this computer.
import { fileCopyDriver } from "./driver.js";

export const driver = fileCopyDriver("sdcard");
