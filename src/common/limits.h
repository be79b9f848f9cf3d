/* Every size limit on outside input, in one place, so each is documented and tested. */
#ifndef VMLOC_COMMON_LIMITS_H
#define VMLOC_COMMON_LIMITS_H

#include <stddef.h>

/* A policy config file: a few hundred lines at most in practice. */
#define LIMIT_CONFIG_BYTES ((size_t)1024 * 1024u)
/* A snapshot file: 100,000 hosts x 25 VMs is about 100 MB; allow ample room. */
#define LIMIT_SNAPSHOT_BYTES (2048ull * 1024u * 1024u)
/* A peers file (agent/peerfile.h): 1024 URLs with comments fit many times over. */
#define LIMIT_PEERS_FILE_BYTES ((size_t)1024 * 1024u)
/* What a daemon may hold at once of the answers it is reading from other daemons (a manager
 * asks every agent for its sample together; net/http_client.h counts every byte each
 * connection reads, past the first HTTP_ANSWER_FREE of each, until its request is
 * delivered): past it, the largest answers are dropped. The largest sample
 * (WIRE_MAX_SAMPLE_BYTES in proto/wire.h, about 12 MiB, which is also the most a daemon
 * reads of one answer) fits, checked where the daemons set it. */
#define LIMIT_ANSWERS_HELD ((size_t)16 * 1024u * 1024u)
/* Read size for streaming decoders. */
#define LIMIT_READ_CHUNK ((size_t)256 * 1024u)

#endif
