/*
 * fuzz_config.c - the configuration loader on arbitrary file contents.
 *
 * Invariants: a load either gives a configuration or at least one error,
 * and every error names the file; a configuration's services have valid
 * names, 1..16 listen entries of a protocol their type supports.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "service.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct cfg_errors errs;
	struct daemon_conf *dc;
	FILE *f;

	if (path[0] == '\0')
		snprintf(path, sizeof(path), "/tmp/fuzz_config.%d.conf", getpid());
	if ((f = fopen(path, "w")) == NULL)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	dc = cfg_load(path, CFG_CHECK_USER, &errs);
	if (dc == NULL) {
		assert(errs.n >= 1);
		for (unsigned i = 0; i < errs.n; i++)
			assert(strncmp(errs.msg[i], path, strlen(path)) == 0);
	} else {
		assert(errs.n == 0);
		for (unsigned i = 0; i < dc->nservices; i++) {
			const struct svc_conf *sc = dc->services[i];
			assert(strlen(sc->name) >= 1 && strlen(sc->name) <= 32);
			assert(sc->nlisten >= 1 && sc->nlisten <= CFG_LISTEN_MAX);
			for (unsigned j = 0; j < sc->nlisten; j++)
				assert(sc->type->protos & sc->listen[j].proto);
		}
	}
	cfg_free(dc);
	cfg_errors_free(&errs);
	return 0;
}
