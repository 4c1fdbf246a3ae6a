#ifndef SPO_CLIBPQ_SHIM_H
#define SPO_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
