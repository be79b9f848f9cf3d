/* What store.c, store_samples.c and store_ring.c share of the store: the handle, the raw
 * sample tables' ring and the queued samples. Private to src/store/. */
#ifndef VMLOC_STORE_STORE_INTERNAL_H
#define VMLOC_STORE_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "store/store_codec.h"

/* A host's one-minute roll-up in progress and the hour it belongs to. */
struct store_ru {
    int64_t hour;   /* of `h` (seconds since the epoch / 3600); -1: none yet */
    int64_t minute; /* being summed (seconds / 60); -1: none */
    uint32_t count; /* samples summed */
    double min[KIND_COUNT];
    double max[KIND_COUNT];
    double sum[KIND_COUNT];
    /* the host's cpu pressure (some) in the samples of the minute that carried it */
    uint32_t psi_count;
    double psi_min;
    double psi_max;
    double psi_sum;
    struct store_hour h; /* the hour's finished minutes, as stored */
};

/* A name of the names table, cached; `ru` for a host that samples came for. */
struct store_name {
    char *name;    /* NULL: a free slot */
    int64_t id;    /* 0: unknown, its row was rolled back (looked up or added again when used) */
    bool fresh;    /* added in the transaction still open */
    uint32_t hash; /* of the name (name_hash()): compared before the name */
    struct store_ru *ru;
};

/* The raw sample tables samples_0 .. samples_N-1 (store_ring.c; the view `samples` shows all
 * their rows): ids are given here and grow across them, so that reading the tables from the
 * one after the current one round to it, each by id, gives every row in the order written. */
#define STORE_RAW_TABLES 8

struct store_ring {
    unsigned cur;       /* the table written to */
    double cur_started; /* when it became current (or its oldest row's time, at most); NAN: at
                           the next prune */
    /* When each other one stopped being current, or (read from the tables) the end of the
     * ten seconds of its newest row's time: no row in it is newer. */
    double ended[STORE_RAW_TABLES];
    bool used[STORE_RAW_TABLES]; /* holds rows */
    bool known;                  /* false (at open, after a rollback): read the tables */
    bool clamp;                  /* times were read from rows: bound them by the next `now` */
    int64_t last_id;             /* the last raw row id given */
    sqlite3_stmt *add[STORE_RAW_TABLES];      /* one row */
    sqlite3_stmt *add_many[STORE_RAW_TABLES]; /* STORE_RAW_PER_INSERT rows */
};

/* A raw sample queued for store_commit(): its VMs are bytes [off, off + len) of `bytes`. */
struct store_raw {
    double time;
    int64_t host;
    double pct[KIND_COUNT];
    unsigned kinds;
    struct pressure psi;
    size_t off;
    size_t len;
};

struct store {
    sqlite3 *db;
    sqlite3_stmt *add_conflict;
    sqlite3_stmt *put_migration;
    sqlite3_stmt *put_agent;
    /* store_samples.c */
    struct store_ring ring;
    sqlite3_stmt *find_name;
    sqlite3_stmt *add_name;
    sqlite3_stmt *put_hour;
    sqlite3_stmt *get_hour;
    struct store_name *names; /* open addressing, `names_cap` a power of two */
    size_t names_cap;
    size_t names_n;
    size_t names_fresh;     /* entries with `fresh` set (or more, never fewer) */
    bool names_rolled_back; /* a transaction was rolled back since names_settle() */
    struct store_raw *raw;  /* queued */
    size_t n_raw;
    size_t raw_kept; /* raw[0 .. raw_kept) were queued before the last commit: names stored */
    size_t cap_raw;
    uint8_t *bytes; /* their VMs */
    size_t n_bytes;
    size_t cap_bytes;
    bool raw_open; /* store_add_vm() adds to raw[n_raw - 1] */
    bool raw_hold; /* store_commit() leaves them queued (store_hold_raw()) */
    /* The raw sample rows this connection sees, followed as they are written and pruned:
     * counting them walks all of them (in each table's index, some 12 MB in all at 10,000 hosts
     * and the default 10 minutes), too slow for every /v1/health. */
    long long raw_rows;
    bool raw_rows_known; /* false (at open, after a rollback): store_stats() counts them */
    long long dropped;
    char path[4096];
    int found_version; /* the schema version store_open() found; -1: a new file */
};

/* Raw samples written by one INSERT statement, and the values bound for each: id, time,
 * host, the kinds, the VMs, the pressure lines (PRESSURE_BIT order). */
#define STORE_RAW_PER_INSERT 32
#define STORE_RAW_PSI_COLS (PRESSURE_RES_COUNT * PRESSURE_LINE_COUNT)
#define STORE_RAW_BINDS (8 + STORE_RAW_PSI_COLS)

/* store_ring.c: prepare its statements (0 or -EIO), and finalize them. */
MUST_CHECK int store_ring_prepare(struct store *s);
void store_ring_done(struct store *s);
/* Read which tables hold rows and which is current, unless known. 0 or -EIO. */
MUST_CHECK int store_ring_load(struct store *s);
/* Empty the oldest table all of whose rows are older than `now` - `raw_s` (one a call, so
 * that a backlog drains over rounds), adding its rows to *n, and make the next table current
 * once the current one has been for a segment. 0 or -EIO. */
MUST_CHECK int store_ring_prune(struct store *s, double now, double raw_s, long long *n);
/* The i-th table, oldest first (i < STORE_RAW_TABLES). */
unsigned store_ring_nth(const struct store *s, unsigned i);

/* Prepare store_samples.c's statements. 0 or -EIO. */
MUST_CHECK int store_samples_prepare(struct store *s);
/* Write the queued raw samples (inside the caller's transaction). 0 or -EIO; the queue is
 * emptied either way. */
MUST_CHECK int store_samples_flush(struct store *s);
/* The transaction was committed: the names it added are in the table for good. */
void store_names_committed(struct store *s);
/* The query of store_each_sample() in raw table `table` into buf: every host's raw samples, or
 * (`one_host`) one host's through the table's index samples_N_time_host, with ?1 the time
 * since and ?2 the host's name. */
void store_sample_sql(bool one_host, unsigned table, char *buf, size_t len);
/* Free what store_samples.c holds (statements, caches, queue). */
void store_samples_done(struct store *s);

#endif
