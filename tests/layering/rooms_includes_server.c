/* Compiled as part of rooms/: server/ sits above it. */
#include "server.h"
