#ifndef SPO_CFASTCGI_SHIM_H
#define SPO_CFASTCGI_SHIM_H
#include <fcgiapp.h>
#endif
