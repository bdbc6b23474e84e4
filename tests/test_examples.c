/*
 * tests/test_examples.c - the examples run as users run them: the ticker
 * (asyncio's producer/consumer lesson) until SIGINT or SIGTERM, and for a
 * fixed count; every message sent must be received and it must exit 0.
 * The test waits for printed ticks (an exact condition), never for time.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/test.h"

/* Run the ticker with argv; after `ticks` tick lines send `signo` (0:
 * none).  Returns its exit status; *sent / *received from its last line. */
static int
run_ticker(char *const argv[], int ticks, int signo, long *sent,
           long *received)
{
    int out[2], status, seen = 0;
    char line[256];
    pid_t pid;
    FILE *f;

    if (pipe(out) != 0)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        execv(BCL_TICKER_PATH, argv);
        _exit(127);
    }
    close(out[1]);
    f = fdopen(out[0], "r");
    *sent = *received = -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "tick ", 5) == 0 && ++seen == ticks && signo)
            kill(pid, signo);
        sscanf(line, "sent %ld, received %ld", sent, received);
    }
    fclose(f);
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int
test_examples_ticker_sigint(void)
{
    char *argv[] = { "ticker", "--period-ms", "10", NULL };
    long sent, received;

    CHECK_EQ(run_ticker(argv, 5, SIGINT, &sent, &received), 0);
    CHECK(sent >= 5);
    CHECK_EQ(received, sent);
    CHECK_EQ(run_ticker(argv, 3, SIGTERM, &sent, &received), 0);
    CHECK(sent >= 3);
    CHECK_EQ(received, sent);
    return 0;
}

int
test_examples_ticker_count(void)
{
    char *argv[] = { "ticker", "--count", "25", "--period-ms", "1", NULL };
    char *bad[] = { "ticker", "--period-ms", "0", NULL };
    long sent, received;

    CHECK_EQ(run_ticker(argv, 0, 0, &sent, &received), 0);
    CHECK_EQ(sent, 25);
    CHECK_EQ(received, 25);
    CHECK_EQ(run_ticker(bad, 0, 0, &sent, &received), 2); /* usage */
    return 0;
}
