#ifndef SPO_CSHAREDMEMORY_SHIM_H
#define SPO_CSHAREDMEMORY_SHIM_H

#include <stdint.h>

// Atomic loads and stores of one 64-bit word, for memory shared between processes (the pool's
// metrics). Header-only and inline, like swift-nio's CNIOAtomics: on x86-64 and arm64 the relaxed
// forms compile to plain moves, and no C compile unit of its own is linked (valgrind 3.19, which
// counts the bench's instructions, cannot read the DWARF 5 that clang gives one).

/// The word at `word`, relaxed.
static inline uint64_t spo_load_relaxed(const uint64_t *word) { return __atomic_load_n(word, __ATOMIC_RELAXED); }

/// Sets the word at `word`, relaxed.
static inline void spo_store_relaxed(uint64_t *word, uint64_t value) {
    __atomic_store_n(word, value, __ATOMIC_RELAXED);
}

/// The word at `word`, and every store made before a `spo_store_release` of it.
static inline uint64_t spo_load_acquire(const uint64_t *word) { return __atomic_load_n(word, __ATOMIC_ACQUIRE); }

/// Sets the word at `word` after every store before it.
static inline void spo_store_release(uint64_t *word, uint64_t value) {
    __atomic_store_n(word, value, __ATOMIC_RELEASE);
}

#endif
