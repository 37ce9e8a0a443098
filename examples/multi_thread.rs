//! Eight threads launching one kernel on one shared runtime, each on its own tensors and all reading
//! one shared weight tensor, every result checked.
//!
//! `cargo run --release --example multi_thread [auto|gpu|cpu|interp]`

use std::sync::Arc;

use tilevm::{Args, DeviceChoice, Program, Runtime, RuntimeOptions, Tensor};

const SOURCE: &str = r#"
// y = x * w + bias, elementwise over n values.
kernel scale_shift<BLOCK: u32 = 512>(
    x: global f32[n], w: global f32[n], y: global mut f32[n], bias: f32, n: u32,
)
    grid(cdiv(n, BLOCK)) threads(64)
{
    let start = block_index(0) * BLOCK;
    store(y, load(x, [start], [BLOCK]) * load(w, [start], [BLOCK]) + bias, [start]);
}
"#;

const THREADS: usize = 8;
const LAUNCHES: usize = 20;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let device: DeviceChoice = std::env::args().nth(1).as_deref().unwrap_or("auto").parse()?;
    let runtime = Runtime::open(&RuntimeOptions { device, ..RuntimeOptions::default() })?;
    let kernel = Program::from_source("scale_shift.tile", SOURCE)?.kernel("scale_shift").compile(&runtime)?;
    let n = 10_000;
    let weights: Vec<f32> = (0..n).map(|i| (i % 13) as f32 - 6.0).collect();
    let shared = Arc::new(Tensor::from_slice(&runtime, &weights, &[n])?);

    let handles: Vec<_> = (0..THREADS)
        .map(|thread| {
            let (runtime, kernel, shared, weights) =
                (runtime.clone(), kernel.clone(), Arc::clone(&shared), weights.clone());
            std::thread::spawn(move || -> Result<(), String> {
                let x: Vec<f32> = (0..n).map(|i| ((i + thread) % 7) as f32).collect();
                let xt = Tensor::from_slice(&runtime, &x, &[n]).map_err(|e| e.to_string())?;
                let y = Tensor::zeros(&runtime, tilevm::DataType::F32, &[n]).map_err(|e| e.to_string())?;
                let bias = thread as f32;
                for _ in 0..LAUNCHES {
                    let args = Args::new()
                        .tensor("x", &xt)
                        .tensor("w", &shared)
                        .tensor("y", &y)
                        .scalar("bias", bias)
                        .scalar("n", n as u32);
                    kernel.launch(&args).map_err(|e| e.to_string())?;
                }
                let got = y.to_vec::<f32>().map_err(|e| e.to_string())?;
                let wrong = (0..n).filter(|&i| got[i] != x[i] * weights[i] + bias).count();
                if wrong > 0 {
                    return Err(format!("thread {thread}: {wrong} of {n} elements are wrong"));
                }
                Ok(())
            })
        })
        .collect();
    for handle in handles {
        handle.join().map_err(|_| "a launching thread panicked")??;
    }
    println!(
        "{THREADS} threads x {LAUNCHES} launches of {} on {}: every result matches plain Rust ({} kernel compiled)",
        kernel.name(),
        runtime.name(),
        runtime.compiled_kernels()
    );
    Ok(())
}
