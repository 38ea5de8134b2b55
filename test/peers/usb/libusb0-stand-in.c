/* canflash's stand-in for libusb-0.1 (LD_PRELOAD): the 12 functions
 * teensy_loader_cli imports, forwarding every call to a device model over
 * the socket format of docs/testing-usb.md (src/usb/wire.ts). The device
 * list is CANFLASH_USB_SOCKETS (colon-separated Unix socket paths); a path
 * that refuses connections is an unplugged device. One connection per open
 * handle; a control transfer that times out drops its connection (the late
 * reply would desynchronise it) and the next call reconnects. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <usb.h>

struct usb_dev_handle { int fd; char path[LIBUSB_PATH_MAX + 1]; };
struct usb_bus *usb_busses;
static char last_error[128] = "no error";

static int dial(const char *path) {
  struct sockaddr_un a = { .sun_family = AF_UNIX };
  strncpy(a.sun_path, path, sizeof a.sun_path - 1);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0) return fd;
  if (fd >= 0) close(fd);
  return -1;
}

/* Reads n bytes before the deadline (ms); 0 ok, -1 timeout or gone. */
static int read_all(int fd, void *buf, size_t n, int ms) {
  for (size_t got = 0; got < n;) {
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, ms) <= 0) return -1;
    ssize_t r = read(fd, (char *)buf + got, n - got);
    if (r <= 0) return -1;
    got += (size_t)r;
  }
  return 0;
}

static int errno_of(int32_t status) {  /* libusb-1.0 numbers on the wire -> 0.1's -errno */
  switch (status) {
    case -9: return -EPIPE;
    case -7: return -ETIMEDOUT;
    case -4: return -ENODEV;
    case -3: return -EACCES;
    default: return -EIO;
  }
}

/* One request on fd: 13-byte header (op, 8 bytes, OUT length), payload; reply status then IN bytes. */
static int transact(int fd, char op, const uint8_t head[8], const char *out, int outlen,
                    char *in, int inlen, int ms) {
  uint8_t h[13] = { (uint8_t)op };
  memcpy(h + 1, head, 8);
  int32_t n = outlen;
  memcpy(h + 9, &n, 4);
  if (write(fd, h, 13) != 13 || (outlen && write(fd, out, (size_t)outlen) != outlen)) return -ENODEV;
  int32_t status;
  if (read_all(fd, &status, 4, ms)) return -ETIMEDOUT;
  if (status < 0) return errno_of(status);
  if (inlen && status > 0) {
    if (status > inlen || read_all(fd, in, (size_t)status, ms)) return -EIO;
  }
  return status;
}

void usb_init(void) {}
int usb_find_busses(void) { return 0; }
struct usb_bus *usb_get_busses(void) { return usb_busses; }
char *usb_strerror(void) { return last_error; }

static void free_busses(struct usb_bus *bus) {
  while (bus) {
    struct usb_bus *next_bus = bus->next;
    for (struct usb_device *d = bus->devices, *next; d; d = next) { next = d->next; free(d); }
    free(bus);
    bus = next_bus;
  }
}

/* Rescans the socket list; the previous list is freed (open handles keep their own path). */
int usb_find_devices(void) {
  free_busses(usb_busses);
  struct usb_bus *bus = calloc(1, sizeof *bus);
  strcpy(bus->dirname, "001");
  const char *env = getenv("CANFLASH_USB_SOCKETS");
  char *list = strdup(env ? env : ""), *save = NULL, *path;
  uint8_t get_device[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };
  for (path = strtok_r(list, ":", &save); path; path = strtok_r(NULL, ":", &save)) {
    int fd = dial(path);
    if (fd < 0) continue;
    struct usb_device *d = calloc(1, sizeof *d);
    int r = transact(fd, 'C', get_device, NULL, 0, (char *)&d->descriptor, 18, 1000);
    close(fd);
    if (r != 18) { free(d); continue; }
    strncpy(d->filename, path, LIBUSB_PATH_MAX);
    d->bus = bus;
    d->next = bus->devices;
    if (bus->devices) bus->devices->prev = d;
    bus->devices = d;
  }
  free(list);
  usb_busses = bus;
  return 0;
}

usb_dev_handle *usb_open(struct usb_device *dev) {
  usb_dev_handle *h = calloc(1, sizeof *h);
  memcpy(h->path, dev->filename, sizeof h->path);
  h->fd = dial(h->path);
  if (h->fd < 0) { free(h); strcpy(last_error, "device gone"); return NULL; }
  return h;
}

int usb_close(usb_dev_handle *h) {
  if (h->fd >= 0) close(h->fd);
  free(h);
  return 0;
}

int usb_control_msg(usb_dev_handle *h, int type, int req, int value, int index,
                    char *bytes, int size, int timeout) {
  if (h->fd < 0 && (h->fd = dial(h->path)) < 0) return -ENODEV;
  uint8_t s[8] = { (uint8_t)type, (uint8_t)req, value & 0xff, (value >> 8) & 0xff,
                   index & 0xff, (index >> 8) & 0xff, size & 0xff, (size >> 8) & 0xff };
  int in = type & 0x80;
  int r = transact(h->fd, 'C', s, in ? NULL : bytes, in ? 0 : size, in ? bytes : NULL,
                   in ? size : 0, timeout > 0 ? timeout : 5000);
  if (r == -ETIMEDOUT || r == -ENODEV) { close(h->fd); h->fd = -1; }
  if (r < 0) strcpy(last_error, strerror(-r));
  return r;
}

static int iface_op(usb_dev_handle *h, char op, int iface) {
  uint8_t a[8] = { (uint8_t)iface };
  if (h->fd < 0) return -ENODEV;
  return transact(h->fd, op, a, NULL, 0, NULL, 0, 2000) < 0 ? -EIO : 0;
}
int usb_claim_interface(usb_dev_handle *h, int iface) { return iface_op(h, 'L', iface); }
int usb_release_interface(usb_dev_handle *h, int iface) { return iface_op(h, 'U', iface); }
int usb_get_driver_np(usb_dev_handle *h, int iface, char *name, unsigned int len) {
  (void)h; (void)iface; (void)name; (void)len;
  return -ENODATA;  /* no kernel driver holds the interface */
}
int usb_detach_kernel_driver_np(usb_dev_handle *h, int iface) { (void)h; (void)iface; return 0; }
