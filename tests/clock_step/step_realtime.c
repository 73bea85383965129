/* A test's stand-in for NTP stepping the system clock: preloaded into the box process, it adds the whole
   seconds written in the file named by EDGE_TEST_CLOCK_OFFSET_FILE to CLOCK_REALTIME, and leaves the
   monotonic clocks alone, as a real step does. The file is read again at most every 50 ms. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int (*real_clock_gettime)(clockid_t, struct timespec *);
static long long offset_s;
static long long next_read_ns;

static void read_offset(void) {
    struct timespec now;
    real_clock_gettime(CLOCK_MONOTONIC, &now);
    long long now_ns = now.tv_sec * 1000000000LL + now.tv_nsec;
    if (now_ns < __atomic_load_n(&next_read_ns, __ATOMIC_RELAXED)) return;
    __atomic_store_n(&next_read_ns, now_ns + 50000000LL, __ATOMIC_RELAXED);
    const char *path = getenv("EDGE_TEST_CLOCK_OFFSET_FILE");
    FILE *file = path ? fopen(path, "r") : NULL;
    long long seconds = 0;
    if (file) {
        if (fscanf(file, "%lld", &seconds) == 1) __atomic_store_n(&offset_s, seconds, __ATOMIC_RELAXED);
        fclose(file);
    }
}

int clock_gettime(clockid_t clock, struct timespec *ts) {
    if (!real_clock_gettime) real_clock_gettime = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    int rc = real_clock_gettime(clock, ts);
    if (rc == 0 && (clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE)) {
        read_offset();
        ts->tv_sec += __atomic_load_n(&offset_s, __ATOMIC_RELAXED);
    }
    return rc;
}
