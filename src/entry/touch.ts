// The "1200-baud-touch" entry (USB CDC boards: Klipper's USB builds,
// Arduino's SAM/SAMD boards): open the port, raise DTR, switch to 1200 baud,
// drop DTR, close. The firmware sees the 1200-baud line coding with DTR
// falling and reboots into its bootloader (on the Due's programming port the
// chip erases itself). A port that refuses modem-control calls (a pty) still
// gets the baud change.

import { openSerial } from "../transport/serial.js";

/** The line speed that means "enter the bootloader". */
export const TOUCH_BAUD = 1200;
/** The speed the port is opened at before the touch. */
export const TOUCH_OPEN_BAUD = 115200;

export async function touch1200(path: string, procRoot?: string): Promise<void> {
  const port = await openSerial({
    path,
    baudRate: TOUCH_OPEN_BAUD,
    ...(procRoot ? { procRoot } : {}),
  });
  try {
    await port.setLines({ dtr: true });
    await port.setBaud(TOUCH_BAUD);
    await port.setLines({ dtr: false });
  } finally {
    await port.close();
  }
}
