#ifndef SPO_CCRYPTO_SHIM_H
#define SPO_CCRYPTO_SHIM_H
// OpenSSL's libcrypto (libssl-dev), which libpq already links: message digests through EVP.
#include <openssl/evp.h>
#endif
