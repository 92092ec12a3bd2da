/* Compiled as part of base/: no other layer may be seen from here. */
#include "lvm.h"
