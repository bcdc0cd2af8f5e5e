/* A VFS shim over the default one that gathers a transaction's WAL appends into one write.
 *
 * SQLite writes every WAL frame with two pwrite() calls (its 24-byte header, then the page), so a commit
 * of k pages costs 2k system calls, each paying the syscall entry, ext4's per-write checks, locking and
 * timestamp update, and a partial-page copy for every header. The shim keeps appends to a WAL file that
 * follow each other in memory and writes them with one pwrite when the transaction's commit frame is
 * complete: a 24-byte frame header whose "database size after commit" field is non-zero marks the commit
 * frame, and the write after it is that frame's page. The pwrite then happens inside SQLite's xWrite of
 * that page, before SQLite publishes the commit in the shared WAL index, so every other connection (other
 * shards, the checkpointer, other processes) reads only bytes that are in the file, and a failed write
 * fails the commit exactly as it would without the shim.
 *
 * Every other operation on a WAL file (read, sync, size, truncate, lock, file control, close) and any
 * write that does not extend the gathered run writes the run out first, so the file a call sees is the
 * file SQLite would have seen. Main database files and journals pass straight through.
 *
 * Measured in docs/benchmarks.md (Subscriptions, tenth session). Registered once per process
 * (sqlite3_vfs_register is SQLite's own process-wide registry; the shim object never changes after it). */
#include "store/sqlite/sqlite.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WB_NAME "aw-walbuf"
/* The run's limit: the unix VFS writes at most 0x1ffff bytes per call (it masks larger sizes). A run that
 * would outgrow it is written out first. */
#define WB_CAP 0x1ffffu
#define WB_FRAME_HDR 24

typedef struct wb_file {
    sqlite3_file base;
    sqlite3_file *real; /* the default VFS's file object, allocated right after this struct */
    bool wal;
    bool commit_next;   /* the last write was a commit frame's header: its page completes the commit */
    unsigned char *buf; /* WB_CAP bytes, allocated at the first write */
    size_t len;
    sqlite3_int64 off;  /* file offset of buf[0] */
} wb_file;

static sqlite3_vfs wb_vfs;
static sqlite3_vfs *wb_base;

static int wb_flush(wb_file *f)
{
    if (f->len == 0) return SQLITE_OK;
    size_t len = f->len;
    f->len = 0; /* a failed run is not retried: SQLite sees the error and rolls the transaction back */
    return f->real->pMethods->xWrite(f->real, f->buf, (int)len, f->off);
}

static int wb_close(sqlite3_file *pf)
{
    wb_file *f = (wb_file *)pf;
    int rc = wb_flush(f);
    int rc2 = f->real->pMethods->xClose(f->real);
    free(f->buf);
    f->buf = NULL;
    return rc != SQLITE_OK ? rc : rc2;
}

static int wb_read(sqlite3_file *pf, void *p, int n, sqlite3_int64 off)
{
    wb_file *f = (wb_file *)pf;
    int rc = wb_flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xRead(f->real, p, n, off);
}

static int wb_write(sqlite3_file *pf, const void *p, int n, sqlite3_int64 off)
{
    wb_file *f = (wb_file *)pf;
    if (!f->wal) return f->real->pMethods->xWrite(f->real, p, n, off);
    bool commit = f->commit_next;
    f->commit_next = false;
    if (f->len && (off != f->off + (sqlite3_int64)f->len || f->len + (size_t)n > WB_CAP)) {
        int rc = wb_flush(f); /* not an append to the run (SQLite rewrites a frame), or the run is full */
        if (rc != SQLITE_OK) return rc;
    }
    if (!f->buf) f->buf = malloc(WB_CAP);
    if (!f->buf || (size_t)n > WB_CAP) /* no memory, or too large to gather: write it as SQLite would have */
        return f->real->pMethods->xWrite(f->real, p, n, off);
    if (f->len == 0) f->off = off;
    memcpy(f->buf + f->len, p, (size_t)n);
    f->len += (size_t)n;
    if (commit) return wb_flush(f); /* the commit frame is complete: out before SQLite publishes it */
    if (n == WB_FRAME_HDR && off >= 32) {
        const unsigned char *h = p; /* frame header: page number, then the database size after a commit */
        f->commit_next = (h[4] | h[5] | h[6] | h[7]) != 0;
    }
    return SQLITE_OK;
}

static int wb_truncate(sqlite3_file *pf, sqlite3_int64 size)
{
    wb_file *f = (wb_file *)pf;
    int rc = wb_flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real, size);
}

static int wb_sync(sqlite3_file *pf, int flags)
{
    wb_file *f = (wb_file *)pf;
    int rc = wb_flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int wb_file_size(sqlite3_file *pf, sqlite3_int64 *size)
{
    wb_file *f = (wb_file *)pf;
    int rc = wb_flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real, size);
}

static int wb_lock(sqlite3_file *pf, int lock)
{
    wb_file *f = (wb_file *)pf;
    int rc = wb_flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xLock(f->real, lock);
}

static int wb_unlock(sqlite3_file *pf, int lock)
{
    wb_file *f = (wb_file *)pf;
    int rc = wb_flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xUnlock(f->real, lock);
}

static int wb_check_reserved(sqlite3_file *pf, int *out)
{
    wb_file *f = (wb_file *)pf;
    return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int wb_file_control(sqlite3_file *pf, int op, void *arg)
{
    wb_file *f = (wb_file *)pf;
    int rc = wb_flush(f);
    if (rc != SQLITE_OK) return rc;
    rc = f->real->pMethods->xFileControl(f->real, op, arg);
    if (op == SQLITE_FCNTL_VFSNAME && rc == SQLITE_OK && arg) {
        char *inner = *(char **)arg; /* "aw-walbuf/unix", as the shim VFSes of SQLite's own tree do */
        char *s = sqlite3_mprintf("%s/%z", WB_NAME, inner);
        if (s) *(char **)arg = s;
    }
    return rc;
}

static int wb_sector_size(sqlite3_file *pf)
{
    sqlite3_file *r = ((wb_file *)pf)->real;
    return r->pMethods->xSectorSize(r);
}

static int wb_device_chars(sqlite3_file *pf)
{
    sqlite3_file *r = ((wb_file *)pf)->real;
    return r->pMethods->xDeviceCharacteristics(r);
}

/* The shared-memory index lives on the main database file, which never gathers anything. */
static int wb_shm_map(sqlite3_file *pf, int pg, int pgsz, int extend, void volatile **pp)
{
    sqlite3_file *r = ((wb_file *)pf)->real;
    return r->pMethods->xShmMap(r, pg, pgsz, extend, pp);
}

static int wb_shm_lock(sqlite3_file *pf, int offset, int n, int flags)
{
    sqlite3_file *r = ((wb_file *)pf)->real;
    return r->pMethods->xShmLock(r, offset, n, flags);
}

static void wb_shm_barrier(sqlite3_file *pf)
{
    sqlite3_file *r = ((wb_file *)pf)->real;
    r->pMethods->xShmBarrier(r);
}

static int wb_shm_unmap(sqlite3_file *pf, int del)
{
    sqlite3_file *r = ((wb_file *)pf)->real;
    return r->pMethods->xShmUnmap(r, del);
}

static int wb_fetch(sqlite3_file *pf, sqlite3_int64 off, int n, void **pp)
{
    sqlite3_file *r = ((wb_file *)pf)->real;
    return r->pMethods->xFetch(r, off, n, pp);
}

static int wb_unfetch(sqlite3_file *pf, sqlite3_int64 off, void *p)
{
    sqlite3_file *r = ((wb_file *)pf)->real;
    return r->pMethods->xUnfetch(r, off, p);
}

static const sqlite3_io_methods wb_io = {
    .iVersion = 3,
    .xClose = wb_close,
    .xRead = wb_read,
    .xWrite = wb_write,
    .xTruncate = wb_truncate,
    .xSync = wb_sync,
    .xFileSize = wb_file_size,
    .xLock = wb_lock,
    .xUnlock = wb_unlock,
    .xCheckReservedLock = wb_check_reserved,
    .xFileControl = wb_file_control,
    .xSectorSize = wb_sector_size,
    .xDeviceCharacteristics = wb_device_chars,
    .xShmMap = wb_shm_map,
    .xShmLock = wb_shm_lock,
    .xShmBarrier = wb_shm_barrier,
    .xShmUnmap = wb_shm_unmap,
    .xFetch = wb_fetch,
    .xUnfetch = wb_unfetch,
};

static int wb_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *pf, int flags, int *out_flags)
{
    wb_file *f = (wb_file *)pf;
    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *)(f + 1);
    int rc = wb_base->xOpen(wb_base, name, f->real, flags, out_flags);
    if (rc != SQLITE_OK) return rc; /* pMethods stays NULL: SQLite does not call xClose */
    if (!f->real->pMethods) return SQLITE_CANTOPEN;
    /* The forwarding table above is version 3; a real file of an older version gets no shim. */
    if (f->real->pMethods->iVersion < 3) {
        f->real->pMethods->xClose(f->real);
        return SQLITE_CANTOPEN;
    }
    f->wal = (flags & SQLITE_OPEN_WAL) != 0;
    pf->pMethods = &wb_io;
    return SQLITE_OK;
}

static int wb_delete(sqlite3_vfs *v, const char *n, int sync) { return wb_base->xDelete(wb_base, n, sync); }
static int wb_access(sqlite3_vfs *v, const char *n, int fl, int *out) { return wb_base->xAccess(wb_base, n, fl, out); }
static int wb_full(sqlite3_vfs *v, const char *n, int len, char *out) { return wb_base->xFullPathname(wb_base, n, len, out); }
static void *wb_dlopen(sqlite3_vfs *v, const char *n) { return wb_base->xDlOpen(wb_base, n); }
static void wb_dlerror(sqlite3_vfs *v, int n, char *m) { wb_base->xDlError(wb_base, n, m); }
static void (*wb_dlsym(sqlite3_vfs *v, void *h, const char *s))(void) { return wb_base->xDlSym(wb_base, h, s); }
static void wb_dlclose(sqlite3_vfs *v, void *h) { wb_base->xDlClose(wb_base, h); }
static int wb_random(sqlite3_vfs *v, int n, char *out) { return wb_base->xRandomness(wb_base, n, out); }
static int wb_sleep(sqlite3_vfs *v, int us) { return wb_base->xSleep(wb_base, us); }
static int wb_time(sqlite3_vfs *v, double *t) { return wb_base->xCurrentTime(wb_base, t); }
static int wb_last_error(sqlite3_vfs *v, int n, char *m) { return wb_base->xGetLastError(wb_base, n, m); }
static int wb_time64(sqlite3_vfs *v, sqlite3_int64 *t) { return wb_base->xCurrentTimeInt64(wb_base, t); }

static pthread_once_t wb_once = PTHREAD_ONCE_INIT;
static bool wb_ok;

static void wb_register(void)
{
    wb_base = sqlite3_vfs_find(NULL);
    if (!wb_base || wb_base->iVersion < 2 || !wb_base->xCurrentTimeInt64) return;
    wb_vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(wb_file) + wb_base->szOsFile,
        .mxPathname = wb_base->mxPathname,
        .zName = WB_NAME,
        .xOpen = wb_open,
        .xDelete = wb_delete,
        .xAccess = wb_access,
        .xFullPathname = wb_full,
        .xDlOpen = wb_dlopen,
        .xDlError = wb_dlerror,
        .xDlSym = wb_dlsym,
        .xDlClose = wb_dlclose,
        .xRandomness = wb_random,
        .xSleep = wb_sleep,
        .xCurrentTime = wb_time,
        .xGetLastError = wb_last_error,
        .xCurrentTimeInt64 = wb_time64,
    };
    wb_ok = sqlite3_vfs_register(&wb_vfs, 0) == SQLITE_OK;
}

const char *aw_sq_walbuf_vfs(void)
{
    pthread_once(&wb_once, wb_register);
    return wb_ok ? WB_NAME : NULL;
}
