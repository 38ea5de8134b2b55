/*
 * A tiny libusb-1.0 client of the project's own for the stand-in's
 * asynchronous half: opens the first device, claims interface 0, submits a
 * bulk OUT with a CMSIS-DAP DAP_Info(packet size) command and a bulk IN,
 * runs the event loop until both completed, prints the IN bytes in hex.
 * Built in the test with gcc against Debian's libusb-1.0-0-dev; run with the
 * stand-in preloaded.
 */
#include <libusb.h>
#include <stdio.h>

static void done(struct libusb_transfer *t) { *(int *)t->user_data = 1; }

int main(void)
{
	libusb_context *ctx;
	libusb_device **list;
	libusb_device_handle *h;
	unsigned char cmd[2] = { 0x00, 0xff }, in[64];
	int out_done = 0, in_done = 0;
	if (libusb_init(&ctx) || libusb_get_device_list(ctx, &list) < 1 || libusb_open(list[0], &h))
		return 2;
	libusb_free_device_list(list, 1);
	if (libusb_claim_interface(h, 0))
		return 3;
	struct libusb_transfer *o = libusb_alloc_transfer(0), *i = libusb_alloc_transfer(0);
	libusb_fill_bulk_transfer(o, h, 0x01, cmd, sizeof(cmd), done, &out_done, 1000);
	libusb_fill_bulk_transfer(i, h, 0x81, in, sizeof(in), done, &in_done, 1000);
	if (libusb_submit_transfer(o) || libusb_submit_transfer(i))
		return 4;
	while (!out_done || !in_done)
		if (libusb_handle_events_completed(ctx, &in_done))
			return 5;
	if (o->status != LIBUSB_TRANSFER_COMPLETED || i->status != LIBUSB_TRANSFER_COMPLETED)
		return 6;
	for (int n = 0; n < i->actual_length; n++)
		printf("%02x", in[n]);
	printf("\n");
	libusb_free_transfer(o);
	libusb_free_transfer(i);
	libusb_close(h);
	libusb_exit(ctx);
	return 0;
}
