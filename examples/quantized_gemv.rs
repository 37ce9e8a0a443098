//! Quantize f32 weights to 4-bit codes with f16 group scales, run the GEMV of
//! `examples/gemv_a16w4.tile` (embedded in this program) on them, and print its error against an f64
//! reference of the unquantized product and its speed.
//!
//! `cargo run --release --example quantized_gemv [auto|gpu|cpu|interp]`

use half::f16;
use tilevm::{Args, DataType, DeviceChoice, Program, Rounding, Runtime, RuntimeOptions, Tensor};

const N: usize = 4096;
const K: usize = 4096;
const GROUP: usize = 128;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let device: DeviceChoice = std::env::args().nth(1).as_deref().unwrap_or("auto").parse()?;
    let runtime = Runtime::open(&RuntimeOptions { device, ..RuntimeOptions::default() })?;
    let (n, k) = if device == DeviceChoice::Interp { (256, 512) } else { (N, K) };

    // Weights and activations from a fixed pseudo-random sequence.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    };
    let weights: Vec<f32> = (0..n * k).map(|_| next() * next()).collect();
    let x: Vec<f16> = (0..k).map(|_| f16::from_f32(next())).collect();

    // Symmetric 4-bit quantization: one f16 scale per GROUP weights of a row, absmax / 7.
    let groups = k / GROUP;
    let scales: Vec<f16> = (0..n * groups)
        .map(|index| {
            let (row, group) = (index / groups, index % groups);
            let start = row * k + group * GROUP;
            let absmax = weights[start..start + GROUP].iter().fold(0.0f32, |m, w| m.max(w.abs()));
            f16::from_f32((absmax / 7.0).max(f32::MIN_POSITIVE))
        })
        .collect();
    let scaled: Vec<f32> =
        (0..n * k).map(|i| weights[i] / f32::from(scales[(i / k) * groups + (i % k) / GROUP])).collect();
    let i4: DataType = "i4".parse()?;

    let program = Program::from_files(
        "examples/gemv_a16w4.tile",
        &[("examples/gemv_a16w4.tile", include_str!("gemv_a16w4.tile"))],
    )?;
    let gemv = program.kernel("gemv").set("W", i4).set("GROUP", GROUP as u32).compile(&runtime)?;
    let w = Tensor::quantize(&runtime, &scaled, &[n, k], i4, Rounding::NearestEven)?;
    let s = Tensor::from_slice(&runtime, &scales, &[n, groups])?;
    let xt = Tensor::from_slice(&runtime, &x, &[k])?;
    let args = Args::new().tensor("x", &xt).tensor("w", &w).tensor("scale", &s).scalar("n", n as u32);
    let args = args.scalar("k", k as u32);
    let y = gemv.output("y", &args)?;
    let args = args.tensor("y", &y);

    gemv.launch(&args)?; // warm-up: first-touch costs are not kernel time
    let mut times: Vec<_> =
        (0..5).map(|_| gemv.launch(&args).map(|stats| stats.kernel_time)).collect::<Result<_, _>>()?;
    times.sort();
    let median = times[times.len() / 2];

    // Errors against f64 products: of the unquantized weights (the quantization error), and of the
    // dequantized codes (what the kernel computes, up to f32 sums and the f16 output).
    let result = y.to_vec::<f32>()?;
    let codes = w.to_vec::<i32>()?;
    let (mut worst_quantized, mut worst_exact, mut largest) = (0.0f64, 0.0f64, 0.0f64);
    for row in 0..n {
        let (mut exact, mut dequantized) = (0.0f64, 0.0f64);
        for col in 0..k {
            let xv = f64::from(f32::from(x[col]));
            exact += xv * f64::from(weights[row * k + col]);
            let scale = f64::from(f32::from(scales[row * groups + col / GROUP]));
            dequantized += xv * f64::from(codes[row * k + col]) * scale;
        }
        largest = largest.max(exact.abs());
        worst_quantized = worst_quantized.max((f64::from(result[row]) - exact).abs());
        worst_exact = worst_exact.max((f64::from(result[row]) - dequantized).abs());
    }
    let bytes = n * k / 2 + n * groups * 2 + k * 2 + n * 2;
    println!("gemv i4, n = {n}, k = {k}, group {GROUP}, on {}", runtime.name());
    println!(
        "kernel time {:.3} ms (median of 5), {:.2} GB/s of weights, scales and activations",
        median.as_secs_f64() * 1e3,
        bytes as f64 / median.as_secs_f64() / 1e9
    );
    println!("largest |y| of the f64 reference: {largest:.4}");
    println!(
        "max |error| against the unquantized f64 product: {worst_quantized:.4} ({:.2} % of the largest |y|)",
        100.0 * worst_quantized / largest
    );
    println!("max |error| against the dequantized f64 product: {worst_exact:.6}");
    if worst_exact > 1e-2 * largest || worst_quantized > 0.25 * largest {
        return Err("the GEMV's error is larger than 4-bit quantization explains".into());
    }
    Ok(())
}
