/* Compiled as part of persistence/: it knows nothing of Lua. */
#include "lvm.h"
