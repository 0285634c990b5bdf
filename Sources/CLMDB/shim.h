#ifndef COUNTERFOIL_CLMDB_SHIM_H
#define COUNTERFOIL_CLMDB_SHIM_H
#include <lmdb.h>
#endif
