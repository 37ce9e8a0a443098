// ggml reference data for tilevm's format tests: see README.md beside this file.
// Writes ggml's reference quantization of a seeded f32 input for Q4_0, Q8_0, MXFP4, NVFP4.
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include "ggml.h"
#include "ggml-quants.h"
#include "ggml-common.h"
void ggml_abort(const char * file, int line, const char * fmt, ...) { abort(); }
size_t ggml_row_size(enum ggml_type t, int64_t ne) { abort(); }
size_t ggml_type_size(enum ggml_type t) { abort(); }
const char * ggml_type_name(enum ggml_type t) { return "?"; }
#define DUMP(name, blk, qk) { quantize_row_##name##_ref(x, (blk *) out, K); f = fopen(#name ".bin", "wb"); fwrite(out, sizeof(blk), K / qk, f); fclose(f); \
    dequantize_row_##name((const blk *) out, y, K); f = fopen(#name ".f32", "wb"); fwrite(y, 4, K, f); fclose(f); }
static uint64_t s = 0x243F6A8885A308D3ull;
static float next(void) { s = s * 6364136223846793005ull + 1442695040888963407ull; return (float)((int64_t)(s >> 11) - (1ll << 52)) / (float)(1ll << 52); }
int main(void) {
    enum { K = 4096 };
    static float x[K];
    for (int i = 0; i < K; i++) { float v = next() * 3.0f; if (i % 97 == 0) v *= 1000.0f; if (i % 131 == 0) v = 0.0f; if (i >= 64 && i < 96) v = 0.0f; x[i] = v; }
    FILE * f = fopen("input.f32", "wb"); fwrite(x, 4, K, f); fclose(f);
    static uint8_t out[K * 2];
    static float y[K];
    DUMP(q4_0, block_q4_0, 32) DUMP(q8_0, block_q8_0, 32) DUMP(mxfp4, block_mxfp4, 32) DUMP(nvfp4, block_nvfp4, 64)
    DUMP(q2_K, block_q2_K, 256) DUMP(q3_K, block_q3_K, 256) DUMP(q4_K, block_q4_K, 256) DUMP(q5_K, block_q5_K, 256)
    DUMP(q6_K, block_q6_K, 256) DUMP(iq4_nl, block_iq4_nl, 32)
    return 0;
}
