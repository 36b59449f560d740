// Command aiobench runs every registered internal/bench engine side by side
// on a matrix of rows and prints the median ops/s of each engine, its ratio
// to the C reference program of the same backend and, for read rows, its
// ratio to the goroutines+ReadAt baseline.
//
// Rows (see docs/benchmarks.md):
//
//	nop/qd{1,32,128}                       no-op submissions
//	read4k/cache/qd{1,32,128}              random 4 KiB reads, file mlocked in the page cache
//	read4k/direct/qd{1,32,128}             random 4 KiB O_DIRECT reads
//	read4k/{cache,direct}/qd{32,128}/fds128  reads spread over 128 fds (posixaio and baseline)
//
// Engines are interleaved within a row (round-robin, the starting engine
// rotating each repetition); each engine runs -reps times for -dur and the
// median is reported along with the spread (max-min)/median.
//
// Usage:
//
//	aiobench [-reps 5] [-dur 300ms] [-warmup=true] [-filter REGEXP] [-quick]
//	         [-dir DIR] [-size 1GiB] [-cachesize 256MiB] [-keep] [-seed 1]
//	         [-cbin DIR] [-json] [-v] [-list]
//	aiobench -render FILE|-
//
// -filter is matched against "<row> <backend>/<engine>", e.g.
// -filter 'direct/qd128 (uring|goroutines)/'. -list prints the rows and
// engines that would run, one row per line (with -json: a JSON array of
// {"row", "engines"}). -render takes no other flag
// (exit 2) and refuses a file with no rows, two concatenated reports or data
// after the report (exit 1). The C reference programs come from -cbin, else
// $AIOKIT_CBIN, else (in the source tree: the working directory is at or
// under a directory whose go.mod declares exactly module
// github.com/aiokit/aio) testdata/c/bench_*.c built into build/c by
// internal/xcheck.BuildErr, else ../libexec/aiokit next to the executable
// (make install). An installed aiobench (its ../libexec/aiokit holds the
// programs) run inside a source tree that does not contain the executable
// uses libexec and builds nothing. BuildErr is the
// cross-check tests' builder, not the Makefile's: it reads only CC and
// CFLAGS from the environment (not CPPFLAGS or LDFLAGS) and keeps a .key
// stamp of the sources and flags next to each program, so a program the
// Makefile built (it writes no stamp) is rebuilt once. A program that is
// missing or fails to build is reported in its rows.
//
// Exit status: 0 when some engine was measured (or for -h, -list, -render);
// 1 when nothing could run (no row matches -filter, with -list too; every
// row skipped; every engine failed or missing), on an error, or when the
// output cannot be written; 2 for bad usage, including a -cbin that is not a
// directory holding the C programs, an empty -dir or -render, and a -dur
// that is not whole milliseconds (the C programs' unit); 129, 130 or 143
// after SIGHUP, SIGINT or SIGTERM, once the C program running is killed
// (bench.KillC) and what the run wrote in -dir is removed: the temporary
// file of a data file being written and, unless -keep, the data files it
// created or rewrote (an intact one it found stays); 141, with the same
// cleanup and no message, when stdout or stderr is a pipe closed before all the
// output was written (`aiobench | head -1`, `aiobench -v 2>&1 | head`).
package main
