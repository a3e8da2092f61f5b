/* ctl_table.c -- axlectl's tables: a header, rows kept until printed, each column as wide as its widest cell (nothing cut). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/ctl/ctl.h"

/* One line of the table: a row of ncols cells, or a note (cells == NULL). */
struct ctl_line {
	char **cells;
	char *note;
};

struct ctl_table {
	const char *const *head;
	size_t ncols;
	struct ctl_line *lines;
	size_t n, cap, rows;
};

struct ctl_table *
ctl_table_new(const char *const *head, size_t ncols)
{
	struct ctl_table *t;

	if (ncols > CTL_TABLE_MAXCOLS || (t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->head = head;
	t->ncols = ncols;
	return t;
}

static struct ctl_line *
ctl_table_line(struct ctl_table *t)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct ctl_line *l = realloc(t->lines, cap * sizeof(*l));

		if (l == NULL)
			return NULL;
		t->lines = l;
		t->cap = cap;
	}
	memset(&t->lines[t->n], 0, sizeof(t->lines[0]));
	return &t->lines[t->n++];
}

int
ctl_table_add(struct ctl_table *t, const char *const *cells)
{
	struct ctl_line *l = ctl_table_line(t);
	size_t c = 0;

	if (l != NULL && (l->cells = calloc(t->ncols, sizeof(char *))) != NULL)
		for (; c < t->ncols; c++)
			if ((l->cells[c] = strdup(cells[c] != NULL &&
			    cells[c][0] != '\0' ? cells[c] : "-")) == NULL)
				break;
	if (l != NULL && c < t->ncols) {	/* ENOMEM: drop the line */
		for (size_t i = 0; l->cells != NULL && i < c; i++)
			free(l->cells[i]);
		free(l->cells);
		t->n--;
		return -1;
	}
	if (l == NULL)
		return -1;
	t->rows++;
	return 0;
}

int
ctl_table_note(struct ctl_table *t, const char *fmt, ...)
{
	struct ctl_line *l = ctl_table_line(t);
	va_list ap;
	int n;

	if (l == NULL)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (l->note = malloc((size_t)n + 1)) == NULL) {
		t->n--;
		return -1;
	}
	va_start(ap, fmt);
	vsnprintf(l->note, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return 0;
}

size_t
ctl_table_rows(const struct ctl_table *t)
{
	return t->rows;
}

static void
ctl_table_put(FILE *f, const char *s, size_t width, bool last)
{
	ctl_put_safe(f, s);
	if (!last)
		fprintf(f, "%*s", (int)(width - strlen(s) + 1), "");
}

void
ctl_table_print(const struct ctl_table *t, FILE *f)
{
	size_t w[CTL_TABLE_MAXCOLS] = { 0 };

	for (size_t c = 0; c < t->ncols; c++) {
		w[c] = strlen(t->head[c]);
		for (size_t i = 0; i < t->n; i++)
			if (t->lines[i].cells != NULL &&
			    strlen(t->lines[i].cells[c]) > w[c])
				w[c] = strlen(t->lines[i].cells[c]);
	}
	for (size_t c = 0; c < t->ncols; c++)
		ctl_table_put(f, t->head[c], w[c], c + 1 == t->ncols);
	fputc('\n', f);
	for (size_t i = 0; i < t->n; i++) {
		const struct ctl_line *l = &t->lines[i];

		if (l->cells == NULL) {
			fputs("    ", f);
			ctl_put_safe(f, l->note);
		}
		for (size_t c = 0; l->cells != NULL && c < t->ncols; c++)
			ctl_table_put(f, l->cells[c], w[c], c + 1 == t->ncols);
		fputc('\n', f);
	}
}

void
ctl_table_free(struct ctl_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++) {
		for (size_t c = 0; t->lines[i].cells != NULL && c < t->ncols; c++)
			free(t->lines[i].cells[c]);
		free(t->lines[i].cells);
		free(t->lines[i].note);
	}
	free(t->lines);
	free(t);
}
