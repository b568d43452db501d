/* curve_zap.c: the ZAP handler (RFC 27) of a CURVE server's context: a
 * thread on inproc://zeromq.zap.01 that lets in the public keys found in
 * the allowed directory (its .pub files, read again when it changes) and
 * refuses others, saying on stderr who tried, with which key, when. */
#include "curve.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zmq.h>

#include "cli.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_PARTS 7      /* version, id, domain, address, identity,
			  * mechanism, key */
#define ZAP_PART_MAX 256
#define SEEN 32          /* refused keys remembered, for the log's sake */
#define QUIET_S 10.0     /* one line per refused key this often at most */

typedef struct {
	char key[PFM_Z85_KEY + 1];
	double last;
	unsigned long more; /* refusals not logged since */
} seen_key;

struct pfm_zap {
	void *rep;
	pthread_t th;
	char dir[4096];
	struct timespec mtime; /* of dir, when the keys were read */
	char (*keys)[PFM_Z85_KEY + 1];
	int nkeys;
	seen_key seen[SEEN];
	int nseen;
};

static int has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n > m && !strcmp(s + n - m, suf);
}

/* The .pub files of z->dir into z->keys. A file that is not a public
 * key is an error (e), the others are kept. -1 also when the directory
 * cannot be read. */
static int load(pfm_zap *z, pfm_err *e)
{
	struct stat st;
	DIR *d = opendir(z->dir);
	if (!d || fstat(dirfd(d), &st)) {
		if (d)
			closedir(d);
		return pfm_errf(e, "%s: %s (the allowed public keys)", z->dir,
				strerror(errno));
	}
	z->mtime = st.st_mtim;
	z->nkeys = 0;
	int rc = 0, cap = 0;
	for (struct dirent *de; (de = readdir(d));) {
		char path[4096 + 256];
		if (!has_suffix(de->d_name, ".pub"))
			continue;
		if (z->nkeys == cap) {
			cap = cap ? 2 * cap : 16;
			void *p = realloc(z->keys, (size_t)cap * sizeof *z->keys);
			if (!p) {
				rc = pfm_errf(e, "out of memory");
				break;
			}
			z->keys = p;
		}
		snprintf(path, sizeof path, "%s/%s", z->dir, de->d_name);
		if (pfm_curve_read_public(path, z->keys[z->nkeys], e))
			rc = -1;
		else
			z->nkeys++;
	}
	closedir(d);
	return rc;
}

/* Keys added or removed since they were read: read them again. */
static void reload(pfm_zap *z)
{
	struct stat st;
	pfm_err e = {0};
	if (stat(z->dir, &st) || (st.st_mtim.tv_sec == z->mtime.tv_sec &&
				  st.st_mtim.tv_nsec == z->mtime.tv_nsec))
		return;
	if (load(z, &e))
		pfm_warn("%s", e.msg);
}

static int allowed(const pfm_zap *z, const char *key)
{
	for (int i = 0; i < z->nkeys; i++)
		if (!strcmp(z->keys[i], key))
			return 1;
	return 0;
}

/* Say who was refused; a peer that retries every tenth of a second gets
 * a line every QUIET_S seconds, with a count. */
static void log_refusal(pfm_zap *z, const char *addr, const char *key,
			const char *why)
{
	double now = pfm_now();
	int i;
	for (i = 0; i < z->nseen && strcmp(z->seen[i].key, key); i++)
		;
	if (i == z->nseen) {
		i = z->nseen < SEEN ? z->nseen++ : 0;
		snprintf(z->seen[i].key, sizeof z->seen[i].key, "%s", key);
		z->seen[i].last = -1e9;
		z->seen[i].more = 0;
	}
	seen_key *s = &z->seen[i];
	if (now - s->last < QUIET_S) {
		s->more++;
		return;
	}
	char when[32];
	time_t t = time(NULL);
	struct tm tm;
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	char more[64] = "";
	if (s->more)
		snprintf(more, sizeof more, " (and %lu times since)", s->more);
	pfm_warn("%s: refused a ZeroMQ peer at %s, key %s: %s%s", when, addr,
		 key, why, more);
	s->last = now;
	s->more = 0;
}

typedef struct {
	char p[ZAP_PARTS][ZAP_PART_MAX];
	size_t n[ZAP_PARTS];
	int count;
} zap_req;

static int is(const zap_req *r, int i, const char *s)
{
	return r->count > i && r->n[i] == strlen(s) && !memcmp(r->p[i], s, r->n[i]);
}

/* 200 or 400, and why. */
static const char *decide(pfm_zap *z, const zap_req *r, char key[PFM_Z85_KEY + 1])
{
	strcpy(key, "-");
	if (!is(r, 0, "1.0") || r->count != ZAP_PARTS)
		return "not a ZAP 1.0 request";
	if (!is(r, 5, "CURVE") || r->n[6] != 32)
		return "not CURVE";
	if (!zmq_z85_encode(key, (const uint8_t *)r->p[6], 32))
		return "bad key";
	reload(z);
	return allowed(z, key) ? NULL : "not among the allowed keys";
}

static void answer(pfm_zap *z, const zap_req *r)
{
	char key[PFM_Z85_KEY + 1], addr[ZAP_PART_MAX];
	const char *why = decide(z, r, key);
	if (why) {
		size_t n = r->count > 3 ? r->n[3] : 0;
		memcpy(addr, r->p[3], n);
		addr[n] = 0;
		char full[4400];
		snprintf(full, sizeof full, "%s (%s)", why, z->dir);
		log_refusal(z, n ? addr : "?", key, full);
	}
	const char *status = why ? "400" : "200";
	const char *text = why ? why : "OK";
	zmq_send(z->rep, "1.0", 3, ZMQ_SNDMORE);
	zmq_send(z->rep, r->p[1], r->count > 1 ? r->n[1] : 0, ZMQ_SNDMORE);
	zmq_send(z->rep, status, 3, ZMQ_SNDMORE);
	zmq_send(z->rep, text, strlen(text), ZMQ_SNDMORE);
	zmq_send(z->rep, "", 0, ZMQ_SNDMORE); /* user id */
	zmq_send(z->rep, "", 0, 0);           /* metadata */
}

/* One request, all its parts: 0, or -1 when the context ends. */
static int receive(pfm_zap *z, zap_req *r)
{
	r->count = 0;
	for (int more = 1; more;) {
		zmq_msg_t m;
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, z->rep, 0) < 0) {
			zmq_msg_close(&m);
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r->count < ZAP_PARTS) {
			size_t n = zmq_msg_size(&m);
			/* A part too long for its slot is not a ZAP part. */
			r->n[r->count] = n < ZAP_PART_MAX ? n : 0;
			memcpy(r->p[r->count], zmq_msg_data(&m), r->n[r->count]);
		}
		r->count++;
		more = zmq_msg_more(&m);
		zmq_msg_close(&m);
	}
	return 0;
}

static void *run(void *arg)
{
	pfm_zap *z = arg;
	zap_req r;
	while (!receive(z, &r))
		answer(z, &r);
	zmq_close(z->rep);
	return NULL;
}

pfm_zap *pfm_zap_start(void *ctx, const char *dir, pfm_err *e)
{
	pfm_zap *z = calloc(1, sizeof *z);
	if (!z) {
		pfm_errf(e, "out of memory");
		return NULL;
	}
	snprintf(z->dir, sizeof z->dir, "%s", dir);
	int zero = 0;
	if (load(z, e))
		goto fail;
	if (!z->nkeys) {
		pfm_errf(e, "%s: no public keys (*.pub) in it: no peer could "
			 "connect", dir);
		goto fail;
	}
	if (!(z->rep = zmq_socket(ctx, ZMQ_REP)) ||
	    zmq_setsockopt(z->rep, ZMQ_LINGER, &zero, sizeof zero) ||
	    zmq_bind(z->rep, ZAP_ENDPOINT)) {
		pfm_errf(e, "ZAP handler: %s", zmq_strerror(errno));
		goto fail;
	}
	if (pthread_create(&z->th, NULL, run, z) == 0)
		return z;
	pfm_errf(e, "ZAP handler: cannot start a thread");
fail:
	if (z->rep)
		zmq_close(z->rep);
	free(z->keys);
	free(z);
	return NULL;
}

void pfm_zap_join(pfm_zap *z)
{
	if (!z)
		return;
	pthread_join(z->th, NULL);
	free(z->keys);
	free(z);
}
