// The MSC bootloader (STM32F103/F072 MSCboot): copy the image to its USB drive.
import { fileCopyDriver } from "./driver.js";

export const driver = fileCopyDriver("msc");
