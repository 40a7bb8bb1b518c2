/*
 * fuzz_config.c - the configuration loader on arbitrary file contents.
 *
 * The input is the main file of a private directory that also holds a few
 * files to include: a.conf (a service), sub/b.conf (includes "../a.conf")
 * and self.conf (includes itself).  An input that could include a file
 * outside that directory (an absolute path or "..") is skipped, so that a
 * glob never walks the whole file system.
 *
 * Invariants: a load either gives a configuration or at least one error,
 * and every error names a file of the directory; a configuration's
 * services have valid names, 1..16 listen entries of a protocol their
 * type supports, and name the file they were defined in.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cfg.h"
#include "service.h"

static char dir[64];                  /* the private directory, with a '/' */
static char path[96];                 /* its main file */

static void
put(const char *name, const char *text)
{
	char p[128];
	FILE *f;

	snprintf(p, sizeof(p), "%s%s", dir, name);
	if ((f = fopen(p, "w")) != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

static void
make_dir(void)
{
	char sub[96];

	snprintf(dir, sizeof(dir), "/tmp/fuzz_config.%d/", getpid());
	snprintf(path, sizeof(path), "%smain.conf", dir);
	snprintf(sub, sizeof(sub), "%ssub", dir);
	mkdir(dir, 0700);
	mkdir(sub, 0700);
	put("a.conf", "services = ( { name = \"a\"; type = \"echo\";\n"
	    "  listen = ( \"tcp://127.0.0.1:0\" ); } );\n");
	put("sub/b.conf", "@include \"../a.conf\"\n");
	put("self.conf", "@include \"self.conf\"\n");
}

/* Whether an @include in data could leave the directory. */
static bool
may_leave(const uint8_t *data, size_t size)
{
	return memmem(data, size, "@include", 8) != NULL &&
	    (memmem(data, size, "\"/", 2) != NULL ||
	    memmem(data, size, "..", 2) != NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg_errors errs;
	struct daemon_conf *dc;
	FILE *f;

	if (dir[0] == '\0')
		make_dir();
	if (may_leave(data, size) || (f = fopen(path, "w")) == NULL)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	dc = cfg_load(path, CFG_CHECK_USER, &errs);
	if (dc == NULL) {
		assert(errs.n >= 1);
		for (unsigned i = 0; i < errs.n; i++)
			assert(strncmp(errs.msg[i], dir, strlen(dir)) == 0);
	} else {
		assert(errs.n == 0);
		for (unsigned i = 0; i < dc->nservices; i++) {
			const struct svc_conf *sc = dc->services[i];
			assert(strlen(sc->name) >= 1 && strlen(sc->name) <= 32);
			assert(sc->nlisten >= 1 && sc->nlisten <= CFG_LISTEN_MAX);
			assert(strncmp(sc->file, dir, strlen(dir)) == 0);
			for (unsigned j = 0; j < sc->nlisten; j++)
				assert(sc->type->protos & sc->listen[j].proto);
		}
	}
	cfg_free(dc);
	cfg_errors_free(&errs);
	return 0;
}
