/* Compiled as part of server/: a room, a conn and a namespace are opaque above rooms/. */
#include "conn.h"
#include "ns.h"
#include "room.h"

int sizes[] = {sizeof(struct room), sizeof(struct conn), sizeof(struct ns)};
