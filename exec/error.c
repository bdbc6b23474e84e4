/*
 * exec/error.c - the one table of boucle's error codes and bcl_strerror().
 *
 * docs/errors.md is written from this table; keep the two in step.
 */
#include <boucle/common.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base.h"

struct error_entry {
    int code;
    const char *text;
};

static const struct error_entry error_table[] = {
    { 0, "success" },
    { EINVAL, "invalid argument" },
    { ENOMEM, "out of memory" },
    { EAGAIN, "resource temporarily unavailable" },
    { ETIMEDOUT, "timed out" },
    { ECANCELED, "cancelled" },
    { EPIPE, "closed" },
    { EBUSY, "busy" },
    { EPERM, "not permitted from this context" },
};

const char *
bcl_strerror(int err)
{
    int code = err < 0 ? -err : err;

    for (size_t i = 0; i < sizeof error_table / sizeof error_table[0]; i++)
        if (error_table[i].code == code)
            return error_table[i].text;
    return "unknown error";
}

void
bcl__fatal(const char *what)
{
    static const char prefix[] = "boucle: ";

    /* write(2) only: this runs from the SIGSEGV handler too. */
    (void)!write(STDERR_FILENO, prefix, sizeof prefix - 1);
    (void)!write(STDERR_FILENO, what, strlen(what));
    (void)!write(STDERR_FILENO, "\n", 1);
    abort();
}
