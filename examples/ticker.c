/*
 * examples/ticker.c - asyncio's producer/consumer lesson, in C on boucle.
 *
 * A producer task puts a message (a counter and a timestamp) on a queue
 * every period; a consumer task prints each one as it arrives.
 *
 *   ticker                     serve forever (one tick a second) until
 *                              Ctrl-C or SIGTERM, then print the counts
 *   ticker --count N           run until N messages went through
 *   ticker --period-ms P       tick every P milliseconds
 *
 * The forever mode is asyncio's ensure_future + run_forever + Ctrl-C:
 * the two tasks are queued on the loop before it runs; when the signal
 * stops bcl_run_forever, the producer is cancelled and the loop runs once
 * more until both have ended: the producer closes the queue on its way
 * out, the consumer takes what is left and stops at "closed", so the
 * program exits 0 with every message accounted for and nothing leaked.
 */
#include <boucle/boucle.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct message {
    uint64_t counter;
    uint64_t sent_ns; /* bcl_now_ns() when it was put */
};

struct ticker {
    bcl_queue *queue;
    uint64_t period_ns;
    uint64_t count; /* 0: until stopped */
    uint64_t start_ns;
    uint64_t sent, received;
};

static void *
producer(void *arg)
{
    struct ticker *t = arg;

    for (uint64_t n = 1; t->count == 0 || n <= t->count; n++) {
        struct message *m;

        /* Fixed rate: the n-th tick is due n periods after the start. */
        uint64_t due = t->start_ns + n * t->period_ns, now = bcl_now_ns();

        if (due > now && bcl_sleep(due - now) != 0)
            break; /* cancelled */
        m = malloc(sizeof *m);
        if (m == NULL)
            break;
        m->counter = n;
        m->sent_ns = bcl_now_ns();
        if (bcl_queue_put(t->queue, m) != 0) {
            free(m); /* cancelled, or the queue is closed */
            break;
        }
        t->sent++;
    }
    bcl_queue_close(t->queue); /* no more messages: the consumer drains */
    return NULL;
}

static void
consume(struct ticker *t, struct message *m)
{
    uint64_t now = bcl_now_ns();

    printf("tick %" PRIu64 " at %.3f s (%.0f us in the queue)\n", m->counter,
           (double)(m->sent_ns - t->start_ns) / 1e9,
           (double)(now - m->sent_ns) / 1e3);
    fflush(stdout);
    t->received++;
    free(m);
}

static void *
consumer(void *arg)
{
    struct ticker *t = arg;
    void *item;
    int rc;

    /* Until the producer closes the queue and it is drained. */
    while ((rc = bcl_queue_get(t->queue, &item)) == 0)
        consume(t, item);
    return rc == -EPIPE ? NULL : (void *)(intptr_t)rc;
}

/* run_until_complete mode: the pair runs for `count` messages. */
static void *
run_pair(void *arg)
{
    bcl_task *p, *c;
    void *cr = NULL;

    if (bcl_spawn(&c, consumer, arg) != 0 ||
        bcl_spawn(&p, producer, arg) != 0)
        return (void *)1;
    bcl_join(p, NULL);
    bcl_join(c, &cr);
    return cr;
}

/* After Ctrl-C: wait for the producer (cancelled) and the consumer. */
static void *
join_both(void *arg)
{
    bcl_task **tasks = arg;

    bcl_gather(tasks, 2, NULL);
    return NULL;
}

static int
parse_args(int argc, char **argv, struct ticker *t)
{
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--count") == 0)
            t->count = strtoull(argv[++i], NULL, 10);
        else if (i + 1 < argc && strcmp(argv[i], "--period-ms") == 0)
            t->period_ns = strtoull(argv[++i], NULL, 10) * 1000000u;
        else
            return -1;
    }
    return t->period_ns > 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
    struct ticker t = { .period_ns = 1000000000u };
    bcl_config cfg = { .flags = BCL_STOP_ON_SIGINT | BCL_STOP_ON_SIGTERM };
    bcl_loop *loop;
    int rc;

    if (parse_args(argc, argv, &t) != 0) {
        fprintf(stderr, "usage: %s [--count N] [--period-ms P]\n", argv[0]);
        return 2;
    }
    if ((rc = bcl_loop_new(&loop, &cfg)) != 0 ||
        (rc = bcl_queue_new(&t.queue, 16)) != 0) {
        fprintf(stderr, "ticker: %s\n", bcl_strerror(rc));
        return 1;
    }
    t.start_ns = bcl_now_ns();
    if (t.count > 0) {
        void *result = NULL;

        rc = bcl_run_until_complete(loop, run_pair, &t, &result);
        if (rc == 0 && result != NULL)
            rc = -EIO;
    } else {
        bcl_task *tasks[2];

        /* ensure_future: queued now, started by run_forever. */
        if ((rc = bcl_spawn_on(loop, &tasks[0], consumer, &t)) != 0 ||
            (rc = bcl_spawn_on(loop, &tasks[1], producer, &t)) != 0) {
            fprintf(stderr, "ticker: %s\n", bcl_strerror(rc));
            return 1;
        }
        printf("ticking every %" PRIu64 " ms; Ctrl-C to stop\n",
               t.period_ns / 1000000u);
        fflush(stdout);
        rc = bcl_run_forever(loop);
        /* Stopped: cancel the producer, run until both have ended. */
        bcl_cancel(tasks[1]);
        if (rc == 0)
            rc = bcl_run_until_complete(loop, join_both, tasks, NULL);
    }
    printf("sent %" PRIu64 ", received %" PRIu64 "\n", t.sent, t.received);
    if (rc == 0)
        rc = bcl_queue_free(t.queue);
    if (rc == 0)
        rc = bcl_loop_free(loop);
    if (rc != 0)
        fprintf(stderr, "ticker: %s\n", bcl_strerror(rc));
    return rc == 0 && t.sent == t.received ? 0 : 1;
}
