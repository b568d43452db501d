/* curve_policy.c: which endpoints may run in the clear, and the CURVE
 * options a socket gets when keys are given. */
#include "curve.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

void pfm_curve_cfg_get(const pfm_io_opts *o, pfm_curve_cfg *c)
{
	const char *s;
	c->secret = o && o->curve_secret ? o->curve_secret :
		(s = getenv("PFM_CURVE_SECRET")) && *s ? s : NULL;
	c->server = o && o->curve_server ? o->curve_server :
		(s = getenv("PFM_CURVE_SERVER")) && *s ? s : NULL;
	c->allow = o && o->curve_allow ? o->curve_allow :
		(s = getenv("PFM_CURVE_ALLOW")) && *s ? s : NULL;
	c->insecure = o && o->insecure;
}

/* What the list asks for, endpoint by endpoint. */
typedef struct {
	int binds, connects, networked; /* counts */
	const char *open_bind, *open_connect; /* first beyond loopback */
	char buf[4096];
} ep_summary;

/* The host of "tcp://HOST:PORT" (a connect may be "tcp://SRC;HOST:PORT"):
 * loopback, ipc and inproc stay on this machine. Wildcards and names
 * other than localhost count as the network. */
static int local(const char *ep)
{
	if (!strncmp(ep, "ipc://", 6) || !strncmp(ep, "inproc://", 9))
		return 1;
	if (strncmp(ep, "tcp://", 6))
		return 0; /* ws://, pgm://, ...: the network */
	const char *h = ep + 6, *semi = strchr(h, ';');
	if (semi)
		h = semi + 1;
	const char *colon = strrchr(h, ':');
	size_t n = colon ? (size_t)(colon - h) : strlen(h);
	if (n >= 2 && h[0] == '[' && h[n - 1] == ']')
		h++, n -= 2;
	if (n == 3 && !strncmp(h, "::1", 3))
		return 1;
	if ((n == 9 && !strncmp(h, "localhost", 9)) ||
	    (n == 2 && !strncmp(h, "lo", 2)))
		return 1;
	return n > 4 && !strncmp(h, "127.", 4) &&
	       strspn(h, "0123456789.") == n;
}

static int summarize(const char *list, int bind_default, ep_summary *s,
		     pfm_err *e)
{
	memset(s, 0, sizeof *s);
	size_t len = strlen(list);
	if (len >= sizeof s->buf)
		return pfm_errf(e, "%.40s...: endpoint list too long", list);
	memcpy(s->buf, list, len);
	char *save = NULL;
	for (char *ep = strtok_r(s->buf, ",", &save); ep;
	     ep = strtok_r(NULL, ",", &save)) {
		int bind = bind_default;
		if (*ep == '@' || *ep == '>')
			bind = *ep++ == '@';
		int loc = local(ep);
		*(bind ? &s->binds : &s->connects) += 1;
		s->networked += strncmp(ep, "inproc://", 9) != 0;
		if (!loc && bind && !s->open_bind)
			s->open_bind = ep;
		if (!loc && !bind && !s->open_connect)
			s->open_connect = ep;
	}
	return 0;
}

static const char fix[] = "see pathfm(7), SECURITY";

/* With keys: is each side's key there? */
static int keys_complete(const ep_summary *s, const char *list,
			 const pfm_curve_cfg *c, pfm_err *e)
{
	if (s->binds && s->connects)
		return pfm_errf(e, "%s: with CURVE a socket is a server (binds) "
				"or a client (connects), not both", list);
	if (s->binds && !c->allow)
		return pfm_errf(e, "%s: binding with a CURVE key pair needs "
				"--curve-allow DIR (or PFM_CURVE_ALLOW): the "
				"public keys of the peers let in; %s", list, fix);
	if (s->connects && !c->server)
		return pfm_errf(e, "%s: connecting with a CURVE key pair needs "
				"--curve-server KEY (or PFM_CURVE_SERVER): the "
				"public key of the program that binds; %s",
				list, fix);
	return 0;
}

int pfm_curve_check(const char *list, int bind_default,
		    const pfm_io_opts *o, pfm_err *e)
{
	pfm_curve_cfg c;
	ep_summary s;
	pfm_curve_cfg_get(o, &c);
	if (summarize(list, bind_default, &s, e))
		return -1;
	if (c.secret) {
		pfm_curve_pair k;
		char pub[PFM_Z85_KEY + 1];
		if (!s.networked)
			return 0; /* inproc: in-process, nothing to encrypt */
		int rc = keys_complete(&s, list, &c, e);
		if (!rc && s.binds && access(c.allow, R_OK | X_OK))
			rc = pfm_errf(e, "%s: %s (--curve-allow: the directory "
				      "of allowed public keys)", c.allow,
				      strerror(errno));
		if (!rc)
			rc = pfm_curve_read_pair(c.secret, &k, e);
		if (!rc && s.connects)
			rc = pfm_curve_read_public(c.server, pub, e);
		memset(&k, 0, sizeof k);
		return rc;
	}
	if ((c.server || c.allow) && s.networked)
		return pfm_errf(e, "%s: --curve-server and --curve-allow need "
				"this program's own key pair too "
				"(--curve-secret FILE or PFM_CURVE_SECRET); %s",
				list, fix);
	if (c.insecure)
		return 0;
	if (s.open_bind)
		return pfm_errf(e, "refusing to bind %s without CURVE keys: "
				"anyone who can reach this host could read "
				"the frames (patient tiles) or push frames of "
				"their own into the stream. Give a key pair "
				"and the peers' public keys (--curve-secret, "
				"--curve-allow), bind to loopback or ipc://, "
				"or say --insecure to take the risk; %s",
				s.open_bind, fix);
	if (s.open_connect)
		return pfm_errf(e, "refusing to connect to %s without CURVE "
				"keys: frames would cross the network in the "
				"clear, to or from a peer nobody "
				"authenticated. Give a key pair and the "
				"server's public key (--curve-secret, "
				"--curve-server) or say --insecure to take "
				"the risk; %s", s.open_connect, fix);
	return 0;
}

static int set_key(void *sock, int opt, const char *z85, const char *what,
		   pfm_err *e)
{
	if (zmq_setsockopt(sock, opt, z85, PFM_Z85_KEY))
		return pfm_errf(e, "CURVE %s: %s", what, zmq_strerror(errno));
	return 0;
}

int pfm_curve_setup(void *ctx, void *sock, const char *list,
		    int bind_default, const pfm_io_opts *o, pfm_zap **zap,
		    int *connects, int *curve, pfm_err *e)
{
	pfm_curve_cfg c;
	ep_summary s;
	pfm_curve_pair k;
	char pub[PFM_Z85_KEY + 1];
	*zap = NULL;
	if (pfm_curve_check(list, bind_default, o, e))
		return -1;
	pfm_curve_cfg_get(o, &c);
	summarize(list, bind_default, &s, e); /* checked above */
	*connects = s.connects && !s.binds && s.networked;
	*curve = c.secret && s.networked;
	if (!*curve)
		return 0;
	if (!zmq_has("curve"))
		return pfm_errf(e, "this libzmq has no CURVE: keys cannot be "
				"used (install one built with libsodium)");
	if (pfm_curve_read_pair(c.secret, &k, e))
		return -1;
	int rc, one = 1;
	if (s.binds) {
		/* The handler answers before the first peer can arrive. */
		if (!(*zap = pfm_zap_start(ctx, c.allow, e)))
			rc = -1;
		else if (zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, PFM_ZAP_DOMAIN,
					strlen(PFM_ZAP_DOMAIN)) ||
			 zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one))
			rc = pfm_errf(e, "CURVE server: %s", zmq_strerror(errno));
		else
			rc = set_key(sock, ZMQ_CURVE_SECRETKEY, k.sec,
				     "secret key", e);
	} else {
		rc = pfm_curve_read_public(c.server, pub, e) ||
		     set_key(sock, ZMQ_CURVE_SERVERKEY, pub, "server key", e) ||
		     set_key(sock, ZMQ_CURVE_PUBLICKEY, k.pub, "public key", e) ||
		     set_key(sock, ZMQ_CURVE_SECRETKEY, k.sec, "secret key", e);
	}
	memset(&k, 0, sizeof k);
	return rc ? -1 : 0;
}
