/* Compiled as part of lua/: rooms/ sits above it. */
#include "room.h"
