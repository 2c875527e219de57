/*
 * replay: the plain-program driver of a fuzz target (STYLE.md "Tests").
 *
 * Linked with one tests/fuzz/fuzz_<name>.c instead of libFuzzer, it feeds
 * each file named on the command line, and each regular file inside a
 * directory named there (one level, in name order), to
 * LLVMFuzzerTestOneInput. `make check` runs it on the committed corpus
 * under the sanitizers, so every input that once found a bug stays a
 * regression test on machines without clang. By hand:
 *
 *     tests/fuzz/fuzz_dnsmsg.replay crash-0123abcd
 *
 * Output is TAP, one test point per file; a file that cannot be read is
 * "not ok", and so is an argument that yields no file at all (an empty
 * corpus would otherwise pass without testing anything). A target that
 * misbehaves aborts, under a sanitizer or by itself: the line before the
 * abort names the input. Each input is copied into a buffer of exactly its
 * size, as libFuzzer does, so a read one octet too far is caught.
 *
 * Must not: depend on libFuzzer, or keep anything between inputs.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REPLAY_MAX_INPUT (1024 * 1024) /* larger files are refused, not truncated */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in a target, as with libFuzzer. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

struct tap {
	unsigned n;      /* test points printed */
	unsigned failed; /* of which not ok */
};

static void tap_result(struct tap *t, int ok, const char *path, const char *why)
{
	t->n++;
	if (!ok)
		t->failed++;
	printf("%s %u - %s%s%s\n", ok ? "ok" : "not ok", t->n, path, why ? ": " : "", why ? why : "");
	fflush(stdout);
}

/* Reads path into a malloc'd buffer of exactly its size (at least one
 * octet allocated, so an empty file still has a valid pointer). Returns 0,
 * or -1 with a reason in why. */
static int read_input(const char *path, uint8_t **out, size_t *len, const char **why)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	struct stat st;
	int rc = -1;

	*out = NULL;
	*len = 0;
	if (f == NULL) {
		*why = strerror(errno);
		goto done;
	}
	if (fstat(fileno(f), &st) < 0) {
		*why = strerror(errno);
		goto done;
	}
	if (st.st_size > REPLAY_MAX_INPUT) {
		*why = "larger than 1 MiB";
		goto done;
	}
	buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
	if (buf == NULL) {
		*why = "out of memory";
		goto done;
	}
	if (fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size || ferror(f)) {
		*why = "short read";
		goto done;
	}
	*out = buf;
	*len = (size_t)st.st_size;
	buf = NULL;
	rc = 0;
done:
	free(buf);
	if (f != NULL)
		fclose(f);
	return rc;
}

static void replay_file(struct tap *t, const char *path)
{
	uint8_t *data;
	size_t len;
	const char *why = NULL;

	if (read_input(path, &data, &len, &why) < 0) {
		tap_result(t, 0, path, why);
		return;
	}
	/* named before the call, so a crash report follows its input's name */
	printf("# %s (%zu octets)\n", path, len);
	fflush(stdout);
	LLVMFuzzerTestOneInput(data, len);
	free(data);
	tap_result(t, 1, path, NULL);
}

static int skip_dot(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Replays the regular files directly inside dir, in name order. */
static void replay_dir(struct tap *t, const char *dir)
{
	struct dirent **names = NULL;
	unsigned before = t->n;
	int n = scandir(dir, &names, skip_dot, alphasort);

	if (n < 0) {
		tap_result(t, 0, dir, strerror(errno));
		return;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			replay_file(t, path);
		else
			printf("# skipped %s: not a regular file\n", path);
		free(names[i]);
	}
	free(names);
	if (t->n == before)
		tap_result(t, 0, dir, "no input files");
}

int main(int argc, char **argv)
{
	struct tap t = { 0, 0 };

	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) < 0)
			tap_result(&t, 0, argv[i], strerror(errno));
		else if (S_ISDIR(st.st_mode))
			replay_dir(&t, argv[i]);
		else
			replay_file(&t, argv[i]);
	}
	printf("1..%u\n", t.n);
	return t.failed > 0;
}
