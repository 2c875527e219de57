/* main: the mxsend binary is a thin layer over libmxsend (cli.c). */
#include "config.h"

#include "cli.h"

int main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
