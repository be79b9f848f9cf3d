/* The host's lock in peer mode (agent/hostlock.h): leases on the clock given, holders, and
 * the tokens that keep a late request of a holder from ending or taking back its later grant. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent/hostlock.h"

#define S 1000000ull /* one second on the lock's clock (microseconds) */

static int
take(struct hostlock *l, uint64_t now, const char *holder, uint64_t token, double lease_s)
{
    const char *h = NULL;
    double left = -1;
    return hostlock_take(l, now, holder, token, lease_s, &h, &left);
}

/* Release `holder`'s take `token` at `now`; a release that finds the lock free is remembered
 * for 10 s. */
static int
rel(struct hostlock *l, uint64_t now, const char *holder, uint64_t token)
{
    return hostlock_release(l, holder, token, now, 10);
}

/* Without tokens: one holder at a time, renewals, release, and a lease that runs out. */
static void
test_lease(void **state)
{
    (void)state;
    struct hostlock l;
    memset(&l, 0, sizeof(l));
    assert_null(hostlock_holder(&l, 0, NULL));
    assert_int_equal(take(&l, 0, "a", 0, 10), 0);
    const char *h = NULL;
    double left = 0;
    assert_int_equal(hostlock_take(&l, 2 * S, "b", 0, 10, &h, &left), -EBUSY);
    assert_string_equal(h, "a");
    assert_true(left > 7.9 && left < 8.1);
    assert_int_equal(take(&l, 5 * S, "a", 0, 10), 0); /* renewed: now until 15 s */
    assert_int_equal(take(&l, 12 * S, "b", 0, 10), -EBUSY);
    assert_int_equal(rel(&l, 12 * S, "b", 0), -EPERM);
    assert_string_equal(hostlock_holder(&l, 12 * S, NULL), "a");
    char was[MODEL_MAX_NAME + 1];
    assert_false(hostlock_expire(&l, 14 * S, was));
    assert_true(hostlock_expire(&l, 15 * S, was));
    assert_string_equal(was, "a");
    assert_int_equal(rel(&l, 15 * S, "a", 0), 1);
    assert_int_equal(take(&l, 16 * S, "b", 0, 10), 0);
    assert_int_equal(rel(&l, 16 * S, "b", 0), 0);
    assert_int_equal(rel(&l, 16 * S, "b", 0), 1);
    assert_null(hostlock_holder(&l, 16 * S, NULL));
}

/* A release sent for an earlier take (its answer was lost) that arrives after the holder's
 * next take leaves that take in place; the late renewal of a released take does not take the
 * lock back. */
static void
test_tokens(void **state)
{
    (void)state;
    struct hostlock l;
    memset(&l, 0, sizeof(l));
    assert_int_equal(take(&l, 0, "a", 100, 10), 0);
    assert_int_equal(take(&l, 1 * S, "a", 101, 10), 0); /* a new take of a's replaces it */
    assert_int_equal(rel(&l, 1 * S, "a", 100), 1);
    assert_string_equal(hostlock_holder(&l, 1 * S, NULL), "a");
    assert_int_equal(take(&l, 2 * S, "a", 100, 10), -ESTALE); /* the old take's renewal */
    assert_int_equal(take(&l, 2 * S, "a", 101, 10), 0);       /* its own renewal */
    assert_int_equal(take(&l, 3 * S, "b", 7, 10), -EBUSY);
    assert_int_equal(rel(&l, 3 * S, "a", 101), 0);
    /* Released at 3 s: a late renewal of that take is refused until its lease would have
     * ended or 10 s after the release (13 s), and a free lock is anyone's. */
    const char *h = "x";
    double left = -1;
    assert_int_equal(hostlock_take(&l, 4 * S, "a", 101, 10, &h, &left), -ESTALE);
    assert_null(h);
    assert_null(hostlock_holder(&l, 4 * S, NULL));
    assert_int_equal(take(&l, 11 * S, "a", 99, 10), -ESTALE);
    assert_int_equal(take(&l, 13 * S, "a", 101, 10), 0); /* forgotten after that */
    assert_int_equal(rel(&l, 13 * S, "a", 0), 0);        /* no token: as before tokens */
    assert_int_equal(take(&l, 14 * S, "b", 5, 10), 0);
    assert_int_equal(rel(&l, 14 * S, "b", 5), 0);
    assert_int_equal(take(&l, 15 * S, "a", 3, 10), 0); /* b's tokens say nothing of a's */
}

/* A release that overtook its take (the take's answer was late, the holder gave up on it):
 * the take, when it comes, is stale, and does not block the host for a lease nobody renews. */
static void
test_release_before_take(void **state)
{
    (void)state;
    struct hostlock l;
    memset(&l, 0, sizeof(l));
    assert_int_equal(rel(&l, 0, "a", 9), 1);
    assert_int_equal(take(&l, 1 * S, "a", 9, 10), -ESTALE);
    assert_null(hostlock_holder(&l, 1 * S, NULL));
    assert_int_equal(take(&l, 2 * S, "a", 10, 10), 0); /* its next take */
    assert_int_equal(rel(&l, 3 * S, "a", 10), 0);
    assert_int_equal(rel(&l, 3 * S, "a", 9), 1); /* an older one changes nothing */
    assert_int_equal(take(&l, 4 * S, "a", 10, 10), -ESTALE);
    assert_int_equal(rel(&l, 4 * S, "a", 0), 1); /* without a token: not remembered */
    assert_int_equal(take(&l, 14 * S, "a", 9, 10), 0);
}

/* A release with a later token than the take that holds the lock: the holder moved on (that
 * take's answer was lost, and the release of its next take overtook the next take). The lock
 * is freed, and the late take is stale. */
static void
test_release_of_later_take(void **state)
{
    (void)state;
    struct hostlock l;
    memset(&l, 0, sizeof(l));
    assert_int_equal(take(&l, 0, "a", 20, 10), 0);
    assert_int_equal(rel(&l, 1 * S, "a", 19), 1); /* an earlier one: nothing */
    assert_string_equal(hostlock_holder(&l, 1 * S, NULL), "a");
    assert_int_equal(rel(&l, 1 * S, "a", 21), 0);
    assert_null(hostlock_holder(&l, 1 * S, NULL));
    assert_int_equal(take(&l, 2 * S, "a", 21, 10), -ESTALE);
    assert_int_equal(take(&l, 2 * S, "a", 20, 10), -ESTALE);
    assert_int_equal(take(&l, 2 * S, "a", 22, 10), 0);
    /* A release near the end of the lease: its take stays stale for the release's 10 s, not
     * only for the second left of the lease (the late take would hold the lock a whole lease
     * with nobody to renew it). */
    assert_int_equal(rel(&l, 11 * S, "a", 23), 0);
    assert_int_equal(take(&l, 13 * S, "a", 22, 10), -ESTALE);
    assert_int_equal(take(&l, 20 * S, "a", 23, 10), -ESTALE);
    assert_int_equal(take(&l, 22 * S, "a", 23, 10), 0); /* then forgotten */
}

/* A lease that ran out forgets the token: the holder's renewal takes the free lock again, as
 * before tokens; a lock held with no token (after a restart) takes the holder's next one. */
static void
test_tokens_after_lapse(void **state)
{
    (void)state;
    struct hostlock l;
    memset(&l, 0, sizeof(l));
    assert_int_equal(take(&l, 0, "a", 50, 1), 0);
    char was[MODEL_MAX_NAME + 1];
    assert_true(hostlock_expire(&l, 2 * S, was));
    assert_int_equal(take(&l, 2 * S, "a", 50, 1), 0);
    assert_int_equal(rel(&l, 2 * S, "a", 50), 0);
    assert_int_equal(take(&l, 4 * S, "a", 0, 10), 0); /* restored: no token */
    assert_int_equal(take(&l, 5 * S, "a", 7, 10), 0); /* the holder's renewal */
    assert_int_equal(take(&l, 6 * S, "a", 6, 10), -ESTALE);
    assert_int_equal(rel(&l, 6 * S, "a", 6), 1);
    assert_int_equal(rel(&l, 6 * S, "a", 7), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lease),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_tokens_after_lapse),
        cmocka_unit_test(test_release_before_take),
        cmocka_unit_test(test_release_of_later_take),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
