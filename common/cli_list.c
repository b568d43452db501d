/* cli_list.c: names listed on stderr. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_list.h"

void pfm_warn_list(const char *what, char **names, int n)
{
	char line[900];
	int w = 0, first = 1;
	for (int i = 0; i < n; i++) {
		if (w && w + strlen(names[i]) + 4 > 800) {
			pfm_warn("%s%s", first ? what : "  ", line);
			first = 0, w = 0;
		}
		w += snprintf(line + w, sizeof line - w, "%s%s", w ? ", " : "", names[i]);
	}
	if (w)
		pfm_warn("%s%s", first ? what : "  ", line);
}
