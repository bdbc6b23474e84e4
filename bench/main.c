/*
 * bench/main.c - runs every benchmark case at each worker count, several
 * times, and prints a table: median [min - max] per case and count.
 *
 *   boucle_bench [--runs N] [--workers 1,2,...] [--only SUBSTRING]
 *   boucle_bench --list                    name, unit, higher-is-better, runs
 *   boucle_bench --workload NAME --workers N    one run, prints the value
 *
 * The last two are the interface bench/driver.py uses for boucle and for
 * every peer (bench/peers/README.md): one process per run, so the driver
 * measures each run's peak RSS.  Progress goes to stderr when it is a
 * terminal; the table goes to stdout as Markdown.
 * BENCH_QUICK=1 runs every workload at 1/10 of its size.
 */
#include "bench/bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#define MAX_COUNTS 8
#define MAX_RUNS 15

struct group {
    const struct bench_case *cases;
    const unsigned *ncases;
};

static const struct group groups[] = {
    { bench_exec_cases, &bench_exec_ncases },
    { bench_queue_cases, &bench_queue_ncases },
    { bench_time_cases, &bench_time_ncases },
    { bench_fiber_cases, &bench_fiber_ncases },
    { bench_system_cases, &bench_system_ncases },
};

static int
compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static void
format_value(char *buf, size_t size, double v)
{
    if (v < 0)
        snprintf(buf, size, "FAILED");
    else if (v >= 1e6)
        snprintf(buf, size, "%.2f M", v / 1e6);
    else if (v >= 1e4)
        snprintf(buf, size, "%.1f k", v / 1e3);
    else
        snprintf(buf, size, "%.3g", v);
}

static const struct bench_case *
find_case(const char *name)
{
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
        for (unsigned k = 0; k < *groups[g].ncases; k++)
            if (strcmp(groups[g].cases[k].name, name) == 0)
                return &groups[g].cases[k];
    return NULL;
}

static int
list_cases(void)
{
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
        for (unsigned k = 0; k < *groups[g].ncases; k++) {
            const struct bench_case *bc = &groups[g].cases[k];

            printf("%s\t%s\t%d\t%u\n", bc->name, bc->unit,
                   bc->higher_is_better, bc->runs);
        }
    return 0;
}

/* One run of one case: the value on stdout; exit 1 failed, 2 unknown. */
static int
run_single(const char *name, unsigned workers)
{
    const struct bench_case *bc = find_case(name);
    double v;

    if (bc == NULL) {
        fprintf(stderr, "boucle_bench: no workload %s\n", name);
        return 2;
    }
    v = bc->run(workers);
    if (bench_loops_free() != 0 || v < 0) {
        fprintf(stderr, "boucle_bench: %s failed its check\n", name);
        return 1;
    }
    printf("%.6g\n", v);
    return 0;
}

int
main(int argc, char **argv)
{
    unsigned counts[MAX_COUNTS] = { 1, 2 }, ncounts = 2, runs = 5;
    const char *only = NULL, *workload = NULL;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    struct utsname u;
    int failed = 0;
    /* Progress lines only on a terminal, so logs hold just the table. */
    bool progress = isatty(STDERR_FILENO);

    if (cpus > 2 && ncounts < MAX_COUNTS)
        counts[ncounts++] = (unsigned)cpus;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            runs = (unsigned)atoi(argv[++i]);
            if (runs < 1 || runs > MAX_RUNS)
                runs = 5;
        } else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc) {
            char *list = argv[++i], *save = NULL;

            ncounts = 0;
            for (char *tok = strtok_r(list, ",", &save);
                 tok != NULL && ncounts < MAX_COUNTS;
                 tok = strtok_r(NULL, ",", &save))
                counts[ncounts++] = (unsigned)atoi(tok);
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else if (strcmp(argv[i], "--workload") == 0 && i + 1 < argc) {
            workload = argv[++i];
        } else if (strcmp(argv[i], "--list") == 0) {
            return list_cases();
        } else {
            fprintf(stderr, "usage: %s [--runs N] [--workers 1,2] "
                            "[--only SUBSTRING] | --list | "
                            "--workload NAME --workers N\n", argv[0]);
            return 2;
        }
    }
    if (workload != NULL)
        return run_single(workload, counts[0]);
    uname(&u);
    printf("boucle %d.%d.%d, %s %s, %ld CPUs%s; median of %u runs "
           "[min - max]\n\n",
           BCL_VERSION_MAJOR, BCL_VERSION_MINOR, BCL_VERSION_PATCH,
           u.sysname, u.release, cpus, bench_quick() ? ", QUICK (N/10)" : "",
           runs);
    printf("| workload | unit |");
    for (unsigned c = 0; c < ncounts; c++)
        printf(" workers=%u |", counts[c]);
    printf("\n|---|---|");
    for (unsigned c = 0; c < ncounts; c++)
        printf("---|");
    printf("\n");
    fflush(stdout);
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        for (unsigned k = 0; k < *groups[g].ncases; k++) {
            const struct bench_case *bc = &groups[g].cases[k];
            unsigned n = bc->runs ? bc->runs : runs;

            if (only != NULL && strstr(bc->name, only) == NULL)
                continue;
            printf("| %s | %s |", bc->name, bc->unit);
            for (unsigned c = 0; c < ncounts; c++) {
                double v[MAX_RUNS] = { 0 };
                char med[32], lo[32], hi[32];

                for (unsigned r = 0; r < n; r++) {
                    if (progress)
                        fprintf(stderr, "\r%-28s workers=%u run %u/%u   ",
                                bc->name, counts[c], r + 1, n);
                    v[r] = bc->run(counts[c]);
                    if (v[r] < 0)
                        failed = 1;
                }
                qsort(v, n, sizeof v[0], compare_double);
                format_value(med, sizeof med, v[n / 2]);
                format_value(lo, sizeof lo, v[0]);
                format_value(hi, sizeof hi, v[n - 1]);
                if (n == 1)
                    printf(" %s |", med);
                else
                    printf(" %s [%s - %s] |", med, lo, hi);
                fflush(stdout);
            }
            printf("\n");
        }
    }
    if (progress)
        fprintf(stderr, "\r%-60s\r", "");
    if (bench_loops_free() != 0)
        failed = 1;
    return failed;
}
