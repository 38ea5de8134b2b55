/*
 * canflash's stand-in libusb-1.0 (LD_PRELOAD): the libusb functions the
 * real host tools import (dfu-util 0.11's 22, plus the synchronous transfer
 * and string helpers others use), each forwarded to a USB device model over
 * a Unix socket in canflash's socket format (src/usb/wire.ts; one socket
 * path per device, colon-separated in CANFLASH_USB_SOCKETS; a refused
 * connection is an unplugged device). Descriptors are not stored here: they
 * are read from the model with GET_DESCRIPTOR and parsed into libusb's
 * structures, class-specific descriptors going to `extra` as libusb does.
 * The project's own code, built in the test setup against Debian's
 * libusb-1.0-0-dev headers (only the structure layouts come from there).
 */
#include <errno.h>
#include <libusb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_DEVICES 16

struct libusb_context { int unused; };
struct libusb_device {
	int refs;
	int index;
	char path[108];
	struct libusb_device_descriptor desc;
};
struct libusb_device_handle {
	libusb_device *dev;
	int fd;
};

static struct libusb_context default_ctx;
static char socket_paths[MAX_DEVICES][108];
static int socket_count;

static int connect_path(const char *path)
{
	struct sockaddr_un a;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	strncpy(a.sun_path, path, sizeof(a.sun_path) - 1);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int write_all(int fd, const unsigned char *b, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* 0 ok, LIBUSB_ERROR_TIMEOUT, LIBUSB_ERROR_NO_DEVICE */
static int read_all(int fd, unsigned char *b, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, b, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return LIBUSB_ERROR_TIMEOUT;
		if (r <= 0)
			return LIBUSB_ERROR_NO_DEVICE;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

static void put16(unsigned char *b, unsigned v) { b[0] = v & 0xff; b[1] = (v >> 8) & 0xff; }
static void put32(unsigned char *b, uint32_t v) { put16(b, v & 0xffff); put16(b + 2, v >> 16); }

/*
 * One request on `*fd`: the 13-byte header, the OUT payload, then the
 * status and, for IN, that many bytes. A timeout or a dropped connection
 * closes the socket (the next call is NO_DEVICE).
 */
static int exchange(int *fd, const unsigned char head[13], const unsigned char *out, int out_len,
		    unsigned char *in, int in_max, unsigned timeout_ms)
{
	unsigned char st[4];
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	int32_t status;
	int rc;
	if (*fd < 0)
		return LIBUSB_ERROR_NO_DEVICE;
	setsockopt(*fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (write_all(*fd, head, 13) < 0 || (out_len > 0 && write_all(*fd, out, (size_t)out_len) < 0)) {
		rc = LIBUSB_ERROR_NO_DEVICE;
		goto dead;
	}
	rc = read_all(*fd, st, 4);
	if (rc < 0)
		goto dead;
	status = (int32_t)(st[0] | st[1] << 8 | st[2] << 16 | (uint32_t)st[3] << 24);
	if (status > 0 && in) {
		unsigned char *tmp = status > in_max ? malloc((size_t)status) : in;
		rc = read_all(*fd, tmp, (size_t)status);
		if (tmp != in) {
			if (rc == 0)
				memcpy(in, tmp, (size_t)in_max);
			free(tmp);
			if (rc == 0)
				return LIBUSB_ERROR_OVERFLOW;
		}
		if (rc < 0)
			goto dead;
	}
	return status;
dead:
	close(*fd);
	*fd = -1;
	return rc;
}

static int control(int *fd, uint8_t rt, uint8_t req, uint16_t val, uint16_t idx, unsigned char *data,
		   uint16_t len, unsigned timeout)
{
	unsigned char h[13] = { 'C', rt, req };
	int in = (rt & 0x80) != 0;
	put16(h + 3, val);
	put16(h + 5, idx);
	put16(h + 7, len);
	put32(h + 9, in ? 0 : len);
	return exchange(fd, h, in ? NULL : data, in ? 0 : len, in ? data : NULL, len, timeout);
}

/* Standard-request deadline for descriptors, ms. */
#define DESCRIPTOR_TIMEOUT_MS 1000

int LIBUSB_CALL libusb_init(libusb_context **ctx)
{
	const char *env = getenv("CANFLASH_USB_SOCKETS");
	socket_count = 0;
	while (env && *env && socket_count < MAX_DEVICES) {
		const char *end = strchr(env, ':');
		size_t n = end ? (size_t)(end - env) : strlen(env);
		if (n > 0 && n < sizeof(socket_paths[0])) {
			memcpy(socket_paths[socket_count], env, n);
			socket_paths[socket_count++][n] = 0;
		}
		env = end ? end + 1 : NULL;
	}
	if (ctx)
		*ctx = &default_ctx;
	return 0;
}

void LIBUSB_CALL libusb_exit(libusb_context *ctx) { (void)ctx; }

int LIBUSB_CALL libusb_set_option(libusb_context *ctx, enum libusb_option option, ...)
{
	(void)ctx;
	(void)option;
	return 0;
}

const struct libusb_version *LIBUSB_CALL libusb_get_version(void)
{
	static const struct libusb_version v = { 1, 0, 26, 0, "", "canflash stand-in" };
	return &v;
}

const char *LIBUSB_CALL libusb_error_name(int code)
{
	switch (code) {
	case LIBUSB_SUCCESS: return "LIBUSB_SUCCESS";
	case LIBUSB_ERROR_IO: return "LIBUSB_ERROR_IO";
	case LIBUSB_ERROR_INVALID_PARAM: return "LIBUSB_ERROR_INVALID_PARAM";
	case LIBUSB_ERROR_ACCESS: return "LIBUSB_ERROR_ACCESS";
	case LIBUSB_ERROR_NO_DEVICE: return "LIBUSB_ERROR_NO_DEVICE";
	case LIBUSB_ERROR_NOT_FOUND: return "LIBUSB_ERROR_NOT_FOUND";
	case LIBUSB_ERROR_BUSY: return "LIBUSB_ERROR_BUSY";
	case LIBUSB_ERROR_TIMEOUT: return "LIBUSB_ERROR_TIMEOUT";
	case LIBUSB_ERROR_OVERFLOW: return "LIBUSB_ERROR_OVERFLOW";
	case LIBUSB_ERROR_PIPE: return "LIBUSB_ERROR_PIPE";
	default: return "LIBUSB_ERROR_OTHER";
	}
}

const char *LIBUSB_CALL libusb_strerror(int code) { return libusb_error_name(code); }

ssize_t LIBUSB_CALL libusb_get_device_list(libusb_context *ctx, libusb_device ***list)
{
	libusb_device **out = calloc(MAX_DEVICES + 1, sizeof(*out));
	int n = 0;
	(void)ctx;
	for (int i = 0; i < socket_count; i++) {
		unsigned char d[18];
		int fd = connect_path(socket_paths[i]);
		if (fd < 0)
			continue;
		int r = control(&fd, 0x80, LIBUSB_REQUEST_GET_DESCRIPTOR, LIBUSB_DT_DEVICE << 8, 0, d, 18,
				DESCRIPTOR_TIMEOUT_MS);
		if (fd >= 0)
			close(fd);
		if (r < 18)
			continue;
		libusb_device *dev = calloc(1, sizeof(*dev));
		dev->refs = 1;
		dev->index = i;
		strcpy(dev->path, socket_paths[i]);
		memcpy(&dev->desc, d, 18);
		dev->desc.bcdUSB = (uint16_t)(d[2] | d[3] << 8);
		dev->desc.idVendor = (uint16_t)(d[8] | d[9] << 8);
		dev->desc.idProduct = (uint16_t)(d[10] | d[11] << 8);
		dev->desc.bcdDevice = (uint16_t)(d[12] | d[13] << 8);
		out[n++] = dev;
	}
	*list = out;
	return n;
}

libusb_device *LIBUSB_CALL libusb_ref_device(libusb_device *dev)
{
	dev->refs++;
	return dev;
}

void LIBUSB_CALL libusb_unref_device(libusb_device *dev)
{
	if (dev && --dev->refs == 0)
		free(dev);
}

void LIBUSB_CALL libusb_free_device_list(libusb_device **list, int unref)
{
	if (!list)
		return;
	if (unref)
		for (libusb_device **p = list; *p; p++)
			libusb_unref_device(*p);
	free(list);
}

int LIBUSB_CALL libusb_get_device_descriptor(libusb_device *dev, struct libusb_device_descriptor *desc)
{
	*desc = dev->desc;
	return 0;
}

/* Bus 1, port = the device's place in CANFLASH_USB_SOCKETS (canflash's socket backend says "1-<n>"). */
uint8_t LIBUSB_CALL libusb_get_bus_number(libusb_device *dev) { (void)dev; return 1; }
uint8_t LIBUSB_CALL libusb_get_device_address(libusb_device *dev) { return (uint8_t)(dev->index + 1); }
uint8_t LIBUSB_CALL libusb_get_port_number(libusb_device *dev) { return (uint8_t)(dev->index + 1); }

int LIBUSB_CALL libusb_get_port_numbers(libusb_device *dev, uint8_t *ports, int len)
{
	if (len < 1)
		return LIBUSB_ERROR_OVERFLOW;
	ports[0] = (uint8_t)(dev->index + 1);
	return 1;
}

/* Parses a configuration descriptor as libusb does (class-specific descriptors into `extra`). */
static int parse_config(const unsigned char *b, int total, struct libusb_config_descriptor **out)
{
	struct libusb_config_descriptor *c = calloc(1, sizeof(*c));
	struct libusb_interface *ifs;
	int o;
	memcpy(c, b, 9 > total ? (size_t)total : 9);
	c->wTotalLength = (uint16_t)(b[2] | b[3] << 8);
	ifs = calloc(c->bNumInterfaces ? c->bNumInterfaces : 1, sizeof(*ifs));
	c->interface = ifs;
	struct libusb_interface_descriptor *alt = NULL;
	struct libusb_endpoint_descriptor *ep = NULL;
	unsigned char **extra = (unsigned char **)&c->extra;
	int *extra_len = &c->extra_length;
	for (o = b[0]; o + 2 <= total;) {
		int len = b[o], type = b[o + 1];
		if (len < 2 || o + len > total)
			break;
		if (type == LIBUSB_DT_INTERFACE && len >= 9) {
			int n = b[o + 2];
			if (n >= c->bNumInterfaces)
				break;
			struct libusb_interface *i = &ifs[n];
			i->altsetting = realloc((void *)i->altsetting,
						(size_t)(i->num_altsetting + 1) * sizeof(*alt));
			alt = (struct libusb_interface_descriptor *)&i->altsetting[i->num_altsetting++];
			memset(alt, 0, sizeof(*alt));
			memcpy(alt, b + o, 9);
			ep = NULL;
			extra = (unsigned char **)&alt->extra;
			extra_len = &alt->extra_length;
		} else if (type == LIBUSB_DT_ENDPOINT && len >= 7 && alt) {
			alt->endpoint = realloc((void *)alt->endpoint,
						(size_t)(alt->bNumEndpoints + 1) * sizeof(*ep));
			/* bNumEndpoints counts what was parsed so far; the descriptor's own value is restored below */
			ep = (struct libusb_endpoint_descriptor *)&alt->endpoint[alt->bNumEndpoints++];
			memset(ep, 0, sizeof(*ep));
			ep->bLength = b[o];
			ep->bDescriptorType = b[o + 1];
			ep->bEndpointAddress = b[o + 2];
			ep->bmAttributes = b[o + 3];
			ep->wMaxPacketSize = (uint16_t)(b[o + 4] | b[o + 5] << 8);
			ep->bInterval = b[o + 6];
			extra = (unsigned char **)&ep->extra;
			extra_len = &ep->extra_length;
		} else {
			*extra = realloc(*extra, (size_t)(*extra_len + len));
			memcpy(*extra + *extra_len, b + o, (size_t)len);
			*extra_len += len;
		}
		o += len;
		if (type == LIBUSB_DT_INTERFACE && alt)
			alt->bNumEndpoints = 0;
	}
	*out = c;
	return 0;
}

int LIBUSB_CALL libusb_get_config_descriptor(libusb_device *dev, uint8_t index,
					     struct libusb_config_descriptor **config)
{
	unsigned char head[9], *full;
	int fd = connect_path(dev->path), r, total;
	if (fd < 0)
		return LIBUSB_ERROR_NO_DEVICE;
	r = control(&fd, 0x80, LIBUSB_REQUEST_GET_DESCRIPTOR, (LIBUSB_DT_CONFIG << 8) | index, 0, head, 9,
		    DESCRIPTOR_TIMEOUT_MS);
	if (r < 9) {
		if (fd >= 0)
			close(fd);
		return r < 0 ? r : LIBUSB_ERROR_IO;
	}
	total = head[2] | head[3] << 8;
	full = malloc((size_t)total);
	r = control(&fd, 0x80, LIBUSB_REQUEST_GET_DESCRIPTOR, (LIBUSB_DT_CONFIG << 8) | index, 0, full,
		    (uint16_t)total, DESCRIPTOR_TIMEOUT_MS);
	if (fd >= 0)
		close(fd);
	if (r < 9) {
		free(full);
		return r < 0 ? r : LIBUSB_ERROR_IO;
	}
	parse_config(full, r, config);
	free(full);
	return 0;
}

int LIBUSB_CALL libusb_get_active_config_descriptor(libusb_device *dev,
						    struct libusb_config_descriptor **config)
{
	return libusb_get_config_descriptor(dev, 0, config);
}

void LIBUSB_CALL libusb_free_config_descriptor(struct libusb_config_descriptor *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->bNumInterfaces; i++) {
		const struct libusb_interface *itf = &c->interface[i];
		for (int a = 0; a < itf->num_altsetting; a++) {
			const struct libusb_interface_descriptor *alt = &itf->altsetting[a];
			for (int e = 0; e < alt->bNumEndpoints; e++)
				free((void *)alt->endpoint[e].extra);
			free((void *)alt->endpoint);
			free((void *)alt->extra);
		}
		free((void *)itf->altsetting);
	}
	free((void *)c->interface);
	free((void *)c->extra);
	free(c);
}

int LIBUSB_CALL libusb_open(libusb_device *dev, libusb_device_handle **handle)
{
	int fd = connect_path(dev->path);
	if (fd < 0)
		return LIBUSB_ERROR_NO_DEVICE;
	libusb_device_handle *h = calloc(1, sizeof(*h));
	h->dev = libusb_ref_device(dev);
	h->fd = fd;
	*handle = h;
	return 0;
}

void LIBUSB_CALL libusb_close(libusb_device_handle *h)
{
	if (!h)
		return;
	if (h->fd >= 0)
		close(h->fd);
	libusb_unref_device(h->dev);
	free(h);
}

libusb_device *LIBUSB_CALL libusb_get_device(libusb_device_handle *h) { return h->dev; }

int LIBUSB_CALL libusb_control_transfer(libusb_device_handle *h, uint8_t rt, uint8_t req, uint16_t val,
					uint16_t idx, unsigned char *data, uint16_t len, unsigned int timeout)
{
	return control(&h->fd, rt, req, val, idx, data, len, timeout);
}

static int endpoint_transfer(libusb_device_handle *h, unsigned char ep, unsigned char *data, int len,
			     int *transferred, unsigned int timeout)
{
	unsigned char head[13] = { 'E', ep };
	int in = (ep & 0x80) != 0, r;
	put32(head + 3, timeout);
	put16(head + 7, in ? (unsigned)len : 0);
	put32(head + 9, in ? 0 : (uint32_t)len);
	/* the model holds the endpoint's own timeout; the socket waits a little longer */
	r = exchange(&h->fd, head, in ? NULL : data, in ? 0 : len, in ? data : NULL, len,
		     timeout ? timeout + 500 : 0);
	if (transferred)
		*transferred = r > 0 ? r : 0;
	return r < 0 ? r : 0;
}

int LIBUSB_CALL libusb_bulk_transfer(libusb_device_handle *h, unsigned char ep, unsigned char *data,
				     int len, int *transferred, unsigned int timeout)
{
	return endpoint_transfer(h, ep, data, len, transferred, timeout);
}

int LIBUSB_CALL libusb_interrupt_transfer(libusb_device_handle *h, unsigned char ep, unsigned char *data,
					  int len, int *transferred, unsigned int timeout)
{
	return endpoint_transfer(h, ep, data, len, transferred, timeout);
}

static int simple(libusb_device_handle *h, char op, int iface)
{
	unsigned char head[13] = { (unsigned char)op, (unsigned char)iface };
	return exchange(&h->fd, head, NULL, 0, NULL, 0, 5000);
}

int LIBUSB_CALL libusb_claim_interface(libusb_device_handle *h, int iface)
{
	int r = simple(h, 'L', iface);
	return r < 0 ? r : 0;
}

int LIBUSB_CALL libusb_release_interface(libusb_device_handle *h, int iface)
{
	int r = simple(h, 'U', iface);
	return r < 0 ? r : 0;
}

int LIBUSB_CALL libusb_reset_device(libusb_device_handle *h)
{
	int r = simple(h, 'R', 0);
	/* a device that re-enumerates on reset is not found under the old handle, as libusb reports it */
	if (r == LIBUSB_ERROR_NO_DEVICE)
		return LIBUSB_ERROR_NOT_FOUND;
	return r < 0 ? r : 0;
}

int LIBUSB_CALL libusb_set_interface_alt_setting(libusb_device_handle *h, int iface, int alt)
{
	int r = control(&h->fd, 0x01, LIBUSB_REQUEST_SET_INTERFACE, (uint16_t)alt, (uint16_t)iface, NULL, 0,
			DESCRIPTOR_TIMEOUT_MS);
	return r < 0 ? r : 0;
}

int LIBUSB_CALL libusb_set_configuration(libusb_device_handle *h, int config)
{
	int r = control(&h->fd, 0x00, LIBUSB_REQUEST_SET_CONFIGURATION, (uint16_t)config, 0, NULL, 0,
			DESCRIPTOR_TIMEOUT_MS);
	return r < 0 ? r : 0;
}

int LIBUSB_CALL libusb_get_configuration(libusb_device_handle *h, int *config)
{
	(void)h;
	*config = 1;
	return 0;
}

int LIBUSB_CALL libusb_kernel_driver_active(libusb_device_handle *h, int iface) { (void)h; (void)iface; return 0; }
int LIBUSB_CALL libusb_detach_kernel_driver(libusb_device_handle *h, int iface) { (void)h; (void)iface; return 0; }
int LIBUSB_CALL libusb_attach_kernel_driver(libusb_device_handle *h, int iface) { (void)h; (void)iface; return 0; }
int LIBUSB_CALL libusb_set_auto_detach_kernel_driver(libusb_device_handle *h, int on) { (void)h; (void)on; return 0; }

int LIBUSB_CALL libusb_get_string_descriptor_ascii(libusb_device_handle *h, uint8_t index,
						   unsigned char *data, int length)
{
	unsigned char b[255];
	int r, n = 0;
	if (index == 0)
		return LIBUSB_ERROR_INVALID_PARAM;
	r = control(&h->fd, 0x80, LIBUSB_REQUEST_GET_DESCRIPTOR, (LIBUSB_DT_STRING << 8) | index, 0x0409, b,
		    sizeof(b), DESCRIPTOR_TIMEOUT_MS);
	if (r < 0)
		return r;
	if (r < 2 || b[1] != LIBUSB_DT_STRING)
		return LIBUSB_ERROR_IO;
	for (int o = 2; o + 1 < r && o + 1 < b[0] && n < length - 1; o += 2)
		data[n++] = b[o + 1] ? '?' : b[o];
	data[n] = 0;
	return n;
}

libusb_device_handle *LIBUSB_CALL libusb_open_device_with_vid_pid(libusb_context *ctx, uint16_t vid,
								  uint16_t pid)
{
	libusb_device **list, *found = NULL;
	libusb_device_handle *h = NULL;
	ssize_t n = libusb_get_device_list(ctx, &list);
	for (ssize_t i = 0; i < n; i++)
		if (list[i]->desc.idVendor == vid && list[i]->desc.idProduct == pid) {
			found = list[i];
			break;
		}
	if (found && libusb_open(found, &h) < 0)
		h = NULL;
	libusb_free_device_list(list, 1);
	return h;
}

/*
 * openocd 0.12 imports these too (its FTDI-style drivers and libusb_helper
 * use them; the CMSIS-DAP v2 backend does not). They live here so that no
 * libusb call of a preloaded tool reaches the real libusb with a handle of
 * ours. Asynchronous transfers complete synchronously at submit (over the
 * handle's one connection, as a synchronous transfer would); their
 * callbacks run from the next event-handling call, as libusb runs them.
 */
int LIBUSB_CALL libusb_clear_halt(libusb_device_handle *h, unsigned char endpoint)
{
	/* CLEAR_FEATURE(ENDPOINT_HALT) to the endpoint */
	int r = control(&h->fd, 0x02, LIBUSB_REQUEST_CLEAR_FEATURE, 0, endpoint, NULL, 0,
			DESCRIPTOR_TIMEOUT_MS);
	return r < 0 ? r : 0;
}

#define MAX_DONE 64
static struct libusb_transfer *done_transfers[MAX_DONE];
static int done_count;

struct libusb_transfer *LIBUSB_CALL libusb_alloc_transfer(int iso_packets)
{
	size_t n = sizeof(struct libusb_transfer) +
		   sizeof(struct libusb_iso_packet_descriptor) * (size_t)(iso_packets > 0 ? iso_packets : 0);
	return calloc(1, n);
}

void LIBUSB_CALL libusb_free_transfer(struct libusb_transfer *t)
{
	if (!t)
		return;
	if ((t->flags & LIBUSB_TRANSFER_FREE_BUFFER) && t->buffer)
		free(t->buffer);
	free(t);
}

int LIBUSB_CALL libusb_submit_transfer(struct libusb_transfer *t)
{
	int r, n = 0;
	if (done_count >= MAX_DONE)
		return LIBUSB_ERROR_BUSY;
	switch (t->type) {
	case LIBUSB_TRANSFER_TYPE_CONTROL: {
		unsigned char *s = t->buffer;
		uint16_t len = (uint16_t)(s[6] | s[7] << 8);
		r = control(&t->dev_handle->fd, s[0], s[1], (uint16_t)(s[2] | s[3] << 8),
			    (uint16_t)(s[4] | s[5] << 8), s + 8, len, t->timeout);
		n = r > 0 ? r : 0;
		break;
	}
	case LIBUSB_TRANSFER_TYPE_BULK:
	case LIBUSB_TRANSFER_TYPE_INTERRUPT:
		r = endpoint_transfer(t->dev_handle, t->endpoint, t->buffer, t->length, &n, t->timeout);
		break;
	default:
		return LIBUSB_ERROR_NOT_SUPPORTED;
	}
	t->actual_length = n;
	t->status = r >= 0                    ? LIBUSB_TRANSFER_COMPLETED
		    : r == LIBUSB_ERROR_TIMEOUT   ? LIBUSB_TRANSFER_TIMED_OUT
		    : r == LIBUSB_ERROR_PIPE      ? LIBUSB_TRANSFER_STALL
		    : r == LIBUSB_ERROR_NO_DEVICE ? LIBUSB_TRANSFER_NO_DEVICE
						  : LIBUSB_TRANSFER_ERROR;
	done_transfers[done_count++] = t;
	return 0;
}

int LIBUSB_CALL libusb_cancel_transfer(struct libusb_transfer *t)
{
	/* already complete: libusb says so for a transfer no longer in flight */
	(void)t;
	return LIBUSB_ERROR_NOT_FOUND;
}

/* Runs the callbacks of the transfers completed so far. */
static void run_done(void)
{
	while (done_count > 0) {
		struct libusb_transfer *t = done_transfers[0];
		memmove(done_transfers, done_transfers + 1, (size_t)(--done_count) * sizeof(*done_transfers));
		if (t->callback)
			t->callback(t);
	}
}

int LIBUSB_CALL libusb_handle_events_timeout_completed(libusb_context *ctx, struct timeval *tv,
							int *completed)
{
	(void)ctx;
	(void)tv;
	(void)completed;
	run_done();
	return 0;
}

int LIBUSB_CALL libusb_handle_events_completed(libusb_context *ctx, int *completed)
{
	return libusb_handle_events_timeout_completed(ctx, NULL, completed);
}

int LIBUSB_CALL libusb_handle_events(libusb_context *ctx)
{
	return libusb_handle_events_timeout_completed(ctx, NULL, NULL);
}
