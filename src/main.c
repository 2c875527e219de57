/* main: the mxsend binary is a thin layer over libmxsend (cli.c). */
#include "config.h"

#include <signal.h>

#include "cli.h"

int main(int argc, char **argv)
{
	/* A peer that closes while OpenSSL writes must be an error to
	 * handle, not a signal that kills the run (plaintext writes use
	 * MSG_NOSIGNAL; SSL_write cannot). */
	signal(SIGPIPE, SIG_IGN);
	return cli_main(argc, argv);
}
