/*
 * vimage-client: the fast client of the vimage host protocol (src/Vimage.Cli/Host/Protocol.md).
 *
 * Invoked as "vimage-client COMMAND ARGS..." or through a shim named after the command (ifconfig, route, ...):
 * sends {"argv": [...], "cwd": "..."} to the host over its Unix socket, copies the streamed out/err frames to
 * stdout/stderr ("data" frames, base64, byte for byte to stdout) and exits with the command's status. When the
 * command reads stdin the host sends a grant ({"read": N}); the client then sends at most N bytes of its stdin
 * ({"in": base64}) or {"eof": true}, so stdin is consumed only as fast as the command takes it. With VIMAGE_JAIL=J set (jexec J cmd), the command runs
 * inside jail J. "jexec J cmd" for a command the host does not serve (sh, awk, ...) execs it with VIMAGE_JAIL=J,
 * so the shims it runs act inside the jail.
 *
 * The socket rules are the C# client's (SocketSecurity.cs): the directory and the socket are examined with
 * lstat, must be owned by our uid, not group/world writable, not symbolic links; the peer must run as our uid or
 * root (SO_PEERCRED). Exit statuses: sysexits as in Protocol.md (69 no host, 76 protocol, 77 unsafe socket).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define EX_UNAVAILABLE 69
#define EX_OSERR 71
#define EX_PROTOCOL 76
#define EX_NOPERM 77
#define MAX_FRAME (1u << 20)
#define MAX_REQUEST (64u * 1024u)

/* Commands the host serves: jexec J one-of-these goes to the host in one request. */
static const char *const host_commands[] = {
	"arp", "dmesg", "ifconfig", "ipfw", "jail", "jexec", "jls", "netstat", "nc", "ping", "route",
	"setfib", "sockstat", "sysctl", "tcpdump", NULL,
};

struct buf {
	char *p;
	size_t len, cap;
};

static void
die(int status, const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "vimage: ");
	fprintf(stderr, fmt, a, b);
	fputc('\n', stderr);
	exit(status);
}

static void
put(struct buf *b, const char *s, size_t n)
{
	if (b->len + n > MAX_REQUEST)
		die(EX_PROTOCOL, "request over %s bytes%s", "65536", "");
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
		if (b->p == NULL)
			die(EX_OSERR, "out of memory%s%s", "", "");
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void
puts_raw(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* A JSON string: quotes, backslashes and control characters escaped; other bytes pass as UTF-8. */
static void
put_json(struct buf *b, const char *s)
{
	char esc[8];

	put(b, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(b, esc, 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(b, esc, 6);
		} else
			put(b, (const char *)&c, 1);
	}
	put(b, "\"", 1);
}

static int
is_host_command(const char *name)
{
	for (int i = 0; host_commands[i] != NULL; i++)
		if (strcmp(host_commands[i], name) == 0)
			return 1;
	return 0;
}

/* $VIMAGE_SOCKET, else $XDG_RUNTIME_DIR/vimage/host.sock, else /tmp/vimage-UID/host.sock (HostPaths.cs). */
static void
socket_path(char *path, size_t size)
{
	const char *s = getenv("VIMAGE_SOCKET");
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (s != NULL && *s != '\0') {
		if (*s == '/')
			snprintf(path, size, "%s", s);
		else {
			char cwd[PATH_MAX];
			if (getcwd(cwd, sizeof(cwd)) == NULL)
				die(EX_OSERR, "getcwd: %s%s", strerror(errno), "");
			if ((size_t)snprintf(path, size, "%s/%s", cwd, s) >= size)
				die(EX_UNAVAILABLE, "socket path too long: %s%s", s, "");
		}
	} else if (xdg != NULL && *xdg == '/')
		snprintf(path, size, "%s/vimage/host.sock", xdg);
	else
		snprintf(path, size, "/tmp/vimage-%u/host.sock", (unsigned)getuid());
}

/* SocketSecurity.CheckDirectory / CheckSocket: 0 when absent, 1 when safe; unsafe exits 77. */
static int
check(const char *path, int want_dir)
{
	struct stat st;
	const char *what = want_dir ? "socket directory" : "socket";
	char msg[PATH_MAX + 128];

	if (lstat(path, &st) != 0)
		return 0;
	if (S_ISLNK(st.st_mode))
		die(EX_NOPERM, "unsafe %s %s: it is a symbolic link", what, path);
	if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISSOCK(st.st_mode))
		die(EX_NOPERM, want_dir ? "unsafe %s %s: not a directory" : "unsafe %s %s: it is not a socket", what, path);
	if (st.st_uid != getuid()) {
		snprintf(msg, sizeof(msg), "%s: owned by uid %u, not by uid %u", path, (unsigned)st.st_uid, (unsigned)getuid());
		die(EX_NOPERM, "unsafe %s %s", what, msg);
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(msg, sizeof(msg), "%s: group or world writable (mode 0%o)", path, (unsigned)(st.st_mode & 07777));
		die(EX_NOPERM, "unsafe %s %s", what, msg);
	}
	return 1;
}

static int
connect_host(const char *path)
{
	char dir[PATH_MAX];
	struct sockaddr_un sun;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char *slash;
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	if (!check(dir, 1) || !check(path, 0))
		goto none;
	if (strlen(path) >= sizeof(sun.sun_path))
		die(EX_UNAVAILABLE, "socket path too long: %s%s", path, "");
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die(EX_OSERR, "socket: %s%s", strerror(errno), "");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		goto none;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
	    (cred.uid != getuid() && cred.uid != 0)) {
		fprintf(stderr, "vimage: the host listening on %s runs as uid %u, not as uid %u: refusing to talk to it "
		    "(stop it and remove the socket)\n", path, (unsigned)cred.uid, (unsigned)getuid());
		exit(EX_NOPERM);
	}
	return fd;
none:
	fprintf(stderr, "vimage: no host running at %s (start one with: vimage host)\n", path);
	exit(EX_UNAVAILABLE);
}

static int
read_full(int fd, void *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return got == 0 ? 0 : -1;
		got += (size_t)r;
	}
	return 1;
}

static void
write_full(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* a closed pipe: drop the output as a killed writer would */
		p += w;
		n -= (size_t)w;
	}
}

static unsigned
hex4(const char *s)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return 0xFFFFFFFFu;
	}
	return v;
}

static size_t
utf8(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Decodes the JSON string starting after its opening quote, in place; returns its length or -1. */
static long
json_string(char *s, char *end)
{
	char *in = s, *out = s;
	while (in < end && *in != '"') {
		if (*in != '\\') {
			*out++ = *in++;
			continue;
		}
		if (++in >= end)
			return -1;
		switch (*in++) {
		case 'n': *out++ = '\n'; break;
		case 't': *out++ = '\t'; break;
		case 'r': *out++ = '\r'; break;
		case 'b': *out++ = '\b'; break;
		case 'f': *out++ = '\f'; break;
		case '/': *out++ = '/'; break;
		case '\\': *out++ = '\\'; break;
		case '"': *out++ = '"'; break;
		case 'u': {
			unsigned cp;
			if (end - in < 4 || (cp = hex4(in)) == 0xFFFFFFFFu)
				return -1;
			in += 4;
			if (cp >= 0xD800 && cp < 0xDC00 && end - in >= 6 && in[0] == '\\' && in[1] == 'u') {
				unsigned lo = hex4(in + 2);
				if (lo >= 0xDC00 && lo < 0xE000) {
					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
					in += 6;
				}
			}
			out += utf8(out, cp); /* never longer than the 6 or 12 bytes it came from */
			break;
		}
		default:
			return -1;
		}
	}
	return in < end ? out - s : -1;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Decodes base64 in place (padding and anything outside the alphabet end it); returns the length. */
static size_t
unbase64(char *s, size_t n)
{
	size_t out = 0;
	unsigned acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		const char *c = s[i] != '\0' ? strchr(b64, s[i]) : NULL;
		if (c == NULL)
			break;
		acc = (acc << 6) | (unsigned)(c - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			s[out++] = (char)((acc >> bits) & 0xFF);
		}
	}
	return out;
}

/* Sends all of p on the socket without SIGPIPE (a host gone is noticed by the reader); -1 on error. */
static int
send_full(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Answers a grant: one read(2) of stdin, sent as {"in": base64}, or {"eof": true} at end of file (or error). */
static int
send_stdin(int fd, size_t grant)
{
	static unsigned char in[65536];
	static char frame[4 + 16 + 65536 / 3 * 4 + 8];
	ssize_t r;
	size_t len = 0;

	if (grant > sizeof(in))
		grant = sizeof(in);
	do
		r = read(0, in, grant);
	while (r < 0 && errno == EINTR);
	if (r <= 0) {
		len = (size_t)snprintf(frame + 4, sizeof(frame) - 4, "{\"eof\":true}");
	} else {
		char *o = frame + 4;
		memcpy(o, "{\"in\":\"", 7);
		len = 7;
		for (ssize_t i = 0; i < r; i += 3) {
			unsigned v = (unsigned)in[i] << 16;
			if (i + 1 < r)
				v |= (unsigned)in[i + 1] << 8;
			if (i + 2 < r)
				v |= in[i + 2];
			o[len++] = b64[(v >> 18) & 63];
			o[len++] = b64[(v >> 12) & 63];
			o[len++] = i + 1 < r ? b64[(v >> 6) & 63] : '=';
			o[len++] = i + 2 < r ? b64[v & 63] : '=';
		}
		memcpy(o + len, "\"}", 2);
		len += 2;
	}
	frame[0] = (char)(len >> 24);
	frame[1] = (char)(len >> 16);
	frame[2] = (char)(len >> 8);
	frame[3] = (char)len;
	if (send_full(fd, frame, len + 4) != 0)
		return -1;
	return r <= 0 ? 1 : 0;
}

/*
 * One response frame: {"out": "..."}, {"err": "..."}, {"data": "base64"}, {"error": "..."}, {"read": N} or
 * {"exit": N}. Returns 1 with the exit status, 2 with a grant in *grant, 0 otherwise, -1 for a bad frame.
 */
static int
handle(char *p, size_t n, int *exit_status, size_t *grant)
{
	char *end = p + n, *key, *v;
	long len;

	while (p < end && *p != '"')
		p++;
	if (p >= end)
		return -1;
	key = ++p;
	while (p < end && *p != '"')
		p++;
	if (p >= end)
		return -1;
	*p++ = '\0';
	while (p < end && (*p == ':' || *p == ' '))
		p++;
	if (strcmp(key, "exit") == 0) {
		*exit_status = atoi(p);
		return 1;
	}
	if (strcmp(key, "read") == 0) {
		*grant = (size_t)strtoul(p, NULL, 10);
		return 2;
	}
	if (p >= end || *p != '"' || (len = json_string(v = p + 1, end)) < 0)
		return -1;
	if (strcmp(key, "out") == 0)
		write_full(1, v, (size_t)len);
	else if (strcmp(key, "data") == 0)
		write_full(1, v, unbase64(v, (size_t)len));
	else if (strcmp(key, "err") == 0)
		write_full(2, v, (size_t)len);
	else if (strcmp(key, "error") == 0) {
		fputs("vimage: host: ", stderr);
		fwrite(v, 1, (size_t)len, stderr);
		fputc('\n', stderr);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	char path[PATH_MAX], cwd[PATH_MAX];
	const char *self = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	const char *jail = getenv("VIMAGE_JAIL");
	char **args = argv;
	int nargs = argc;
	struct buf req = {0};
	unsigned char hdr[4];
	char *frame = NULL;
	int fd, status = -1, stdin_done = 0;
	size_t grant = 0;

	if (strcmp(self, "vimage-client") == 0 || strcmp(self, "vimage") == 0) {
		args++; /* vimage-client COMMAND ARGS... */
		nargs--;
	} else
		args[0] = (char *)self; /* a shim: /path/to/ifconfig -> ifconfig */
	if (nargs < 1) {
		fprintf(stderr, "usage: vimage-client command [arguments ...]\n");
		return 64;
	}
	/* jexec J cmd: cmd the host does not serve runs here, bound to J through the environment. */
	if (strcmp(args[0], "jexec") == 0 && nargs >= 3 && args[1][0] != '-' && !is_host_command(args[2])) {
		setenv("VIMAGE_JAIL", args[1], 1);
		execvp(args[2], args + 2);
		fprintf(stderr, "jexec: execvp: %s: %s\n", args[2], strerror(errno));
		return 1;
	}

	puts_raw(&req, "{\"argv\":[");
	if (jail != NULL && *jail != '\0' && strcmp(args[0], "jexec") != 0) {
		put_json(&req, "jexec");
		puts_raw(&req, ",");
		put_json(&req, jail);
		puts_raw(&req, ",");
	}
	for (int i = 0; i < nargs; i++) {
		if (i > 0)
			puts_raw(&req, ",");
		put_json(&req, args[i]);
	}
	puts_raw(&req, "]");
	if (getcwd(cwd, sizeof(cwd)) != NULL) {
		puts_raw(&req, ",\"cwd\":");
		put_json(&req, cwd);
	}
	puts_raw(&req, ",\"stdin\":true}");

	socket_path(path, sizeof(path));
	fd = connect_host(path);
	hdr[0] = (unsigned char)(req.len >> 24);
	hdr[1] = (unsigned char)(req.len >> 16);
	hdr[2] = (unsigned char)(req.len >> 8);
	hdr[3] = (unsigned char)req.len;
	write_full(fd, (const char *)hdr, 4);
	write_full(fd, req.p, req.len);

	for (;;) {
		uint32_t n;
		struct pollfd pfd[2] = { { .fd = fd, .events = POLLIN }, { .fd = 0, .events = POLLIN } };
		int r;

		/* Waiting for the host, and for stdin while a grant is open. */
		if (poll(pfd, grant > 0 && !stdin_done ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			die(EX_OSERR, "poll: %s%s", strerror(errno), "");
		}
		if (grant > 0 && !stdin_done && pfd[1].revents != 0 && !(pfd[0].revents & POLLIN)) {
			r = send_stdin(fd, grant);
			grant = 0;
			if (r == 1)
				stdin_done = 1;
			/* a send error means the host is gone: the reader below reports it */
			continue;
		}
		r = read_full(fd, hdr, 4);
		if (r == 0) {
			fprintf(stderr, "vimage: the host at %s closed the connection without an exit status\n", path);
			return EX_UNAVAILABLE;
		}
		n = ((uint32_t)hdr[0] << 24) | ((uint32_t)hdr[1] << 16) | ((uint32_t)hdr[2] << 8) | hdr[3];
		if (r < 0 || n > MAX_FRAME || (frame = realloc(frame, n + 1)) == NULL || read_full(fd, frame, n) != 1) {
			fprintf(stderr, "vimage: bad or truncated frame from the host at %s\n", path);
			return EX_PROTOCOL;
		}
		frame[n] = '\0';
		r = handle(frame, n, &status, &grant);
		if (r < 0) {
			fprintf(stderr, "vimage: bad response from the host at %s\n", path);
			return EX_PROTOCOL;
		}
		if (r == 1)
			return status;
	}
}
