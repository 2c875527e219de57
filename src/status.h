/*
 * status: the exit codes of sysexits(3), and the one place that decides
 * which of several outcomes a run reports.
 */
#ifndef MXSEND_STATUS_H
#define MXSEND_STATUS_H

#include <sysexits.h>

/* Of two exit codes, the one that takes precedence in a run's exit status:
 * usage 64, then data 65, config 78, unavailable 69, tempfail 75, then 0.
 * Codes not in that list (70, 71, ...) rank just after usage. */
int status_exit_worst(int a, int b);

#endif
