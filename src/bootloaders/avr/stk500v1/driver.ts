// STK500v1 (Optiboot, ATmegaBOOT): the shared Arduino bootloader driver.
import { avrDriver } from "../driver.js";

export const driver = avrDriver("stk500v1");
