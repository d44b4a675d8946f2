/* SPDX-License-Identifier: MIT */
/*
 * handrecctl-preview-access.c — who may see what `handrecctl preview` serves: the preview's token
 * (getrandom(), or kept in a --token-file) and the names the Host header may give. The HTTP
 * server (handrecctl-preview-http.c) asks both of every request; the threads: handrecctl-preview.h.
 *
 * The token is what keeps the images to whoever started the preview: every local user reaches a
 * port on 127.0.0.1, and the bus policy that keeps OpenPreview to group handrec does not reach
 * the HTTP server. The Host check is what keeps a web page of another site from reading them
 * through DNS rebinding (a name of its own made to resolve to 127.0.0.1): a browser sends that
 * name as the Host. A client that sends no Host at all (an HTTP/1.0 tool) is no browser.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/util.h"
#include "handrecctl-preview.h"

/* ---- the token -------------------------------------------------------------------------- */

/* A new token: PREVIEW_TOKEN_BYTES from getrandom(), in hex, into @buf. Return: 0 or -errno. */
static int random_token(char *buf, size_t len) {
        uint8_t b[PREVIEW_TOKEN_BYTES];
        size_t got = 0;

        if (len < 2 * sizeof(b) + 1)
                return -ENOBUFS;
        while (got < sizeof(b)) {
                ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
                if (n < 0 && errno != EINTR)
                        return -errno;
                if (n > 0)
                        got += (size_t) n;
        }
        for (size_t i = 0; i < sizeof(b); i++)
                snprintf(buf + 2 * i, 3, "%02x", b[i]);
        explicit_bzero(b, sizeof(b));
        return 0;
}

static bool token_chars(const char *s) {
        for (; *s; s++)
                if (!isalnum((unsigned char) *s) && *s != '-' && *s != '_')
                        return false;
        return true;
}

/* Make a new token and write it into @path, which does not exist. Return: 0, -EEXIST, or 1 (printed). */
static int token_file_create(struct preview_access *a, const char *path) {
        _cleanup_(closep) int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        char line[PREVIEW_TOKEN_MAX + 2];
        int r;

        if (fd < 0 && errno == EEXIST)
                return -EEXIST;
        if (fd < 0) {
                fprintf(stderr, "handrecctl: cannot make the token file %s: %s\n", path, strerror(errno));
                return 1;
        }
        if ((r = random_token(a->token, sizeof(a->token))) < 0) {
                fprintf(stderr, "handrecctl: cannot make a token (getrandom): %s\n", strerror(-r));
                unlink(path);
                return 1;
        }
        snprintf(line, sizeof(line), "%s\n", a->token);
        r = write_all(fd, (const uint8_t *) line, strlen(line));
        explicit_bzero(line, sizeof(line));
        if (r < 0 || close(TAKE_FD(fd)) < 0) {
                fprintf(stderr, "handrecctl: cannot write the token file %s: %s\n", path, strerror(r < 0 ? -r : errno));
                unlink(path);
                return 1;
        }
        return 0;
}

/* Read the token kept in @path. Return: 0, -ENOENT (no such file), or 1 (printed). */
static int token_file_read(struct preview_access *a, const char *path) {
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        char buf[PREVIEW_TOKEN_MAX + 8];
        struct stat st;
        ssize_t n;

        if (fd < 0 && errno == ENOENT)
                return -ENOENT;
        if (fd < 0 && errno == ELOOP) {
                fprintf(stderr, "handrecctl: the token file %s is a symbolic link: give the file itself.\n", path);
                return 1;
        }
        if (fd < 0 || fstat(fd, &st) < 0) {
                fprintf(stderr, "handrecctl: cannot read the token file %s: %s\n", path, strerror(errno));
                return 1;
        }
        if (!S_ISREG(st.st_mode)) {
                fprintf(stderr, "handrecctl: the token file %s is not a file.\n", path);
                return 1;
        }
        if (st.st_uid != geteuid()) {
                fprintf(stderr, "handrecctl: the token file %s is another user's: a token must be yours alone.\n",
                        path);
                return 1;
        }
        if (st.st_mode & 077) {
                fprintf(stderr,
                        "handrecctl: the token file %s can be read by others (mode %04o): a token must be secret; "
                        "chmod 600 %s, or remove it and handrecctl makes a new one.\n",
                        path, (unsigned) (st.st_mode & 07777), path);
                return 1;
        }
        n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0) {
                fprintf(stderr, "handrecctl: cannot read the token file %s: %s\n", path, strerror(errno));
                return 1;
        }
        buf[n] = 0;
        buf[strcspn(buf, "\r\n")] = 0;
        if (strlen(buf) < PREVIEW_TOKEN_MIN || strlen(buf) > PREVIEW_TOKEN_MAX || !token_chars(buf)) {
                explicit_bzero(buf, sizeof(buf));
                fprintf(stderr,
                        "handrecctl: the token file %s holds no token: one line of %d to %d letters, digits, - or "
                        "_ (remove it and handrecctl makes one).\n",
                        path, PREVIEW_TOKEN_MIN, PREVIEW_TOKEN_MAX);
                return 1;
        }
        memcpy(a->token, buf, strlen(buf) + 1); /* at most PREVIEW_TOKEN_MAX, checked above */
        explicit_bzero(buf, sizeof(buf));
        return 0;
}

/* The token: kept in @path (made there the first time), or new. Return: 0, or 1 (printed). */
static int token_setup(struct preview_access *a, const char *path) {
        int r;

        a->token_file = path;
        if (!path) {
                r = random_token(a->token, sizeof(a->token));
                if (r < 0)
                        fprintf(stderr, "handrecctl: cannot make a token (getrandom): %s\n", strerror(-r));
                return r < 0 ? 1 : 0;
        }
        /* twice: another preview may make the file between our two tries */
        for (unsigned i = 0; i < 2; i++) {
                r = token_file_read(a, path);
                if (r != -ENOENT)
                        return r;
                r = token_file_create(a, path);
                if (r != -EEXIST)
                        return r;
        }
        fprintf(stderr, "handrecctl: cannot read the token file %s: it comes and goes.\n", path);
        return 1;
}

bool access_token_equal(const struct preview_access *a, const char *given) {
        size_t n = strlen(a->token); /* the length is no secret: 48 digits, or the file's */
        volatile unsigned char diff = 0;

        if (!given || strnlen(given, n + 1) != n)
                return false;
        for (size_t i = 0; i < n; i++)
                diff |= (unsigned char) given[i] ^ (unsigned char) a->token[i];
        return diff == 0;
}

/* ---- the names it answers to ------------------------------------------------------------ */

bool host_name(const char *value, char *buf, size_t len) {
        char name[PREVIEW_HOST_MAX];
        const char *rest;
        size_t n;

        if (value[0] == '[') {
                const char *end = strchr(value, ']');
                char text[INET6_ADDRSTRLEN];
                struct in6_addr a6;
                n = end ? (size_t) (end - value - 1) : SIZE_MAX;
                if (n >= sizeof(text))
                        return false;
                memcpy(text, value + 1, n);
                text[n] = 0;
                if (inet_pton(AF_INET6, text, &a6) != 1 || !inet_ntop(AF_INET6, &a6, text, sizeof(text)))
                        return false;
                snprintf(name, sizeof(name), "[%s]", text);
                rest = end + 1;
        } else {
                n = strcspn(value, ":");
                rest = value + n;
                if (n == 0 || n >= sizeof(name))
                        return false;
                for (size_t i = 0; i < n; i++) {
                        unsigned char ch = value[i];
                        if (!isalnum(ch) && ch != '.' && ch != '-' && ch != '_')
                                return false;
                        name[i] = (char) tolower(ch);
                }
                if (n > 1 && name[n - 1] == '.') /* "localhost." is localhost */
                        n--;
                name[n] = 0;
        }
        /* a port may follow; it is not checked (ssh -L may forward another one) */
        if (*rest &&
            (rest[0] != ':' || !rest[1] || strspn(rest + 1, "0123456789") != strlen(rest + 1) || strlen(rest + 1) > 5))
                return false;
        if (strlen(name) >= len)
                return false;
        memcpy(buf, name, strlen(name) + 1);
        return true;
}

/* Add @name (a name, or an address: IPv6 with or without brackets; no port) to the names. Return: 0, or -EINVAL. */
static int add_host(struct preview_access *a, const char *name) {
        char bracketed[PREVIEW_HOST_MAX + 2], host[PREVIEW_HOST_MAX];
        struct in6_addr a6;

        if (name[0] != '[' && strchr(name, ':')) {
                if (inet_pton(AF_INET6, name, &a6) != 1)
                        return -EINVAL;
                snprintf(bracketed, sizeof(bracketed), "[%s]", name);
                name = bracketed;
        }
        if (strlen(name) >= PREVIEW_HOST_MAX || !host_name(name, host, sizeof(host)))
                return -EINVAL;
        if (name[0] == '[' ? name[strlen(name) - 1] != ']' : strchr(name, ':') != NULL)
                return -EINVAL; /* a port */
        for (unsigned i = 0; i < a->n_hosts; i++)
                if (streq(a->hosts[i], host))
                        return 0;
        if (a->n_hosts == ELEMENTSOF(a->hosts))
                return -E2BIG;
        snprintf(a->hosts[a->n_hosts++], PREVIEW_HOST_MAX, "%s", host);
        return 0;
}

int access_setup(struct preview_access *a, const char *listen_host, const char *url, const char *const *allow_hosts,
                 unsigned n_allow_hosts, const char *token_file) {
        char bound[PREVIEW_HOST_MAX], name[PREVIEW_HOST_MAX];
        const char *p = strstr(url, "://");

        *a = (struct preview_access){};
        add_host(a, "127.0.0.1");
        add_host(a, "localhost");
        add_host(a, "[::1]");
        add_host(a, listen_host); /* as --listen gave it: 0.0.0.0, board.local, 192.168.1.20 */
        /* and as bound ("http://127.0.0.1:8080/": the name of the URL printed) */
        if (p && strlen(p + 3) < sizeof(bound)) {
                snprintf(bound, sizeof(bound), "%s", p + 3);
                bound[strcspn(bound, "/")] = 0;
                if (host_name(bound, name, sizeof(name)))
                        add_host(a, name);
        }
        for (unsigned i = 0; i < n_allow_hosts; i++) {
                int r = add_host(a, allow_hosts[i]);
                if (r == -E2BIG) {
                        fprintf(stderr, "handrecctl: too many --allow-host names (a preview answers to %u in all).\n",
                                (unsigned) ELEMENTSOF(a->hosts));
                        return 2;
                }
                if (r < 0) {
                        fprintf(stderr,
                                "handrecctl: --allow-host takes the name or address by which the preview is "
                                "reached, without a port, such as board.local or 192.168.1.20, not '%s'; try "
                                "'handrecctl preview --help'.\n",
                                allow_hosts[i]);
                        return 2;
                }
        }
        return token_setup(a, token_file);
}

/* The local address of the connection @fd, as host_name() writes one, into @buf. Return: whether it has one. */
static bool local_address(int fd, char *buf, size_t len) {
        struct sockaddr_storage sa;
        socklen_t sa_len = sizeof(sa);
        char text[INET6_ADDRSTRLEN];

        if (fd < 0 || getsockname(fd, (struct sockaddr *) &sa, &sa_len) < 0)
                return false;
        if (sa.ss_family == AF_INET)
                return inet_ntop(AF_INET, &((struct sockaddr_in *) &sa)->sin_addr, buf, len) != NULL;
        if (sa.ss_family != AF_INET6)
                return false;
        const struct in6_addr *a6 = &((struct sockaddr_in6 *) &sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) /* a listener on [::] takes IPv4 too */
                return inet_ntop(AF_INET, &a6->s6_addr[12], buf, len) != NULL;
        if (!inet_ntop(AF_INET6, a6, text, sizeof(text)))
                return false;
        snprintf(buf, len, "[%s]", text);
        return true;
}

bool access_host_allowed(const struct preview_access *a, const char *name, int fd) {
        char local[INET6_ADDRSTRLEN + 2];

        for (unsigned i = 0; i < a->n_hosts; i++)
                if (streq(a->hosts[i], name))
                        return true;
        /* the address the client came to (--listen 0.0.0.0: each of this machine's): an address in
         * the Host cannot be a name rebound by DNS */
        return local_address(fd, local, sizeof(local)) && streq(local, name);
}
