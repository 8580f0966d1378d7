/*
 * packetdrill-driver: loads libvimage_packetdrill.so exactly as packetdrill's so_testing.c does (dlopen with
 * RTLD_NOW|RTLD_LOCAL|RTLD_NODELETE|RTLD_DEEPBIND, dlsym "packetdrill_interface_init", init(flags, &ifc)) and plays
 * TCP exchanges through the interface with hand-built IPv4/TCP packets, checking every answer: a passive open
 * (SYN-ACK with FreeBSD's option order), data both ways with the delayed ACK on the virtual clock, the peer's FIN,
 * our FIN; an active open refused by RST (errno through the C library's errno, in Linux's numbering); a RST that
 * resets an established connection; a SYN to a closed port and to a bound port that does not listen; a packet
 * packetdrill sends from and to 0.0.0.0 refused; and `sysctl` commands from a shell reaching the stack.
 * Written for Vimage; the interface struct follows packetdrill.h's layout. Exit status 0 only if everything matched.
 *
 * usage: packetdrill-driver LIBRARY
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

struct pd_ifc {
	void *userdata;
	void (*free)(void *);
	int (*socket)(void *, int, int, int);
	int (*bind)(void *, int, const struct sockaddr *, socklen_t);
	int (*listen)(void *, int, int);
	int (*accept)(void *, int, struct sockaddr *, socklen_t *);
	int (*connect)(void *, int, const struct sockaddr *, socklen_t);
	ssize_t (*read)(void *, int, void *, size_t);
	ssize_t (*readv)(void *, int, const struct iovec *, int);
	ssize_t (*recv)(void *, int, void *, size_t, int);
	ssize_t (*recvfrom)(void *, int, void *, size_t, int, struct sockaddr *, socklen_t *);
	ssize_t (*recvmsg)(void *, int, struct msghdr *, int);
	ssize_t (*write)(void *, int, const void *, size_t);
	ssize_t (*writev)(void *, int, const struct iovec *, int);
	ssize_t (*send)(void *, int, const void *, size_t, int);
	ssize_t (*sendto)(void *, int, const void *, size_t, int, const struct sockaddr *, socklen_t);
	ssize_t (*sendmsg)(void *, int, const struct msghdr *, int);
	int (*fcntl)(void *, int, int, ...);
	int (*ioctl)(void *, int, unsigned long, ...);
	int (*close)(void *, int);
	int (*shutdown)(void *, int, int);
	int (*getsockopt)(void *, int, int, int, void *, socklen_t *);
	int (*setsockopt)(void *, int, int, int, const void *, socklen_t);
	int (*poll)(void *, struct pollfd *, nfds_t, int);
	int (*netdev_send)(void *, const void *, size_t);
	int (*netdev_receive)(void *, void *, size_t *, long long *);
	int (*usleep)(void *, useconds_t);
	int (*gettimeofday)(void *, struct timeval *, struct timezone *);
	void *epoll_create, *epoll_ctl, *epoll_wait, *pipe, *splice;
};

static struct pd_ifc ifc;
static int failures;
static const char *LOCAL = "192.168.0.1", *REMOTE = "192.0.2.1";

#define CHECK(cond, ...) do { if (!(cond)) { failures++; fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)
#define REQUIRE(cond, ...) do { int ok_ = !!(cond); CHECK(ok_, __VA_ARGS__); if (!ok_) exit(1); } while (0)

enum { FIN = 1, SYN = 2, RST = 4, PSH = 8, ACK = 16 };

struct seg {
	uint32_t src, dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	uint8_t opts[40];
	int optlen;
	uint8_t data[2048];
	int len;
	long long time_us;
};

static uint16_t csum(const uint8_t *p, size_t n, uint32_t sum)
{
	for (; n > 1; p += 2, n -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (n)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t pseudo(uint32_t src, uint32_t dst, int tcplen)
{
	return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 6 + (uint32_t)tcplen;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, (uint16_t)v); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }

/* Builds the packet the remote host sends and hands it to the stack (netdev_send). */
static void inject(const struct seg *s)
{
	uint8_t pkt[2200] = {0};
	int thl = 20 + s->optlen, total = 20 + thl + s->len;
	pkt[0] = 0x45;
	put16(pkt + 2, (uint16_t)total);
	put16(pkt + 4, 0x1234);
	pkt[8] = 64;
	pkt[9] = 6;
	put32(pkt + 12, s->src);
	put32(pkt + 16, s->dst);
	put16(pkt + 10, csum(pkt, 20, 0));
	uint8_t *t = pkt + 20;
	put16(t, s->sport);
	put16(t + 2, s->dport);
	put32(t + 4, s->seq);
	put32(t + 8, s->ack);
	t[12] = (uint8_t)((thl / 4) << 4);
	t[13] = s->flags;
	put16(t + 14, s->win);
	memcpy(t + 20, s->opts, (size_t)s->optlen);
	memcpy(t + thl, s->data, (size_t)s->len);
	put16(t + 16, csum(t, (size_t)(thl + s->len), pseudo(s->src, s->dst, thl + s->len)));
	REQUIRE(ifc.netdev_send(ifc.userdata, pkt, (size_t)total) == 0, "netdev_send refused a valid packet");
}

/* The next packet the stack sends (netdev_receive), parsed; its checksums are verified. */
static int sniff(struct seg *s)
{
	uint8_t pkt[65536];
	size_t n = sizeof(pkt);
	long long t = 0;
	memset(s, 0, sizeof(*s));
	if (ifc.netdev_receive(ifc.userdata, pkt, &n, &t) != 0 || n == 0)
		return 0;
	REQUIRE(n >= 40 && pkt[0] == 0x45 && pkt[9] == 6, "not an option-less IPv4 TCP packet (%zu bytes, %02x proto %d)", n, pkt[0], pkt[9]);
	REQUIRE(get16(pkt + 2) == n, "IP length %d but %zu bytes", get16(pkt + 2), n);
	CHECK(csum(pkt, 20, 0) == 0, "bad IP checksum");
	const uint8_t *th = pkt + 20;
	int thl = (th[12] >> 4) * 4, tcplen = (int)n - 20;
	s->src = get32(pkt + 12);
	s->dst = get32(pkt + 16);
	CHECK(csum(th, (size_t)tcplen, pseudo(s->src, s->dst, tcplen)) == 0, "bad TCP checksum");
	s->sport = get16(th);
	s->dport = get16(th + 2);
	s->seq = get32(th + 4);
	s->ack = get32(th + 8);
	s->flags = th[13];
	s->win = get16(th + 14);
	s->optlen = thl - 20;
	memcpy(s->opts, th + 20, (size_t)s->optlen);
	s->len = tcplen - thl;
	memcpy(s->data, th + thl, (size_t)(s->len > 2048 ? 2048 : s->len));
	s->time_us = t;
	return 1;
}

static long long now_us(void)
{
	struct timeval tv;
	REQUIRE(ifc.gettimeofday(ifc.userdata, &tv, NULL) == 0, "gettimeofday");
	return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* The option kinds in order, e.g. "2,1,3,4,8" (EOL/NOP included). */
static void option_kinds(const struct seg *s, char *out, size_t cap)
{
	out[0] = 0;
	for (int i = 0; i < s->optlen;) {
		uint8_t k = s->opts[i];
		char tmp[8];
		snprintf(tmp, sizeof(tmp), "%s%u", out[0] ? "," : "", k);
		strncat(out, tmp, cap - strlen(out) - 1);
		if (k == 0)
			break;
		i += (k == 1) ? 1 : (s->opts[i + 1] ? s->opts[i + 1] : 1);
	}
}

static const uint8_t *find_option(const struct seg *s, uint8_t kind)
{
	for (int i = 0; i < s->optlen;) {
		uint8_t k = s->opts[i];
		if (k == 0)
			break;
		if (k == kind)
			return s->opts + i;
		i += (k == 1) ? 1 : (s->opts[i + 1] ? s->opts[i + 1] : 1);
	}
	return NULL;
}

static struct sockaddr_in sin_of(const char *ip, uint16_t port)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

static uint32_t ip(const char *s) { struct in_addr a; inet_pton(AF_INET, s, &a); return ntohl(a.s_addr); }

/* A SYN from the remote host with Linux-like options: mss 1460, sackOK, TS, nop, wscale 7. */
static struct seg remote_syn(uint16_t sport, uint16_t dport, uint32_t isn)
{
	struct seg s = {0};
	s.src = ip(REMOTE); s.dst = ip(LOCAL); s.sport = sport; s.dport = dport;
	s.seq = isn; s.flags = SYN; s.win = 65535;
	uint8_t o[] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 100, 0, 0, 0, 0, 1, 3, 3, 7};
	memcpy(s.opts, o, sizeof(o)); s.optlen = sizeof(o);
	return s;
}

static struct seg remote_seg(uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags, uint32_t tsecr)
{
	struct seg s = {0};
	s.src = ip(REMOTE); s.dst = ip(LOCAL); s.sport = sport; s.dport = dport;
	s.seq = seq; s.ack = ack; s.flags = flags; s.win = 1000; /* << 7 */
	uint8_t o[] = {1, 1, 8, 10, 0, 0, 0, 200, 0, 0, 0, 0};
	put32(o + 8, tsecr);
	memcpy(s.opts, o, sizeof(o)); s.optlen = sizeof(o);
	return s;
}

static uint32_t tsval_of(const struct seg *s)
{
	const uint8_t *ts = find_option(s, 8);
	return ts ? get32(ts + 2) : 0;
}

static int run_shell(const char *cmd, char *out, size_t cap)
{
	FILE *p = popen(cmd, "r");
	REQUIRE(p != NULL, "popen %s", cmd);
	size_t n = fread(out, 1, cap - 1, p);
	out[n] = 0;
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void passive_open_data_fin(void)
{
	void *u = ifc.userdata;
	int one = 1;
	int lfd = ifc.socket(u, AF_INET, SOCK_STREAM, 0);
	REQUIRE(lfd >= 0, "socket: %d errno %d", lfd, errno);
	CHECK(ifc.setsockopt(u, lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0, "SO_REUSEADDR");
	struct sockaddr_in a = sin_of("0.0.0.0", 8080);
	REQUIRE(ifc.bind(u, lfd, (struct sockaddr *)&a, sizeof(a)) == 0, "bind errno %d", errno);
	REQUIRE(ifc.listen(u, lfd, 1) == 0, "listen errno %d", errno);

	/* Handshake: SYN in, SYN-ACK out with FreeBSD's option order (tcp_addoptions: MSS, NOP+WS, SACK-permitted, TS). */
	struct seg syn = remote_syn(40000, 8080, 1000), out;
	long long t0 = now_us();
	inject(&syn);
	REQUIRE(sniff(&out), "no SYN-ACK");
	CHECK(out.flags == (SYN | ACK), "SYN-ACK flags %#x", out.flags);
	CHECK(out.ack == 1001, "SYN-ACK acks %u, want 1001", out.ack);
	CHECK(out.sport == 8080 && out.dport == 40000 && out.src == ip(LOCAL) && out.dst == ip(REMOTE), "SYN-ACK addresses");
	char kinds[128];
	option_kinds(&out, kinds, sizeof(kinds));
	CHECK(strcmp(kinds, "2,1,3,4,8") == 0, "SYN-ACK options %s, want FreeBSD's 2,1,3,4,8 (mss,nop,wscale,sackOK,TS)", kinds);
	const uint8_t *mss = find_option(&out, 2), *ts = find_option(&out, 8);
	CHECK(mss && get16(mss + 2) == 1460, "SYN-ACK mss %d", mss ? get16(mss + 2) : -1);
	CHECK(ts && get32(ts + 6) == 100, "SYN-ACK TS ecr %u, want 100", ts ? get32(ts + 6) : 0);
	CHECK(out.time_us - t0 < 1000, "SYN-ACK took %lld us of virtual time", out.time_us - t0);
	uint32_t iss = out.seq, tsv = tsval_of(&out);

	struct seg ack = remote_seg(40000, 8080, 1001, iss + 1, ACK, tsv);
	inject(&ack);
	struct sockaddr_in peer;
	socklen_t plen = sizeof(peer);
	int fd = ifc.accept(u, lfd, (struct sockaddr *)&peer, &plen);
	REQUIRE(fd >= 0, "accept errno %d", errno);
	CHECK(plen == sizeof(peer) && peer.sin_port == htons(40000) && peer.sin_addr.s_addr == htonl(ip(REMOTE)), "accept peer");

	/* Data in: read it; the ACK is delayed by net.inet.tcp.delacktime (40 ms) of virtual time. */
	struct seg data = remote_seg(40000, 8080, 1001, iss + 1, PSH | ACK, tsv);
	memcpy(data.data, "hello", 5); data.len = 5;
	long long t1 = now_us();
	inject(&data);
	int avail = -1;
	CHECK(ifc.ioctl(u, fd, FIONREAD, &avail) == 0 && avail == 5, "FIONREAD %d", avail);
	char buf[64] = {0};
	CHECK(ifc.read(u, fd, buf, sizeof(buf)) == 5 && memcmp(buf, "hello", 5) == 0, "read '%s'", buf);
	REQUIRE(sniff(&out), "no ACK for the data");
	CHECK(out.flags == ACK && out.ack == 1006 && out.len == 0, "data ACK flags %#x ack %u len %d", out.flags, out.ack, out.len);
	long long delay = out.time_us - t1;
	CHECK(delay >= 39000 && delay <= 41000, "delayed ACK after %lld us, want 40 ms", delay);

	/* Data out. */
	CHECK(ifc.write(u, fd, "world!", 6) == 6, "write errno %d", errno);
	REQUIRE(sniff(&out), "no data segment");
	CHECK((out.flags & ~PSH) == ACK && out.seq == iss + 1 && out.len == 6 && memcmp(out.data, "world!", 6) == 0,
	      "data segment flags %#x seq %u len %d", out.flags, out.seq - iss, out.len);
	tsv = tsval_of(&out);
	struct seg ack2 = remote_seg(40000, 8080, 1006, iss + 7, ACK, tsv);
	inject(&ack2);

	/* The peer's FIN: ACKed at once, read sees EOF. */
	struct seg fin = remote_seg(40000, 8080, 1006, iss + 7, FIN | ACK, tsv);
	inject(&fin);
	REQUIRE(sniff(&out), "no ACK of the FIN");
	CHECK(out.flags == ACK && out.ack == 1007, "FIN's ACK flags %#x ack %u", out.flags, out.ack);
	CHECK(ifc.read(u, fd, buf, sizeof(buf)) == 0, "read after FIN is not EOF");

	/* Our FIN (close), the peer ACKs it: LAST_ACK to CLOSED. */
	CHECK(ifc.close(u, fd) == 0, "close");
	REQUIRE(sniff(&out), "no FIN");
	CHECK(out.flags == (FIN | ACK) && out.seq == iss + 7 && out.ack == 1007, "FIN flags %#x seq %u", out.flags, out.seq - iss);
	struct seg lastack = remote_seg(40000, 8080, 1007, iss + 8, ACK, tsval_of(&out));
	inject(&lastack);
	CHECK(ifc.close(u, lfd) == 0, "close listener");
	CHECK(ifc.close(u, lfd) == -1 && errno == EBADF, "double close: errno %d, want EBADF", errno);
}

static void active_open_refused(void)
{
	void *u = ifc.userdata;
	int fd = ifc.socket(u, AF_INET, SOCK_STREAM, 0);
	REQUIRE(fd >= 0, "socket");
	int fl = ifc.fcntl(u, fd, F_GETFL);
	CHECK(fl >= 0 && !(fl & O_NONBLOCK), "F_GETFL %#x", fl);
	CHECK(ifc.fcntl(u, fd, F_SETFL, fl | O_NONBLOCK) == 0, "F_SETFL");
	CHECK(ifc.fcntl(u, fd, F_GETFL) & O_NONBLOCK, "O_NONBLOCK not kept");
	struct sockaddr_in a = sin_of(REMOTE, 9090);
	errno = 0;
	CHECK(ifc.connect(u, fd, (struct sockaddr *)&a, sizeof(a)) == -1 && errno == EINPROGRESS,
	      "nonblocking connect: errno %d, want EINPROGRESS (%d)", errno, EINPROGRESS);
	struct seg out;
	REQUIRE(sniff(&out), "no SYN");
	char kinds[128];
	option_kinds(&out, kinds, sizeof(kinds));
	CHECK(out.flags == SYN && out.dport == 9090, "SYN flags %#x", out.flags);
	CHECK(strcmp(kinds, "2,1,3,4,8") == 0, "SYN options %s, want 2,1,3,4,8", kinds);
	char buf[8];
	errno = 0;
	CHECK(ifc.read(u, fd, buf, sizeof(buf)) == -1 && (errno == EAGAIN || errno == ENOTCONN), "read while connecting: errno %d", errno);
	struct seg rst = {0};
	rst.src = ip(REMOTE); rst.dst = ip(LOCAL); rst.sport = 9090; rst.dport = out.sport;
	rst.seq = 0; rst.ack = out.seq + 1; rst.flags = RST | ACK;
	inject(&rst);
	int err = 0;
	socklen_t len = sizeof(err);
	CHECK(ifc.getsockopt(u, fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == ECONNREFUSED,
	      "SO_ERROR %d, want ECONNREFUSED (%d)", err, ECONNREFUSED);
	CHECK(ifc.close(u, fd) == 0, "close");
}

static void rst_resets_established(void)
{
	void *u = ifc.userdata;
	int lfd = ifc.socket(u, AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = sin_of(LOCAL, 8081);
	REQUIRE(lfd >= 0 && ifc.bind(u, lfd, (struct sockaddr *)&a, sizeof(a)) == 0 && ifc.listen(u, lfd, 4) == 0, "listen 8081");
	struct seg syn = remote_syn(40001, 8081, 5000), out;
	inject(&syn);
	REQUIRE(sniff(&out) && out.flags == (SYN | ACK), "no SYN-ACK on 8081");
	uint32_t iss = out.seq;
	struct seg ack = remote_seg(40001, 8081, 5001, iss + 1, ACK, tsval_of(&out));
	inject(&ack);
	int fd = ifc.accept(u, lfd, NULL, NULL);
	REQUIRE(fd >= 0, "accept 8081");
	struct pollfd p = {.fd = fd, .events = POLLIN | POLLOUT};
	CHECK(ifc.poll(u, &p, 1, 0) == 1 && p.revents == POLLOUT, "poll revents %#x, want POLLOUT", p.revents);
	struct seg rst = {0};
	rst.src = ip(REMOTE); rst.dst = ip(LOCAL); rst.sport = 40001; rst.dport = 8081;
	rst.seq = 5001; rst.flags = RST;
	inject(&rst);
	char buf[8];
	errno = 0;
	CHECK(ifc.read(u, fd, buf, sizeof(buf)) == -1 && errno == ECONNRESET, "read after RST: errno %d, want ECONNRESET", errno);
	ifc.close(u, fd);
	ifc.close(u, lfd);

	/* A SYN to a closed port: RST|ACK acking it (tcp_dropwithreset). */
	struct seg syn2 = remote_syn(40002, 9999, 7000);
	inject(&syn2);
	REQUIRE(sniff(&out), "no RST from a closed port");
	CHECK(out.flags == (RST | ACK) && out.seq == 0 && out.ack == 7001, "closed port answer flags %#x ack %u", out.flags, out.ack);

	/* A port bound but not listening is closed too (tcp_input: TCPS_CLOSED -> dropwithreset); listen opens it. */
	int bfd = ifc.socket(u, AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in b = sin_of(LOCAL, 9998);
	REQUIRE(bfd >= 0 && ifc.bind(u, bfd, (struct sockaddr *)&b, sizeof(b)) == 0, "bind 9998");
	struct seg syn3 = remote_syn(40003, 9998, 8000);
	inject(&syn3);
	REQUIRE(sniff(&out), "no RST from a bound port that does not listen");
	CHECK(out.flags == (RST | ACK) && out.ack == 8001, "bound port answer flags %#x ack %u", out.flags, out.ack);
	CHECK(ifc.listen(u, bfd, 1) == 0, "listen 9998");
	syn3.seq = 9000;
	inject(&syn3);
	REQUIRE(sniff(&out), "no SYN-ACK after listen");
	CHECK(out.flags == (SYN | ACK) && out.ack == 9001, "after listen flags %#x ack %u", out.flags, out.ack);
	ifc.close(u, bfd);

	/* packetdrill sends a socket's packets from and to 0.0.0.0 while it knows no live addresses for it (a TCP
	 * packet before listen or connect): refused, so the script stops at that packet with a reason. */
	uint8_t zpkt[40] = {0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6};
	put16(zpkt + 20, 40004);
	put16(zpkt + 22, 9998);
	zpkt[32] = 5 << 4;
	zpkt[33] = SYN;
	CHECK(ifc.netdev_send(u, zpkt, 40) == -1, "a packet to 0.0.0.0 was taken");
}

static void sysctl_from_shell(void)
{
	char out[512];
	int rc = run_shell("sysctl net.inet.tcp.delacktime 2>&1", out, sizeof(out));
	CHECK(rc == 0 && strcmp(out, "net.inet.tcp.delacktime: 40\n") == 0, "sysctl read: rc %d '%s'", rc, out);
	rc = run_shell("sysctl -w net.inet.tcp.delacktime=100 2>&1", out, sizeof(out));
	CHECK(rc == 0 && strcmp(out, "net.inet.tcp.delacktime: 40 -> 100\n") == 0, "sysctl -w: rc %d '%s'", rc, out);
	rc = run_shell("sysctl -n net.inet.tcp.nosuchknob 2>&1", out, sizeof(out));
	CHECK(rc == 1 && strstr(out, "unknown oid 'net.inet.tcp.nosuchknob'"), "unknown oid: rc %d '%s'", rc, out);
	/* A PCPU statistics node: its registration reflects over the counter type, which NativeAOT must have kept. */
	rc = run_shell("sysctl net.inet.tcp.stats 2>&1 | head -c 200", out, sizeof(out));
	CHECK(rc == 0 && strstr(out, "tcps_connattempt=") && strstr(out, "tcps_accepts="), "sysctl net.inet.tcp.stats: rc %d '%s'", rc, out);
	rc = run_shell("sysctl net.inet.tcp.delacktime=0 2>&1", out, sizeof(out));
	CHECK(rc == 1, "out-of-range value accepted: rc %d '%s'", rc, out);

	/* The new value is the stack's: a delayed ACK now waits 100 ms of virtual time. */
	void *u = ifc.userdata;
	int lfd = ifc.socket(u, AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = sin_of(LOCAL, 8082);
	REQUIRE(lfd >= 0 && ifc.bind(u, lfd, (struct sockaddr *)&a, sizeof(a)) == 0 && ifc.listen(u, lfd, 4) == 0, "listen 8082");
	struct seg syn = remote_syn(40003, 8082, 9000), o;
	inject(&syn);
	REQUIRE(sniff(&o) && o.flags == (SYN | ACK), "no SYN-ACK on 8082");
	uint32_t iss = o.seq, tsv = tsval_of(&o);
	struct seg ack = remote_seg(40003, 8082, 9001, iss + 1, ACK, tsv);
	inject(&ack);
	struct seg data = remote_seg(40003, 8082, 9001, iss + 1, PSH | ACK, tsv);
	memcpy(data.data, "x", 1); data.len = 1;
	long long t = now_us();
	inject(&data);
	REQUIRE(sniff(&o), "no delayed ACK");
	long long d = o.time_us - t;
	CHECK(o.flags == ACK && o.ack == 9002 && d >= 99000 && d <= 101000, "ACK flags %#x after %lld us, want 100 ms", o.flags, d);
	ifc.close(u, lfd);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s libvimage_packetdrill.so\n", argv[0]);
		return 2;
	}
	void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE | RTLD_DEEPBIND);
	if (!h) {
		fprintf(stderr, "%s\n", dlerror());
		return 1;
	}
	void (*init)(const char *, struct pd_ifc *) = (void (*)(const char *, struct pd_ifc *))dlsym(h, "packetdrill_interface_init");
	if (!init) {
		fprintf(stderr, "%s\n", dlerror());
		return 1;
	}
	memset(&ifc, 0, sizeof(ifc));
	init("local_ip=192.168.0.1", &ifc);
	REQUIRE(ifc.socket && ifc.netdev_send && ifc.netdev_receive && ifc.gettimeofday && ifc.usleep && ifc.free, "init left functions unset");

	long long a = now_us();
	ifc.usleep(ifc.userdata, 2500000);
	long long b = now_us();
	CHECK(b - a >= 2500000 && b - a < 2500100, "usleep(2.5 s) moved the clock %lld us", b - a);

	/* Bad input is refused or dropped, never fatal. */
	uint8_t junk[64];
	memset(junk, 0xa5, sizeof(junk));
	CHECK(ifc.netdev_send(ifc.userdata, junk, 10) == -1, "a 10-byte packet was taken");
	CHECK(ifc.netdev_send(ifc.userdata, junk, sizeof(junk)) == -1, "an IPv5 packet was taken");
	junk[0] = 0x45; junk[2] = 0; junk[3] = 64; junk[9] = 6;   /* IPv4 TCP, bad checksums, junk header */
	CHECK(ifc.netdev_send(ifc.userdata, junk, sizeof(junk)) == 0, "a malformed IPv4 packet was refused (should be a counted drop)");
	char b1[4];
	errno = 0;
	CHECK(ifc.read(ifc.userdata, 77, b1, sizeof(b1)) == -1 && errno == EBADF, "read on a bad fd: errno %d", errno);
	errno = 0;
	CHECK(ifc.socket(ifc.userdata, AF_INET6, SOCK_STREAM, 0) == -1 && errno == EAFNOSUPPORT, "AF_INET6: errno %d", errno);

	passive_open_data_fin();
	fprintf(stderr, "passive open, data, FIN: %s\n", failures ? "FAILED" : "ok");
	int before = failures;
	active_open_refused();
	fprintf(stderr, "active open refused by RST: %s\n", failures > before ? "FAILED" : "ok");
	before = failures;
	rst_resets_established();
	fprintf(stderr, "RST on an established connection, closed and bound-only ports: %s\n", failures > before ? "FAILED" : "ok");
	before = failures;
	if (getenv("VIMAGE_SYSCTL_SOCKET")) {
		sysctl_from_shell();
		fprintf(stderr, "sysctl from a shell: %s\n", failures > before ? "FAILED" : "ok");
	} else {
		CHECK(0, "VIMAGE_SYSCTL_SOCKET not set by the library");
	}
	ifc.free(ifc.userdata);
	fprintf(stderr, "%d failure(s)\n", failures);
	return failures ? 1 : 0;
}
