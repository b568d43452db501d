/* cli_list.h: names listed on stderr, as the trainers list what did
 * not join (slides without labels, reports without embeddings). */
#ifndef PFM_CLI_LIST_H
#define PFM_CLI_LIST_H

/* "prog: what a, b, c" through pfm_warn, as many names a line as fit in
 * about 800 bytes; continuation lines start with two spaces. */
void pfm_warn_list(const char *what, char **names, int n);

#endif
