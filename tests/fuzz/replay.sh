#!/bin/sh
# Runs a fuzz target's replay program on its seed corpus: for
# tests/fuzz/fuzz_NAME.replay, tests/fuzz/corpus/NAME/ of the source tree.
# It is the REPLAY_LOG_COMPILER of Makefile.am; the program prints TAP.
prog=$1
shift
name=$(basename "$prog" .replay)
name=${name#fuzz_}
exec "$prog" "${MXSEND_SRCDIR:-.}/tests/fuzz/corpus/$name" "$@"
