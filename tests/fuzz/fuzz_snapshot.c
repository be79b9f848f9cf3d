/* libFuzzer target for the snapshot decoder (proto/snapshot.c), the parser that reads what
 * agents and files send. Each input is decoded whole with snapshot_decode() and again with
 * the streaming decoder fed in two pieces split at offset data[0]; both must agree. A
 * snapshot that decodes is encoded, decoded and encoded again: the two encodings must be
 * equal. Any disagreement aborts, so the fuzzer reports it as a crash. Frees everything. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/model.h"
#include "proto/perr.h"
#include "proto/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decode with the streaming decoder, fed data[0 .. split) then data[split .. size). */
static int
decode_split(const uint8_t *data, size_t size, size_t split, struct cluster *ret_cl,
             struct perr *err)
{
    struct snapshot_decoder *d = snapshot_decoder_new("fuzz");
    if (d == NULL)
        return -ENOMEM;
    int r = snapshot_decoder_feed(d, data, split, err);
    if (r == 0)
        r = snapshot_decoder_feed(d, data + split, size - split, err);
    if (r == 0)
        r = snapshot_decoder_finish(d, ret_cl, err);
    snapshot_decoder_free(d);
    return r;
}

/* Encode `cl` compactly; NULL when the encoder fails (only on OOM, which libFuzzer's
 * malloc limit may cause). */
static char *
encode(const struct cluster *cl, size_t *ret_len)
{
    char *s = NULL;
    if (snapshot_encode(cl, 0, &s, ret_len) < 0)
        return NULL;
    return s;
}

/* encode(decode(encode(cl))) must equal encode(cl), and the re-decode must succeed. */
static void
check_roundtrip(const struct cluster *cl, const char *enc, size_t enc_len)
{
    struct cluster again;
    struct perr err;
    cluster_init(&again);
    if (snapshot_decode(enc, enc_len, "roundtrip", &again, &err) < 0)
        abort(); /* the encoder wrote something its own decoder rejects */
    if (again.n_hosts != cl->n_hosts || again.n_vms != cl->n_vms)
        abort();
    size_t len2 = 0;
    char *enc2 = encode(&again, &len2);
    if (enc2 != NULL && (len2 != enc_len || memcmp(enc2, enc, enc_len) != 0))
        abort(); /* decode or encode lost or changed a field */
    free(enc2);
    cluster_done(&again);
}

/* Whether two error messages for the same input agree. The line:column of a JSON syntax
 * error is derived from yajl's count of bytes consumed, which moves when the offending token
 * straddles two chunks (a known imprecision); for syntax errors only the text after the
 * position must match. */
static bool
same_error(const char *a, const char *b)
{
    static const char syntax[] = ": invalid JSON: ";
    const char *sa = strstr(a, syntax);
    const char *sb = strstr(b, syntax);
    if (sa != NULL && sb != NULL)
        return strcmp(sa, sb) == 0;
    return strcmp(a, b) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cluster whole, split;
    struct perr err_whole, err_split;
    cluster_init(&whole);
    cluster_init(&split);
    memset(&err_whole, 0, sizeof(err_whole));
    memset(&err_split, 0, sizeof(err_split));

    int r_whole = snapshot_decode(data, size, "fuzz", &whole, &err_whole);
    size_t at = size > 0 ? data[0] : 0;
    if (at > size)
        at = size;
    int r_split = decode_split(data, size, at, &split, &err_split);

    /* The result must not depend on how the bytes were chunked (OOM aside). */
    if ((r_whole == 0) != (r_split == 0) && r_whole != -ENOMEM && r_split != -ENOMEM)
        abort();
    if (r_whole == 0) {
        size_t len = 0;
        char *enc = encode(&whole, &len);
        if (enc != NULL) {
            if (r_split == 0) {
                size_t len_split = 0;
                char *enc_split = encode(&split, &len_split);
                if (enc_split != NULL && (len_split != len || memcmp(enc_split, enc, len) != 0))
                    abort();
                free(enc_split);
            }
            check_roundtrip(&whole, enc, len);
        }
        free(enc);
    } else if (r_split == r_whole && !same_error(err_whole.msg, err_split.msg)) {
        abort(); /* same input, same error: chunking changed the message */
    }
    cluster_done(&whole);
    cluster_done(&split);
    return 0;
}
