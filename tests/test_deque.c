/*
 * tests/test_deque.c - the Chase-Lev deque alone (white-box, exec/deque.h).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

#include "exec/deque.h"
#include "tests/test.h"

/* Items are small integers disguised as pointers (never NULL, bit 0
 * clear: the deque's mark bit). */
#define ITEM(i) ((void *)(uintptr_t)(((i) + 1) * 2))
#define INDEX(p) ((uintptr_t)(p) / 2 - 1)

int
test_deque_push_pop_lifo(void)
{
    struct bcl__deque dq;

    CHECK_EQ(bcl__deque_init(&dq, 4), 0);
    CHECK_PTR_EQ(bcl__deque_pop(&dq), NULL);
    for (int i = 0; i < 3; i++)
        CHECK(bcl__deque_push(&dq, ITEM(i)) > 0);
    CHECK_EQ(bcl__deque_size_hint(&dq), 3);
    for (int i = 2; i >= 0; i--)
        CHECK_PTR_EQ(bcl__deque_pop(&dq), ITEM(i));
    CHECK_PTR_EQ(bcl__deque_pop(&dq), NULL);
    CHECK_EQ(bcl__deque_size_hint(&dq), 0);
    bcl__deque_destroy(&dq);
    return 0;
}

int
test_deque_steal_fifo(void)
{
    struct bcl__deque dq;
    void *item;

    CHECK_EQ(bcl__deque_init(&dq, 8), 0);
    CHECK_EQ(bcl__deque_steal(&dq, &item, 0), BCL__STEAL_EMPTY);
    for (int i = 0; i < 5; i++)
        CHECK(bcl__deque_push(&dq, ITEM(i)) > 0);
    CHECK_EQ(bcl__deque_steal(&dq, &item, 0), BCL__STEAL_OK);
    CHECK_PTR_EQ(item, ITEM(0));
    CHECK_EQ(bcl__deque_steal(&dq, &item, 0), BCL__STEAL_OK);
    CHECK_PTR_EQ(item, ITEM(1));
    CHECK_PTR_EQ(bcl__deque_pop(&dq), ITEM(4));
    CHECK_EQ(bcl__deque_steal(&dq, &item, 0), BCL__STEAL_OK);
    CHECK_PTR_EQ(item, ITEM(2));
    CHECK_PTR_EQ(bcl__deque_pop(&dq), ITEM(3));
    CHECK_EQ(bcl__deque_steal(&dq, &item, 0), BCL__STEAL_EMPTY);
    CHECK_PTR_EQ(bcl__deque_pop(&dq), NULL);
    bcl__deque_destroy(&dq);
    return 0;
}

int
test_deque_grow_keeps_order(void)
{
    struct bcl__deque dq;
    void *item;
    const int n = 100000;

    CHECK_EQ(bcl__deque_init(&dq, 2), 0);
    CHECK_EQ(bcl__deque_init(&(struct bcl__deque){ 0 }, 3), -EINVAL);
    /* Wrap the indices first so growth copies a wrapped range. */
    for (int i = 0; i < 1000; i++) {
        CHECK(bcl__deque_push(&dq, ITEM(i)) > 0);
        CHECK_EQ(bcl__deque_steal(&dq, &item, 0), BCL__STEAL_OK);
    }
    for (int i = 0; i < n; i++)
        CHECK(bcl__deque_push(&dq, ITEM(i)) > 0);
    CHECK_EQ(bcl__deque_size_hint(&dq), n);
    for (int i = 0; i < n / 2; i++) {
        CHECK_EQ(bcl__deque_steal(&dq, &item, 0), BCL__STEAL_OK);
        CHECK_PTR_EQ(item, ITEM(i));
    }
    for (int i = n - 1; i >= n / 2; i--)
        CHECK_PTR_EQ(bcl__deque_pop(&dq), ITEM(i));
    CHECK_PTR_EQ(bcl__deque_pop(&dq), NULL);
    bcl__deque_destroy(&dq);
    return 0;
}

int
test_deque_pop_if(void)
{
    struct bcl__deque dq;

    CHECK_EQ(bcl__deque_init(&dq, 4), 0);
    CHECK(!bcl__deque_pop_if(&dq, ITEM(0)));
    CHECK(bcl__deque_push(&dq, ITEM(0)) > 0);
    CHECK(bcl__deque_push(&dq, ITEM(1)) > 0);
    CHECK(!bcl__deque_pop_if(&dq, ITEM(0))); /* not the newest */
    CHECK(bcl__deque_pop_if(&dq, ITEM(1)));
    CHECK(bcl__deque_pop_if(&dq, ITEM(0)));
    CHECK(!bcl__deque_pop_if(&dq, ITEM(0)));
    bcl__deque_destroy(&dq);
    return 0;
}

int
test_deque_pop_oldest(void)
{
    struct bcl__deque dq;
    void *item;

    CHECK_EQ(bcl__deque_init(&dq, 4), 0);
    CHECK_PTR_EQ(bcl__deque_pop_oldest(&dq), NULL);
    for (int i = 0; i < 6; i++) /* grows once */
        CHECK(bcl__deque_push(&dq, ITEM(i)) > 0);
    CHECK_PTR_EQ(bcl__deque_pop_oldest(&dq), ITEM(0));
    CHECK_EQ(bcl__deque_steal(&dq, &item, 0), BCL__STEAL_OK);
    CHECK_PTR_EQ(item, ITEM(1));
    CHECK_PTR_EQ(bcl__deque_pop_oldest(&dq), ITEM(2));
    CHECK_PTR_EQ(bcl__deque_pop(&dq), ITEM(5));
    CHECK_PTR_EQ(bcl__deque_pop_oldest(&dq), ITEM(3));
    CHECK_PTR_EQ(bcl__deque_pop_oldest(&dq), ITEM(4));
    CHECK_PTR_EQ(bcl__deque_pop_oldest(&dq), NULL);
    CHECK_PTR_EQ(bcl__deque_pop(&dq), NULL);
    CHECK_EQ(bcl__deque_size_hint(&dq), 0);
    bcl__deque_destroy(&dq);
    return 0;
}

/* Marked items: every take returns them unmarked; a thief may leave a
 * marked top alone below a size; pop_if never matches a marked item. */
int
test_deque_marks(void)
{
    struct bcl__deque dq;
    void *item;
    bool marked;

    CHECK_EQ(bcl__deque_init(&dq, 4), 0);
    CHECK_EQ(bcl__deque_look(&dq, &marked), 0);
    CHECK(!marked);
    CHECK_EQ(bcl__deque_push_marked(&dq, ITEM(0)), 1);
    CHECK_EQ(bcl__deque_push(&dq, ITEM(1)), 2);
    CHECK_EQ(bcl__deque_push_marked(&dq, ITEM(2)), 3);
    CHECK_EQ(bcl__deque_look(&dq, &marked), 3);
    CHECK(marked);
    CHECK(!bcl__deque_pop_if(&dq, ITEM(2)));
    CHECK_EQ(bcl__deque_steal(&dq, &item, 4), BCL__STEAL_MARKED);
    CHECK_EQ(bcl__deque_steal(&dq, &item, 3), BCL__STEAL_OK);
    CHECK_PTR_EQ(item, ITEM(0));
    CHECK_EQ(bcl__deque_look(&dq, &marked), 2);
    CHECK(!marked);
    CHECK_EQ(bcl__deque_steal(&dq, &item, 100), BCL__STEAL_OK);
    CHECK_PTR_EQ(item, ITEM(1));
    CHECK_PTR_EQ(bcl__deque_pop(&dq), ITEM(2));
    CHECK_EQ(bcl__deque_push_marked(&dq, ITEM(3)), 1);
    CHECK_PTR_EQ(bcl__deque_pop_oldest(&dq), ITEM(3));
    CHECK_EQ(bcl__deque_size_hint(&dq), 0);
    bcl__deque_destroy(&dq);
    return 0;
}

/* One owner pushing and popping against several thieves: every item is
 * taken exactly once (seen-bitmap) and the sum matches. */
#define STRESS_ITEMS 1000000
#define STRESS_THIEVES 3

struct stress {
    struct bcl__deque dq;
    _Atomic uint8_t *seen;
    _Atomic uint64_t sum;
    _Atomic uint64_t taken;
    _Atomic int duplicate;
    _Atomic int owner_done;
    _Atomic unsigned thieves_started;
};

static void
stress_take(struct stress *s, void *item)
{
    uintptr_t i = INDEX(item);

    if (atomic_fetch_add(&s->seen[i], 1) != 0)
        atomic_store(&s->duplicate, 1);
    atomic_fetch_add(&s->sum, i);
    atomic_fetch_add(&s->taken, 1);
}

static void *
stress_thief(void *arg)
{
    struct stress *s = arg;
    void *item;

    /* Half the thieves leave marked items to the others unless 8 or more
     * are queued. */
    int64_t marked_min = (int64_t)(atomic_fetch_add(&s->thieves_started, 1)
                                   % 2) * 8;

    for (;;) {
        enum bcl__steal_result r =
            bcl__deque_steal(&s->dq, &item, marked_min);

        if (r == BCL__STEAL_OK)
            stress_take(s, item);
        else if (r == BCL__STEAL_EMPTY && atomic_load(&s->owner_done))
            return NULL;
    }
}

int
test_deque_steal_exactly_once(void)
{
    struct stress s;
    pthread_t thieves[STRESS_THIEVES];
    uint64_t expected = 0;
    unsigned rng = 12345;

    memset(&s, 0, sizeof s);
    s.seen = calloc(STRESS_ITEMS, 1);
    CHECK(s.seen != NULL);
    CHECK_EQ(bcl__deque_init(&s.dq, 16), 0);
    for (int i = 0; i < STRESS_THIEVES; i++)
        CHECK_EQ(pthread_create(&thieves[i], NULL, stress_thief, &s), 0);
    for (uintptr_t i = 0; i < STRESS_ITEMS; i++) {
        expected += i;
        CHECK((i % 5 == 0 ? bcl__deque_push_marked(&s.dq, ITEM(i))
                          : bcl__deque_push(&s.dq, ITEM(i))) > 0);
        rng = rng * 1103515245u + 12345u;
        /* Pop now and then, sometimes down to the last item, so the
         * owner races thieves on it; take the oldest now and then, which
         * races them at the top. */
        if ((rng >> 16) % 3 == 0) {
            void *item = bcl__deque_pop(&s.dq);

            if (item != NULL)
                stress_take(&s, item);
        } else if ((rng >> 16) % 7 == 1) {
            void *item = bcl__deque_pop_oldest(&s.dq);

            if (item != NULL)
                stress_take(&s, item);
        }
    }
    for (void *item; (item = bcl__deque_pop(&s.dq)) != NULL;)
        stress_take(&s, item);
    atomic_store(&s.owner_done, 1);
    for (int i = 0; i < STRESS_THIEVES; i++)
        pthread_join(thieves[i], NULL);
    CHECK_EQ(atomic_load(&s.duplicate), 0);
    CHECK_EQ(atomic_load(&s.taken), STRESS_ITEMS);
    CHECK_EQ(atomic_load(&s.sum), expected);
    for (int i = 0; i < STRESS_ITEMS; i++)
        CHECK_EQ(s.seen[i], 1);
    bcl__deque_destroy(&s.dq);
    free((void *)s.seen);
    return 0;
}
