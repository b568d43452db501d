/* qc_report.c: counts of kept and dropped tiles by reason, the summary
 * line and the JSON report. */
#include "qc_report.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

const char *const pfm_qc_mean_names[PFM_QC_NMEANS] = {
	"tissue", "hsv", "white", "black", "background", "pen",
	"pen_red", "pen_green", "pen_blue", "dark", "lapvar", "blur"};

void pfm_qc_tally_add(pfm_qc_tally *t, const pfm_qc *m)
{
	const double v[PFM_QC_NMEANS] = {
		m->tissue, m->hsv, m->white, m->black, m->background, m->pen,
		m->pen_red, m->pen_green, m->pen_blue, m->dark, m->lapvar,
		m->blur};
	for (int i = 0; i < PFM_QC_NMEANS; i++)
		t->sum[i] += v[i];
	t->measured++;
}

void pfm_qc_summary(const pfm_qc_tally *t, const pfm_qc_run_opts *o,
		    void (*warn)(const char *, ...))
{
	char why[256] = "";
	size_t n = 0;
	uint64_t dropped = 0;
	for (int r = PFM_QC_OK + 1; r < PFM_QC_NREASONS; r++) {
		dropped += t->reasons[r];
		n += (size_t)snprintf(why + n, sizeof why - n, "%s%s %llu",
				      n ? ", " : "", pfm_qc_reason_name(r),
				      (unsigned long long)t->reasons[r]);
		if (n >= sizeof why)
			n = sizeof why - 1;
	}
	if (o->annotate_only)
		warn("%llu tiles annotated, %llu passed: %llu would be kept, "
		     "%llu dropped (%s); %llu other frames passed",
		     (unsigned long long)t->tiles,
		     (unsigned long long)t->written,
		     (unsigned long long)t->reasons[PFM_QC_OK],
		     (unsigned long long)dropped, why,
		     (unsigned long long)t->other);
	else
		warn("%llu tiles: %llu kept, %llu dropped (%s); %llu other "
		     "frames passed",
		     (unsigned long long)t->tiles,
		     (unsigned long long)t->reasons[PFM_QC_OK],
		     (unsigned long long)dropped, why,
		     (unsigned long long)t->other);
}

static void json(FILE *f, const pfm_qc_tally *t, const pfm_qc_run_opts *o)
{
	const pfm_qc_limits *l = &o->limits;
	fprintf(f, "{\n  \"program\": \"tile-filter\",\n  \"version\": \"%s\",\n",
		PFM_VERSION);
	fprintf(f, "  \"annotate_only\": %s,\n", o->annotate_only ? "true" : "false");
	fprintf(f, "  \"tiles\": %llu,\n  \"kept\": %llu,\n",
		(unsigned long long)t->tiles,
		(unsigned long long)t->reasons[PFM_QC_OK]);
	fprintf(f, "  \"dropped\": %llu,\n",
		(unsigned long long)(t->tiles - t->reasons[PFM_QC_OK]));
	fprintf(f, "  \"written\": %llu,\n  \"written_dropped\": %llu,\n",
		(unsigned long long)t->written,
		(unsigned long long)t->dropped_written);
	fprintf(f, "  \"other_frames\": %llu,\n  \"reasons\": {",
		(unsigned long long)t->other);
	for (int r = 0; r < PFM_QC_NREASONS; r++)
		fprintf(f, "%s\"%s\": %llu", r ? ", " : "", pfm_qc_reason_name(r),
			(unsigned long long)t->reasons[r]);
	fprintf(f, "},\n  \"limits\": {\"tissue_rule\": \"%s\", \"min_tissue\": %.15g, "
		"\"max_pen\": %.15g, \"max_dark\": %.15g, \"max_blur\": %.15g, "
		"\"min_lapvar\": %.15g},\n",
		l->hsv_rule ? "hsv" : "sat", l->min_tissue, l->max_pen,
		l->max_dark, l->max_blur, l->min_lapvar);
	if (o->qc.sat_threshold == PFM_QC_OTSU)
		fprintf(f, "  \"pixels\": {\"sat_threshold\": \"otsu\", ");
	else
		fprintf(f, "  \"pixels\": {\"sat_threshold\": %d, ", o->qc.sat_threshold);
	fprintf(f, "\"white\": %d, \"black\": %d},\n  \"means\": {",
		o->qc.white, o->qc.black);
	for (int i = 0; i < PFM_QC_NMEANS; i++) {
		if (t->measured)
			fprintf(f, "%s\"%s\": %.15g", i ? ", " : "",
				pfm_qc_mean_names[i], t->sum[i] / (double)t->measured);
		else
			fprintf(f, "%s\"%s\": null", i ? ", " : "", pfm_qc_mean_names[i]);
	}
	fprintf(f, "}\n}\n");
}

int pfm_qc_report_write(const char *path, const pfm_qc_tally *t,
			const pfm_qc_run_opts *o, pfm_err *e)
{
	char tmp[4200] = "";
	struct stat st;
	FILE *f;
	if (!stat(path, &st) && !S_ISREG(st.st_mode)) {
		f = fopen(path, "w");
	} else {
		snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
		f = fopen(tmp, "w");
	}
	if (!f)
		return pfm_errf(e, "%s: %s", tmp[0] ? tmp : path, strerror(errno));
	json(f, t, o);
	int bad = ferror(f);
	if (fclose(f) || bad) {
		int err = errno;
		if (tmp[0])
			unlink(tmp);
		return pfm_errf(e, "%s: write: %s", path, strerror(err));
	}
	if (tmp[0] && rename(tmp, path)) {
		int err = errno;
		unlink(tmp);
		return pfm_errf(e, "%s: %s", path, strerror(err));
	}
	return 0;
}
