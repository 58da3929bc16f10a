/* fuzz_model — libFuzzer target for mqg_model_decode (common/mqg_model_codec.c).
 *
 * Sources: fuzz/fuzz_model.c common/mqg_model_codec.c common/mqg_model.c; build with
 * -fsanitize=fuzzer,address[,undefined] -Icommon. Any input must decode to 0 or -EPROTO without
 * a crash or leak; an accepted input must re-encode to exactly the same bytes (the format is
 * canonical), otherwise the target aborts.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mqg_model m;
    int rc = mqg_model_decode(data, size, &m);
    if (rc == 0) {
        uint8_t *again = NULL;
        size_t len = 0;
        if (mqg_model_encode(&m, &again, &len) != 0 || len != size ||
            memcmp(again, data, size) != 0) {
            abort();
        }
        free(again);
    } else if (rc != -EPROTO && rc != -ENOMEM) {
        abort();
    }
    mqg_model_free(&m);
    return 0;
}
