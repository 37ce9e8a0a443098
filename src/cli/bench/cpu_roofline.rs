//! The CPU's roofline: the best multi-threaded read of a buffer far larger than the last-level cache,
//! each thread summing its share with unrolled wide loads into eight independent vector accumulators.

use std::time::Instant;

/// Best-of-seven multi-threaded read bandwidth (one thread per worker of the device), in bytes per second,
/// over a 1 GiB buffer (far larger than any last-level cache).
pub(super) fn read_bandwidth(threads: usize) -> f64 {
    let words = (1usize << 30) / 8;
    let buffer: Vec<u64> = (0..words as u64).collect();
    let chunk = words.div_ceil(threads.max(1));
    let mut best = 0.0f64;
    for _ in 0..7 {
        let start = Instant::now();
        let total: u64 = std::thread::scope(|scope| {
            let handles: Vec<_> =
                buffer.chunks(chunk).map(|part| scope.spawn(move || sum_words(part))).collect();
            handles.into_iter().map(|handle| handle.join().unwrap_or(0)).fold(0u64, u64::wrapping_add)
        });
        let seconds = start.elapsed().as_secs_f64();
        std::hint::black_box(total);
        best = best.max((words * 8) as f64 / seconds);
    }
    best
}

/// Sums the words with the widest loads the host has (AVX2 when present, else SSE2), each into eight
/// independent vector accumulators, so the loop is bound by memory, not by one chain of additions.
/// Measured here: the SSE2 loop reads ~22 GB/s where AVX2 reads ~26–28 GB/s, so taking the SSE2 figure as
/// the roofline would flatter every kernel.
#[cfg(target_arch = "x86_64")]
pub(super) fn sum_words(words: &[u64]) -> u64 {
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the host has AVX2, checked just above.
        return unsafe { sum_words_avx2(words) };
    }
    sum_words_sse2(words)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn sum_words_avx2(words: &[u64]) -> u64 {
    use std::arch::x86_64::{
        __m256i, _mm256_add_epi64, _mm256_loadu_si256, _mm256_setzero_si256, _mm256_storeu_si256,
    };
    let mut chunks = words.chunks_exact(32);
    let mut lanes = [0u64; 32];
    let mut accumulators = [_mm256_setzero_si256(); 8];
    for chunk in &mut chunks {
        let pointer = chunk.as_ptr().cast::<__m256i>();
        for (i, accumulator) in accumulators.iter_mut().enumerate() {
            // SAFETY: each load reads 32 bytes inside `chunk`, whose 32 words are 256 bytes.
            *accumulator = _mm256_add_epi64(*accumulator, unsafe { _mm256_loadu_si256(pointer.add(i)) });
        }
    }
    for (i, accumulator) in accumulators.iter().enumerate() {
        // SAFETY: the stores write inside `lanes` (32 words, eight 32-byte vectors).
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast::<__m256i>().add(i), *accumulator) };
    }
    let tail: u64 = chunks.remainder().iter().fold(0, |sum, &word| sum.wrapping_add(word));
    lanes.iter().fold(tail, |sum, &value| sum.wrapping_add(value))
}

#[cfg(target_arch = "x86_64")]
fn sum_words_sse2(words: &[u64]) -> u64 {
    use std::arch::x86_64::{__m128i, _mm_add_epi64, _mm_loadu_si128, _mm_setzero_si128, _mm_storeu_si128};
    let mut chunks = words.chunks_exact(16);
    let mut lanes = [0u64; 16];
    // SAFETY: SSE2 is part of the x86-64 baseline, and each load reads 16 bytes inside `chunk`, whose 16
    // words are 128 bytes; the stores write inside `lanes`.
    unsafe {
        let mut accumulators = [_mm_setzero_si128(); 8];
        for chunk in &mut chunks {
            let pointer = chunk.as_ptr().cast::<__m128i>();
            for (i, accumulator) in accumulators.iter_mut().enumerate() {
                *accumulator = _mm_add_epi64(*accumulator, _mm_loadu_si128(pointer.add(i)));
            }
        }
        for (i, accumulator) in accumulators.iter().enumerate() {
            _mm_storeu_si128(lanes.as_mut_ptr().cast::<__m128i>().add(i), *accumulator);
        }
    }
    let tail: u64 = chunks.remainder().iter().fold(0, |sum, &word| sum.wrapping_add(word));
    lanes.iter().fold(tail, |sum, &value| sum.wrapping_add(value))
}

/// Sums with sixteen independent accumulators (which the compiler vectorises).
#[cfg(not(target_arch = "x86_64"))]
pub(super) fn sum_words(words: &[u64]) -> u64 {
    let mut accumulators = [0u64; 16];
    let mut chunks = words.chunks_exact(16);
    for chunk in &mut chunks {
        for (accumulator, &word) in accumulators.iter_mut().zip(chunk) {
            *accumulator = accumulator.wrapping_add(word);
        }
    }
    let tail: u64 = chunks.remainder().iter().fold(0, |sum, &word| sum.wrapping_add(word));
    accumulators.iter().fold(tail, |sum, &value| sum.wrapping_add(value))
}
