#ifndef SPO_CJANSSON_SHIM_H
#define SPO_CJANSSON_SHIM_H
#include <jansson.h>

/// jansson's type test is a macro; Swift sees only the struct. These read it.
static inline int spo_json_type(const json_t *json) { return json ? (int)json->type : -1; }
#endif
