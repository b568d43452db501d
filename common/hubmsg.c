#include "hubmsg.h"

#include <errno.h>
#include <string.h>

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int pfm_hub_send(void *sock, const zmq_msg_t *id, const pfm_hubmsg *m,
		 zmq_msg_t *body, const char *text, int flags)
{
	unsigned char h[PFM_HUB_HDR] = {'P', 'H', PFM_HUB_VERSION};
	h[3] = (unsigned char)m->cmd;
	for (int i = 0; i < 4; i++)
		h[4 + i] = (unsigned char)(m->flags >> (8 * i));
	put64(h + 8, m->n);
	put64(h + 16, m->a);
	put64(h + 24, m->b);
	int more = body || text ? ZMQ_SNDMORE : 0;
	if (id) {
		zmq_msg_t c;
		zmq_msg_init(&c);
		zmq_msg_copy(&c, (zmq_msg_t *)id);
		if (zmq_msg_send(&c, sock, flags | ZMQ_SNDMORE) < 0) {
			int err = errno;
			zmq_msg_close(&c);
			errno = err;
			return -1;
		}
	}
	/* After the first part the rest of a message goes out whole. */
	if (zmq_send(sock, h, sizeof h, (id ? 0 : flags) | more) < 0)
		return -1;
	if (text)
		return zmq_send(sock, text, strlen(text), 0) < 0 ? -1 : 0;
	if (body && zmq_msg_send(body, sock, 0) < 0)
		return -1;
	return 0;
}

static void drain(void *sock)
{
	int more;
	size_t sz = sizeof more;
	zmq_msg_t x;
	while (!zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz) && more) {
		zmq_msg_init(&x);
		zmq_msg_recv(&x, sock, 0);
		zmq_msg_close(&x);
	}
}

static int more(void *sock)
{
	int m = 0;
	size_t sz = sizeof m;
	zmq_getsockopt(sock, ZMQ_RCVMORE, &m, &sz);
	return m;
}

int pfm_hub_recv(void *sock, zmq_msg_t *id, pfm_hubmsg *m, zmq_msg_t *body,
		 int *has_body, int flags, pfm_err *e)
{
	zmq_msg_t h;
	*has_body = 0;
	if (id && zmq_msg_recv(id, sock, flags) < 0)
		return errno == EAGAIN || errno == EINTR ?
			       0 : pfm_errf(e, "receive: %s", zmq_strerror(errno));
	zmq_msg_init(&h);
	if (zmq_msg_recv(&h, sock, id ? 0 : flags) < 0) {
		int err = errno;
		zmq_msg_close(&h);
		errno = err;
		return !id && (err == EAGAIN || err == EINTR) ?
			       0 : pfm_errf(e, "receive: %s", zmq_strerror(err));
	}
	const unsigned char *p = zmq_msg_data(&h);
	if (zmq_msg_size(&h) != PFM_HUB_HDR || p[0] != 'P' || p[1] != 'H') {
		zmq_msg_close(&h);
		drain(sock);
		return pfm_errf(e, "not a frame-hub message");
	}
	if (p[2] != PFM_HUB_VERSION) {
		int v = p[2];
		zmq_msg_close(&h);
		drain(sock);
		return pfm_errf(e, "frame-hub protocol version %d, not %d", v,
				PFM_HUB_VERSION);
	}
	m->cmd = p[3];
	m->flags = (uint32_t)p[4] | (uint32_t)p[5] << 8 |
		   (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
	m->n = get64(p + 8);
	m->a = get64(p + 16);
	m->b = get64(p + 24);
	zmq_msg_close(&h);
	if (more(sock)) {
		if (zmq_msg_recv(body, sock, 0) < 0)
			return pfm_errf(e, "receive: %s", zmq_strerror(errno));
		*has_body = 1;
		if (more(sock)) {
			drain(sock);
			return pfm_errf(e, "frame-hub message with extra parts");
		}
	}
	return 1;
}

const char *pfm_hub_cmd_name(int cmd)
{
	switch (cmd) {
	case PFM_HUB_HELLO: return "hello";
	case PFM_HUB_TAKE: return "take";
	case PFM_HUB_OUT: return "out";
	case PFM_HUB_DONE: return "done";
	case PFM_HUB_BYE: return "bye";
	case PFM_HUB_PING: return "ping";
	case PFM_HUB_WELCOME: return "welcome";
	case PFM_HUB_WORK: return "work";
	case PFM_HUB_MARK: return "mark";
	case PFM_HUB_END: return "end";
	case PFM_HUB_GONE: return "gone";
	case PFM_HUB_FAIL: return "fail";
	case PFM_HUB_CLOSE: return "close";
	default: return "unknown";
	}
}
