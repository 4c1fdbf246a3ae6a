#ifndef SPO_CPOLL_SHIM_H
#define SPO_CPOLL_SHIM_H

#include <poll.h>
#include <signal.h>
#include <time.h>

// poll(2) with a timeout finer than a millisecond, for the audit writer's group commit delay
// (hundreds of microseconds). glibc declares ppoll only under _GNU_SOURCE, which Swift's Glibc
// module is built without; the function itself is in every glibc.
int ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout, const sigset_t *sigmask);

#endif
