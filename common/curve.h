/* curve.h: CURVE security for the ZeroMQ transports: Curve25519
 * encryption (ZMTP CURVE, RFC 26) and, on the side that binds, ZAP
 * authentication (RFC 27) against a directory of allowed public keys.
 *
 * The side that binds is the CURVE server (its key pair and the allowed
 * keys), the side that connects the client (its key pair and the
 * server's public key). Without keys, endpoints beyond loopback are
 * refused unless the program was told --insecure. See pathfm(7),
 * SECURITY. */
#ifndef PFM_CURVE_H
#define PFM_CURVE_H

#include "err.h"
#include "io.h"

#define PFM_Z85_KEY 40 /* a 32-byte key as Z85 text */
#define PFM_ZAP_DOMAIN "pathfm"

typedef struct {
	char pub[PFM_Z85_KEY + 1], sec[PFM_Z85_KEY + 1];
} pfm_curve_pair;

/* Key files, text:
 *   # comment
 *   public-key = "<40 Z85 characters>"
 *   secret-key = "<40 Z85 characters>"      (NAME.key only)
 * NAME.key holds the pair (mode 0600), NAME.pub the public key. */

/* Make NAME.key and NAME.pub; never overwrites either (O_EXCL). */
int pfm_curve_keygen(const char *name, pfm_err *e);
/* The pair in path; refused if group or others may read it. */
int pfm_curve_read_pair(const char *path, pfm_curve_pair *k, pfm_err *e);
/* A public key: arg is a key file (.pub or .key: its public-key line)
 * or, when no such file exists, 40 characters of Z85. */
int pfm_curve_read_public(const char *arg, char pub[PFM_Z85_KEY + 1],
			  pfm_err *e);
/* Is s 40 characters of valid Z85 for a key? */
int pfm_curve_is_key(const char *s);

/* The options of o, with the environment filling what was not given. */
typedef struct {
	const char *secret, *server, *allow;
	int insecure;
} pfm_curve_cfg;
void pfm_curve_cfg_get(const pfm_io_opts *o, pfm_curve_cfg *c);

/* Would a socket on the endpoint list (comma-separated, @ binds,
 * > connects, neither: bind_default) be allowed, with its keys
 * readable? 0, or -1 with e saying why and how to fix it. */
int pfm_curve_check(const char *list, int bind_default,
		    const pfm_io_opts *o, pfm_err *e);

/* The ZAP handler of one ZeroMQ context: a thread that answers the
 * context's CURVE servers, refusing (and logging on stderr) keys not in
 * the allowed directory. */
typedef struct pfm_zap pfm_zap;
pfm_zap *pfm_zap_start(void *ctx, const char *dir, pfm_err *e);
/* After zmq_ctx_term(ctx) (which ends the thread): wait and free. */
void pfm_zap_join(pfm_zap *z);

/* Before attaching sock (in ctx) to list: pfm_curve_check, then the
 * CURVE options on sock and, for a server, a ZAP handler in ctx (in
 * *zap, to join after the context ends; left NULL otherwise). *connects
 * is set when sock only connects (a failed handshake then means the
 * server will not have it); *curve when it uses CURVE. 0 or -1. */
int pfm_curve_setup(void *ctx, void *sock, const char *list,
		    int bind_default, const pfm_io_opts *o, pfm_zap **zap,
		    int *connects, int *curve, pfm_err *e);

#endif
