#ifndef SPO_CZLIB_SHIM_H
#define SPO_CZLIB_SHIM_H
// zlib (zlib1g-dev): gzip for documents kept compressed, such as openapi.json.
#include <zlib.h>

// deflateInit2 is a macro over deflateInit2_ (it passes the library's version and stream size),
// which Swift cannot call: this inline function is the same call.
static inline int spo_deflate_init_gzip(z_stream *stream, int level) {
    // windowBits 15 + 16: a gzip header and trailer instead of zlib's; memLevel 8 is the default.
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}
#endif
