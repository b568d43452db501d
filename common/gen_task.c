/* gen_task.c: tokenized items, answer classes, the model and its
 * checkpoint for report-gen and vqa-train. */
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_task.h"
#include "json.h"

/* the clean rule of both programs: HistGen's (= R2Gen's MIMIC-CXR) */
#define CLEAN PFM_CLEAN_MIMIC_CXR

static int task_texts_add(pfm_vocab_counter *c, const pfm_gen_set *s, int kind,
			  int task, pfm_err *e)
{
	for (int i = 0; i < s->n; i++) {
		const pfm_gen_item *it = &s->items[i];
		if (it->split != PFM_SPLIT_TRAIN)
			continue;
		const char *q = kind == PFM_GEN_REPORT ? it->text : it->question;
		if (pfm_vocab_counter_add(c, q, strlen(q), e))
			return pfm_err_prefix(e, "%s", it->where);
		if (task == PFM_SEQ_VQA_GEN && pfm_vocab_counter_add(c, it->text, strlen(it->text), e))
			return pfm_err_prefix(e, "%s", it->where);
	}
	return 0;
}

/* text -> ids without bos/eos, at most max_len */
static int encode(const pfm_vocab *v, const char *text, int max_len, int32_t **out,
		  int *len, pfm_err *e)
{
	int32_t *ids;
	size_t n;
	if (pfm_vocab_encode(v, text, strlen(text), &ids, &n, e))
		return -1;
	int k = (int)n - 2 < max_len ? (int)n - 2 : max_len;
	memmove(ids, ids + 1, sizeof *ids * k);
	*out = ids, *len = k;
	return 0;
}

typedef struct {
	char *a;
	int count;
} ans_count;

static int by_count(const void *x, const void *y)
{
	const ans_count *a = x, *b = y;
	return a->count != b->count ? (b->count > a->count) - (b->count < a->count)
				    : strcmp(a->a, b->a);
}

static int find_answer(char **answers, int n, const char *a)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(answers[i], a))
			return i;
	return -1;
}

/* The answer classes: the normalised training answers, most frequent
 * first (ties by bytes), the max_answers first of them (0: all). */
static int build_answers(pfm_gen_task *t, int max_answers, pfm_err *e)
{
	const pfm_gen_set *s = t->set;
	ans_count *ac = calloc(s->n + 1, sizeof *ac);
	int na = 0, rc = 0;
	if (!ac)
		return pfm_errf(e, "out of memory");
	for (int i = 0; !rc && i < s->n; i++) {
		const pfm_gen_item *it = &s->items[i];
		if (it->split != PFM_SPLIT_TRAIN)
			continue;
		char *a = pfm_vqa_normalize(it->text, strlen(it->text), e);
		if (!a) {
			rc = -1;
			break;
		}
		int k = 0;
		while (k < na && strcmp(ac[k].a, a))
			k++;
		if (k == na)
			ac[na++].a = a;
		else
			free(a);
		ac[k].count++;
	}
	if (!rc && !na)
		rc = pfm_errf(e, "no training questions");
	qsort(ac, na, sizeof *ac, by_count);
	int keep = max_answers && max_answers < na ? max_answers : na;
	t->answers = calloc(na + 1, sizeof *t->answers);
	if (!rc && !t->answers)
		rc = pfm_errf(e, "out of memory");
	for (int k = 0; k < na; k++)
		if (!rc && k < keep)
			t->answers[t->nans++] = ac[k].a;
		else
			free(ac[k].a);
	free(ac);
	return rc;
}

/* The baseline's class scores per question type: the training count
 * among items of that type; a class never seen for the type ranks below
 * every seen one, by its count for the other type. */
static int build_prior(pfm_gen_task *t, pfm_err *e)
{
	int K = t->nans, *cnt = calloc(2 * (size_t)K + 1, sizeof *cnt);
	t->prior[0] = malloc(sizeof(double) * (K + 1));
	t->prior[1] = malloc(sizeof(double) * (K + 1));
	if (!cnt || !t->prior[0] || !t->prior[1])
		return free(cnt), pfm_errf(e, "out of memory");
	const int *tr = t->of_split[PFM_SPLIT_TRAIN];
	for (int i = 0; i < t->nsplit[PFM_SPLIT_TRAIN]; i++)
		if (t->cls[tr[i]] >= 0)
			cnt[2 * t->cls[tr[i]] + (t->set->items[tr[i]].type == PFM_GEN_OPEN)]++;
	for (int c = 0; c < K; c++)
		for (int ty = 0; ty < 2; ty++)
			t->prior[ty][c] = cnt[2 * c + ty] ? cnt[2 * c + ty] : -1.0 / (1 + cnt[2 * c + !ty]);
	free(cnt);
	return 0;
}

/* The classes an item may answer: yes/no for closed questions without
 * choices, its choices for multiple choice, all for open ones. */
static int build_allowed(pfm_gen_task *t, pfm_err *e)
{
	const pfm_gen_set *s = t->set;
	size_t cap = 2 * (size_t)s->n + 1;
	for (int i = 0; i < s->n; i++)
		cap += s->items[i].nchoices;
	t->allowed = malloc(sizeof *t->allowed * cap);
	t->allowed_off = malloc(sizeof *t->allowed_off * (s->n + 1));
	if (!t->allowed || !t->allowed_off)
		return pfm_errf(e, "out of memory");
	int w = 0;
	for (int i = 0; i < s->n; i++) {
		const pfm_gen_item *it = &s->items[i];
		t->allowed_off[i] = w;
		if (it->choices) {
			for (int k = 0; k < it->nchoices; k++) {
				char *a = pfm_vqa_normalize(it->choices[k], strlen(it->choices[k]), e);
				if (!a)
					return -1;
				int c = find_answer(t->answers, t->nans, a);
				free(a);
				int dup = 0;
				for (int j = t->allowed_off[i]; j < w; j++)
					dup |= t->allowed[j] == c;
				if (c >= 0 && !dup)
					t->allowed[w++] = c;
			}
		} else if (it->type == PFM_GEN_CLOSED) {
			/* those of yes and no that are classes (--max-answers
			 * may leave one out) */
			int y = find_answer(t->answers, t->nans, "yes");
			int n = find_answer(t->answers, t->nans, "no");
			if (y >= 0)
				t->allowed[w++] = y;
			if (n >= 0)
				t->allowed[w++] = n;
		}
	}
	t->allowed_off[s->n] = w;
	return 0;
}

static int load_checkpoint(pfm_gen_task *t, const char *path, pfm_err *e)
{
	pfm_st *st;
	if (pfm_st_open(&st, path, e))
		return -1;
	const char *vj = pfm_st_meta(st, "pathfm_vocab"), *pj = pfm_st_meta(st, "pathfm_program");
	const char *want = t->kind == PFM_GEN_REPORT ? "report-gen" : "vqa-train";
	int rc = 0;
	if (!vj || !pj)
		rc = pfm_errf(e, "%s: not a %s checkpoint (no pathfm_vocab or pathfm_program in its metadata)",
			      path, want);
	else if (strcmp(pj, want))
		rc = pfm_errf(e, "%s: a %s checkpoint, not %s's", path, pj, want);
	else if (!(t->vocab = pfm_vocab_from_json(vj, strlen(vj), e)))
		rc = pfm_err_prefix(e, "%s: pathfm_vocab", path);
	if (!rc && t->kind == PFM_GEN_VQA) {
		const char *aj = pfm_st_meta(st, "pathfm_answers");
		msgpack_sbuffer sb;
		msgpack_zone z;
		msgpack_sbuffer_init(&sb);
		msgpack_zone_init(&z, 4096);
		msgpack_object o;
		if (!aj)
			rc = pfm_errf(e, "%s: no pathfm_answers in its metadata", path);
		else if (pfm_json_to_object(aj, strlen(aj), &sb, &z, &o, e))
			rc = pfm_err_prefix(e, "%s: pathfm_answers", path);
		else if (o.type != MSGPACK_OBJECT_ARRAY || !o.via.array.size)
			rc = pfm_errf(e, "%s: pathfm_answers is not a list of answers", path);
		if (!rc && !(t->answers = calloc(o.via.array.size, sizeof *t->answers)))
			rc = pfm_errf(e, "out of memory");
		for (uint32_t i = 0; !rc && i < o.via.array.size; i++) {
			const msgpack_object *a = &o.via.array.ptr[i];
			if (a->type != MSGPACK_OBJECT_STR)
				rc = pfm_errf(e, "%s: pathfm_answers[%u] is not a string", path, i);
			else if (!(t->answers[t->nans++] = strndup(a->via.str.ptr, a->via.str.size)))
				rc = pfm_errf(e, "out of memory");
		}
		msgpack_zone_destroy(&z);
		msgpack_sbuffer_destroy(&sb);
	}
	if (!rc && pfm_seq_load_st(&t->model, st, e))
		rc = pfm_err_prefix(e, "%s", path);
	else if (!rc)
		t->have_model = 1;
	const pfm_seq_config *c = &t->model.c;
	if (!rc && c->d_in != t->bags->d)
		rc = pfm_errf(e, "%s: the model takes embeddings of width %d, the input's are %d",
			      path, c->d_in, t->bags->d);
	if (!rc && c->vocab != pfm_vocab_size(t->vocab))
		rc = pfm_errf(e, "%s: model vocabulary %d, pathfm_vocab %d tokens", path, c->vocab,
			      pfm_vocab_size(t->vocab));
	if (!rc && t->kind == PFM_GEN_VQA && c->n_answers != t->nans)
		rc = pfm_errf(e, "%s: model has %d answer classes, pathfm_answers %d", path,
			      c->n_answers, t->nans);
	if (!rc && (t->task == PFM_SEQ_VQA_CLS) != (c->dec_layers == 0) && t->kind == PFM_GEN_VQA)
		rc = pfm_errf(e, "%s: a model %s a decoder: %s --generate", path,
			      c->dec_layers ? "with" : "without", c->dec_layers ? "give" : "leave out");
	pfm_st_close(st);
	return rc;
}

static int new_model(pfm_gen_task *t, pfm_err *e)
{
	const pfm_gen_opts *o = t->o;
	pfm_seq_config c;
	pfm_seq_config_default(&c);
	c.d_in = t->bags->d;
	c.d_model = o->width;
	c.heads = o->heads;
	c.d_ff = o->ff ? o->ff : 2 * o->width;
	c.enc_layers = o->enc_layers;
	c.dec_layers = t->task == PFM_SEQ_VQA_CLS ? 0 : o->dec_layers;
	c.vocab = pfm_vocab_size(t->vocab);
	c.max_len = o->max_len;
	c.n_answers = t->kind == PFM_GEN_VQA ? t->nans : 0;
	c.region = o->region;
	c.dropout = (float)o->dropout;
	c.bos = PFM_TOK_BOS, c.eos = PFM_TOK_EOS, c.pad = PFM_TOK_PAD;
	if (pfm_seq_config_check(&c, e) || pfm_seq_alloc(&t->model, &c, e))
		return -1;
	pfm_seq_init(&t->model, o->seed);
	t->have_model = 1;
	return 0;
}

int pfm_gen_task_init(pfm_gen_task *t, int kind, int task, const pfm_gen_set *set,
		      const pfm_bagset *bags, const pfm_gen_opts *o, int max_answers,
		      pfm_err *e)
{
	memset(t, 0, sizeof *t);
	t->kind = kind, t->task = task, t->set = set, t->bags = bags, t->o = o;
	int n = set->n;
	for (int s = 0; s < 3; s++)
		if (!(t->of_split[s] = malloc(sizeof(int) * (n + 1))))
			return pfm_errf(e, "out of memory");
	for (int i = 0; i < n; i++) {
		int s = set->items[i].split;
		t->of_split[s][t->nsplit[s]++] = i;
	}
	if (o->load) {
		if (load_checkpoint(t, o->load, e))
			return -1;
	} else {
		if (!t->nsplit[PFM_SPLIT_TRAIN])
			return pfm_errf(e, "no training %s with embeddings",
					kind == PFM_GEN_REPORT ? "reports" : "questions");
		pfm_vocab_counter *c = pfm_vocab_counter_new(CLEAN, e);
		if (!c || task_texts_add(c, set, kind, task, e) ||
		    !(t->vocab = pfm_vocab_counter_finish(c, o->threshold, e))) {
			pfm_vocab_counter_free(c);
			return -1;
		}
		pfm_vocab_counter_free(c);
		if (kind == PFM_GEN_VQA && build_answers(t, max_answers, e))
			return -1;
	}
	t->tok = calloc(n + 1, sizeof *t->tok);
	t->len = calloc(n + 1, sizeof *t->len);
	t->ans = calloc(n + 1, sizeof *t->ans);
	t->ans_len = calloc(n + 1, sizeof *t->ans_len);
	t->cls = calloc(n + 1, sizeof *t->cls);
	if (!t->tok || !t->len || !t->ans || !t->ans_len || !t->cls)
		return pfm_errf(e, "out of memory");
	for (int i = 0; i < n; i++) {
		const pfm_gen_item *it = &set->items[i];
		const char *q = kind == PFM_GEN_REPORT ? it->text : it->question;
		if (encode(t->vocab, q, o->max_len, &t->tok[i], &t->len[i], e))
			return pfm_err_prefix(e, "%s", it->where);
		if (kind != PFM_GEN_VQA)
			continue;
		if (encode(t->vocab, it->text, o->max_len, &t->ans[i], &t->ans_len[i], e))
			return pfm_err_prefix(e, "%s", it->where);
		char *a = pfm_vqa_normalize(it->text, strlen(it->text), e);
		if (!a)
			return -1;
		t->cls[i] = find_answer(t->answers, t->nans, a);
		free(a);
	}
	if (kind == PFM_GEN_VQA && (build_allowed(t, e) || build_prior(t, e)))
		return -1;
	return t->have_model ? 0 : new_model(t, e);
}

void pfm_gen_task_free(pfm_gen_task *t)
{
	int n = t->set ? t->set->n : 0;
	for (int i = 0; i < n; i++) {
		if (t->tok)
			free(t->tok[i]);
		if (t->ans)
			free(t->ans[i]);
	}
	free(t->tok), free(t->len), free(t->ans), free(t->ans_len), free(t->cls);
	free(t->allowed), free(t->allowed_off);
	for (int i = 0; i < t->nans; i++)
		free(t->answers[i]);
	free(t->answers);
	free(t->prior[0]), free(t->prior[1]);
	for (int s = 0; s < 3; s++)
		free(t->of_split[s]);
	pfm_vocab_free(t->vocab);
	if (t->have_model)
		pfm_seq_free(&t->model);
	memset(t, 0, sizeof *t);
}

int pfm_gen_task_save(const pfm_gen_task *t, const char *path, pfm_err *e)
{
	char *vj = pfm_vocab_to_json(t->vocab, e), *aj = NULL;
	size_t an = 0;
	if (!vj)
		return -1;
	if (t->kind == PFM_GEN_VQA) {
		FILE *f = open_memstream(&aj, &an);
		if (!f) {
			free(vj);
			return pfm_errf(e, "out of memory");
		}
		fputc('[', f);
		for (int i = 0; i < t->nans; i++) {
			if (i)
				fputc(',', f);
			pfm_gen_json_str(f, t->answers[i]);
		}
		fputc(']', f);
		fclose(f);
	}
	const char *kv[6] = {"pathfm_program", t->kind == PFM_GEN_REPORT ? "report-gen" : "vqa-train",
			     "pathfm_vocab", vj, "pathfm_answers", aj};
	int rc = pfm_seq_save(&t->model, path, kv, aj ? 3 : 2, e);
	free(vj);
	free(aj);
	return rc;
}
