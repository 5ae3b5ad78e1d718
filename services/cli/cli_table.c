/*  cli_table - aligned text tables and CSV for the `pingpost` command line  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "cli.h"

#include <assert.h>
#include <czmq.h>

struct cli_table {
    size_t columns;             //  cells per row
    char **cells;               //  rows * columns strings, the headers first
    size_t rows;                //  rows held, the header included
    size_t alloc;               //  rows allocated
    bool *right;                //  per column: right-aligned
};

cli_table_t *
cli_table_new (size_t columns, const char *const *headers)
{
    assert (columns > 0);
    cli_table_t *self = (cli_table_t *) zmalloc (sizeof (cli_table_t));
    self->columns = columns;
    self->right = (bool *) zmalloc (sizeof (bool) * columns);
    cli_table_add (self, headers);
    return self;
}

void
cli_table_destroy (cli_table_t **self_p)
{
    assert (self_p);
    cli_table_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->rows * self->columns; i++)
        free (self->cells [i]);
    free (self->cells);
    free (self->right);
    free (self);
    *self_p = NULL;
}

void
cli_table_align_right (cli_table_t *self, size_t column)
{
    assert (self && column < self->columns);
    self->right [column] = true;
}

void
cli_table_add (cli_table_t *self, const char *const *cells)
{
    assert (self);
    if (self->rows == self->alloc) {
        self->alloc = self->alloc ? self->alloc * 2 : 16;
        self->cells =
            (char **) realloc (self->cells, sizeof (char *) * self->alloc * self->columns);
        assert (self->cells);
    }
    for (size_t c = 0; c < self->columns; c++) {
        char *copy = strdup (cells [c] ? cells [c] : "");
        assert (copy);
        self->cells [self->rows * self->columns + c] = copy;
    }
    self->rows++;
}

//  Display width: UTF-8 continuation bytes take no column.
static size_t
s_width (const char *text)
{
    size_t width = 0;
    for (const unsigned char *p = (const unsigned char *) text; *p; p++)
        if ((*p & 0xC0) != 0x80)
            width++;
    return width;
}

void
cli_table_print (cli_table_t *self, FILE *out)
{
    assert (self);
    size_t *widths = (size_t *) zmalloc (sizeof (size_t) * self->columns);
    for (size_t r = 0; r < self->rows; r++)
        for (size_t c = 0; c < self->columns; c++) {
            size_t width = s_width (self->cells [r * self->columns + c]);
            if (width > widths [c])
                widths [c] = width;
        }
    for (size_t r = 0; r < self->rows; r++) {
        for (size_t c = 0; c < self->columns; c++) {
            const char *cell = self->cells [r * self->columns + c];
            int pad = (int) (widths [c] - s_width (cell));
            bool last = c + 1 == self->columns;
            if (self->right [c])
                fprintf (out, "%*s%s", pad, "", cell);
            else
            if (last)
                fputs (cell, out);
            else
                fprintf (out, "%s%*s", cell, pad, "");
            fputs (last ? "\n" : "  ", out);
        }
    }
    free (widths);
}

static void
s_csv_cell (const char *cell, FILE *out)
{
    if (!strpbrk (cell, ",\"\r\n")) {
        fputs (cell, out);
        return;
    }
    fputc ('"', out);
    for (const char *p = cell; *p; p++) {
        if (*p == '"')
            fputc ('"', out);
        fputc (*p, out);
    }
    fputc ('"', out);
}

void
cli_table_print_csv (cli_table_t *self, FILE *out)
{
    assert (self);
    for (size_t r = 0; r < self->rows; r++)
        for (size_t c = 0; c < self->columns; c++) {
            s_csv_cell (self->cells [r * self->columns + c], out);
            fputs (c + 1 == self->columns ? "\n" : ",", out);
        }
}
