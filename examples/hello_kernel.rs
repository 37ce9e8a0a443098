//! A kernel compiled from a string and launched on the best device here.
//!
//! `cargo run --release --example hello_kernel [auto|gpu|cpu|interp]`
//!
//! It computes `y = relu(x) * scale` over a million f32 values, checks every element against plain
//! Rust, and prints the device and the kernel time.

use tilevm::{Args, DeviceChoice, Program, Runtime, RuntimeOptions, Tensor};

const SOURCE: &str = r#"
// y = max(x, 0) * scale, BLOCK elements per block.
kernel scaled_relu<BLOCK: u32 = 1024>(x: global f32[n], y: global mut f32[n], scale: f32, n: u32)
    grid(cdiv(n, BLOCK)) threads(128)
{
    let start = block_index(0) * BLOCK;
    let t = load(x, [start], [BLOCK]);
    store(y, where(t > 0.0, t, 0.0) * scale, [start]);
}
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The first argument names the device: auto (the default), gpu, cpu or interp.
    let device: DeviceChoice = std::env::args().nth(1).as_deref().unwrap_or("auto").parse()?;
    let runtime = Runtime::open(&RuntimeOptions { device, ..RuntimeOptions::default() })?;
    let program = Program::from_source("scaled_relu.tile", SOURCE)?;
    let kernel = program.kernel("scaled_relu").compile(&runtime)?;

    let n = 1 << 20;
    let data: Vec<f32> = (0..n).map(|i| ((i * 37 % 1001) as f32 - 500.0) / 8.0).collect();
    let x = Tensor::from_slice(&runtime, &data, &[n])?;
    let args = Args::new().tensor("x", &x).scalar("scale", 0.5f32).scalar("n", n as u32);
    let y = kernel.output("y", &args)?;
    let stats = kernel.launch(&args.tensor("y", &y))?;

    let result = y.to_vec::<f32>()?;
    let wrong = data.iter().zip(&result).filter(|(x, y)| x.max(0.0) * 0.5 != **y).count();
    println!("{} on {}: {} elements in {:?}", kernel.name(), runtime.name(), n, stats.kernel_time);
    if wrong > 0 {
        return Err(format!("{wrong} of {n} elements differ from plain Rust").into());
    }
    println!("every element matches plain Rust");
    Ok(())
}
