/*
 * sysctl (shim): the `sysctl` first on PATH of the shells packetdrill runs for backtick commands. When
 * VIMAGE_SYSCTL_SOCKET names the Unix socket libvimage_packetdrill.so opened (owner-only directory), the arguments go
 * there and the stack under test answers: its stdout, stderr and exit status become this command's. Without it the
 * host's sysctl runs (/sbin/sysctl, /usr/sbin/sysctl). Protocol: arguments NUL-separated, then end of stream; answer
 * "status\n" stdout NUL stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *path = getenv("VIMAGE_SYSCTL_SOCKET");
	if (!path || !*path) {
		const char *real[] = {"/sbin/sysctl", "/usr/sbin/sysctl"};
		for (int i = 0; i < 2; i++)
			if (access(real[i], X_OK) == 0) {
				argv[0] = (char *)real[i];
				execv(real[i], argv);
			}
		fprintf(stderr, "sysctl: VIMAGE_SYSCTL_SOCKET is not set and there is no host sysctl\n");
		return 1;
	}
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "sysctl: socket path too long\n");
		return 1;
	}
	strcpy(sa.sun_path, path);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("sysctl: connect to the stack under test");
		return 1;
	}
	for (int i = 1; i < argc; i++) {
		size_t n = strlen(argv[i]) + (i + 1 < argc ? 1 : 0); /* the NUL separates */
		if (write(s, argv[i], n) != (ssize_t)n) {
			perror("sysctl: write");
			return 1;
		}
	}
	shutdown(s, SHUT_WR);
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap + 1);
	ssize_t r;
	while (buf && len < cap && (r = read(s, buf + len, cap - len)) > 0)
		len += (size_t)r;
	close(s);
	if (!buf || len == 0) {
		fprintf(stderr, "sysctl: no answer from the stack under test\n");
		return 1;
	}
	buf[len] = 0;
	char *nl = memchr(buf, '\n', len);
	if (!nl) {
		fprintf(stderr, "sysctl: malformed answer\n");
		return 1;
	}
	int status = atoi(buf);
	char *out = nl + 1;
	size_t outlen = strnlen(out, len - (size_t)(out - buf));
	fwrite(out, 1, outlen, stdout);
	if (out + outlen < buf + len)
		fputs(out + outlen + 1, stderr);
	return status;
}
