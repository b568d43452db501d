/* curve_keys.c: CURVE key files: making a pair, reading one back. */
#include "curve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define KEY_FILE_MAX 4096

int pfm_curve_is_key(const char *s)
{
	uint8_t bin[32];
	return strlen(s) == PFM_Z85_KEY && zmq_z85_decode(bin, s) != NULL;
}

/* Write all of text to a new file (O_EXCL: an existing one is an error,
 * never replaced). */
static int write_new(const char *path, const char *text, mode_t mode,
		     pfm_err *e)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return pfm_errf(e, "%s: %s%s", path, strerror(errno),
				errno == EEXIST ? " (keys are never "
				"overwritten: remove it first, or choose "
				"another name)" : "");
	size_t n = strlen(text);
	int ok = write(fd, text, n) == (ssize_t)n && fsync(fd) == 0;
	int err = errno;
	if (close(fd) || !ok) {
		unlink(path);
		return pfm_errf(e, "%s: write: %s", path, strerror(err));
	}
	return 0;
}

int pfm_curve_keygen(const char *name, pfm_err *e)
{
	char pub[PFM_Z85_KEY + 1], sec[PFM_Z85_KEY + 1];
	char kpath[4096], ppath[4096], text[512];
	if (snprintf(kpath, sizeof kpath, "%s.key", name) >= (int)sizeof kpath ||
	    snprintf(ppath, sizeof ppath, "%s.pub", name) >= (int)sizeof ppath)
		return pfm_errf(e, "%s: name too long", name);
	if (zmq_curve_keypair(pub, sec))
		return pfm_errf(e, "zmq_curve_keypair: %s (libzmq without "
				"CURVE?)", zmq_strerror(errno));
	/* The public file first: if the pair exists, nothing is made. */
	snprintf(text, sizeof text, "# pathfm CURVE public key: give it to "
		 "the peers that trust %s\npublic-key = \"%s\"\n", name, pub);
	if (write_new(ppath, text, 0644, e))
		return -1;
	snprintf(text, sizeof text, "# pathfm CURVE key pair: SECRET, keep "
		 "it to its owner (mode 0600)\npublic-key = \"%s\"\n"
		 "secret-key = \"%s\"\n", pub, sec);
	int rc = write_new(kpath, text, 0600, e);
	memset(text, 0, sizeof text);
	memset(sec, 0, sizeof sec);
	if (rc)
		unlink(ppath);
	return rc;
}

/* Read a small key file into buf; for a secret one, refuse group or
 * others' access. */
static int slurp(const char *path, int secret, char *buf, size_t cap,
		 pfm_err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return pfm_errf(e, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return pfm_errf(e, "%s: not a regular file", path);
	}
	if (secret && (st.st_mode & 077)) {
		close(fd);
		return pfm_errf(e, "%s: a secret key that group or others may "
				"read (mode %04o) is no longer secret: chmod "
				"600 it (and make a new pair if others did "
				"read it)", path, (unsigned)(st.st_mode & 07777));
	}
	ssize_t n = read(fd, buf, cap - 1);
	int err = errno;
	close(fd);
	if (n < 0)
		return pfm_errf(e, "%s: %s", path, strerror(err));
	if ((size_t)n == cap - 1)
		return pfm_errf(e, "%s: too large for a key file", path);
	buf[n] = 0;
	return 0;
}

/* The value of `name = "..."` on a line of text (a key's 40
 * characters); other lines (comments, zcert's section names) are
 * skipped. */
static int field(const char *text, const char *name, const char *path,
		 char out[PFM_Z85_KEY + 1], pfm_err *e)
{
	size_t nl = strlen(name);
	for (const char *l = text, *end; l; l = end ? end + 1 : NULL) {
		end = strchr(l, '\n');
		l += strspn(l, " \t");
		if (strncmp(l, name, nl) || !strchr(" \t=", l[nl]))
			continue;
		const char *q = strchr(l, '"'), *q2 = q ? strchr(q + 1, '"') : NULL;
		if (!q2 || (end && q2 > end) || q2 - q - 1 != PFM_Z85_KEY)
			break;
		memcpy(out, q + 1, PFM_Z85_KEY);
		out[PFM_Z85_KEY] = 0;
		if (!pfm_curve_is_key(out))
			break;
		return 0;
	}
	return pfm_errf(e, "%s: no valid %s = \"<40 Z85 characters>\" line",
			path, name);
}

int pfm_curve_read_pair(const char *path, pfm_curve_pair *k, pfm_err *e)
{
	char text[KEY_FILE_MAX], derived[PFM_Z85_KEY + 1];
	int rc = slurp(path, 1, text, sizeof text, e);
	if (!rc)
		rc = field(text, "secret-key", path, k->sec, e);
	if (!rc)
		rc = field(text, "public-key", path, k->pub, e);
	if (!rc && (zmq_curve_public(derived, k->sec) || strcmp(derived, k->pub)))
		rc = pfm_errf(e, "%s: its public key is not the secret key's "
			      "(a damaged or edited file)", path);
	memset(text, 0, sizeof text);
	return rc;
}

int pfm_curve_read_public(const char *arg, char pub[PFM_Z85_KEY + 1],
			  pfm_err *e)
{
	char text[KEY_FILE_MAX];
	if (access(arg, F_OK) && pfm_curve_is_key(arg)) {
		memcpy(pub, arg, PFM_Z85_KEY + 1);
		return 0;
	}
	if (slurp(arg, 0, text, sizeof text, e))
		return -1;
	int rc = field(text, "public-key", arg, pub, e);
	memset(text, 0, sizeof text);
	return rc;
}
