/*
 * tests/runner.c - runs the tests listed in test-list.h.
 *
 *   boucle_tests --list     print every test name
 *   boucle_tests NAME...    run the named tests
 *   boucle_tests            run them all
 *
 * Each test runs in a forked child with an alarm (TEST_TIMEOUT seconds,
 * or $BCL_TEST_TIMEOUT), so a crash or a hang fails that test only;
 * BCL_TEST_NOFORK=1 runs them in this process instead (for a debugger).
 * Under AddressSanitizer each test ends with a leak check.
 * Output is TAP; the last line is "N passed, N failed".
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/test.h"
#ifdef TEST_ASAN
#include <sanitizer/lsan_interface.h>
#endif

#define TEST(name) int test_##name(void);
#include "test-list.h"
#undef TEST

struct test_entry {
    const char *name;
    int (*fn)(void);
};

#define TEST(name) { #name, test_##name },
static const struct test_entry tests[] = {
#include "test-list.h"
};
#undef TEST

#define NTESTS (sizeof tests / sizeof tests[0])
#define TEST_TIMEOUT 240

static int
run_one(const struct test_entry *t)
{
    const char *env = getenv("BCL_TEST_TIMEOUT");
    unsigned timeout = env ? (unsigned)atoi(env) : TEST_TIMEOUT;
    int status;
    pid_t pid;

    /* BCL_TEST_NOFORK=1: run in this process, for a debugger (a hang is
     * then not timed out). */
    if (getenv("BCL_TEST_NOFORK") != NULL)
        return t->fn() != 0;
    fflush(stdout);
    pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        int failed;

        alarm(timeout);
        failed = t->fn() != 0;
#ifdef TEST_ASAN
        /* _exit skips LeakSanitizer's exit-time check: run it here, so
         * that what a test's calls leave behind fails that test. */
        if (__lsan_do_recoverable_leak_check() != 0)
            failed = 1;
#endif
        _exit(failed);
    }
    while (waitpid(pid, &status, 0) < 0)
        continue;
    if (WIFEXITED(status))
        return WEXITSTATUS(status) != 0;
    fprintf(stderr, "# %s: killed by signal %d%s\n", t->name, WTERMSIG(status),
            WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
    return 1;
}

/* No argument selects every test; otherwise the ones named. */
static int
is_selected(int argc, char **argv, const char *name)
{
    if (argc < 2)
        return 1;
    for (int a = 1; a < argc; a++)
        if (strcmp(argv[a], name) == 0)
            return 1;
    return 0;
}

int
main(int argc, char **argv)
{
    unsigned passed = 0, failed = 0, planned = 0;

    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < NTESTS; i++)
            puts(tests[i].name);
        return 0;
    }
    for (size_t i = 0; i < NTESTS; i++)
        planned += (unsigned)is_selected(argc, argv, tests[i].name);
    if (planned == 0) {
        fprintf(stderr, "no such test\n");
        return 2;
    }
    printf("1..%u\n", planned);
    for (size_t i = 0, n = 0; i < NTESTS; i++) {
        if (!is_selected(argc, argv, tests[i].name))
            continue;
        n++;
        if (run_one(&tests[i]) == 0) {
            passed++;
            printf("ok %zu - %s\n", n, tests[i].name);
        } else {
            failed++;
            printf("not ok %zu - %s\n", n, tests[i].name);
        }
    }
    printf("%u passed, %u failed\n", passed, failed);
    return failed != 0;
}
