/* status: see status.h. */
#include "config.h"

#include "status.h"

static int rank(int code)
{
	switch (code) {
	case EX_OK: return 0;
	case EX_TEMPFAIL: return 1;
	case EX_UNAVAILABLE: return 2;
	case EX_CONFIG: return 3;
	case EX_DATAERR: return 4;
	case EX_USAGE: return 6;
	default: return 5;
	}
}

int status_exit_worst(int a, int b)
{
	return rank(b) > rank(a) ? b : a;
}
