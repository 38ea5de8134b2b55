// STK500v2 (the Arduino Mega 2560 bootloader): the shared Arduino bootloader driver.
import { avrDriver } from "../driver.js";

export const driver = avrDriver("stk500v2");
