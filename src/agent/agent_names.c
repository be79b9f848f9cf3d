/* The agent's backends and modes by name (agent.h): for its log, its API, its registration
 * and its options. */
#include <errno.h>
#include <string.h>

#include "agent/agent.h"

const char *
agent_backend_name(enum agent_backend b)
{
    return b == AGENT_BACKEND_LIBVIRT ? "libvirt" : "sim";
}

const char *
agent_mode_name(enum agent_mode m)
{
    switch (m) {
    case AGENT_MODE_EDGE:
        return "edge";
    case AGENT_MODE_PEER:
        return "peer";
    case AGENT_MODE_CENTRAL:
        break;
    }
    return "central";
}

int
agent_mode_parse(const char *s, enum agent_mode *ret)
{
    for (int m = AGENT_MODE_CENTRAL; m <= AGENT_MODE_PEER; m++) {
        if (strcmp(s, agent_mode_name((enum agent_mode)m)) == 0) {
            *ret = (enum agent_mode)m;
            return 0;
        }
    }
    return -EINVAL;
}
