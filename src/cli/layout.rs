//! `tilevm layout EXPR [--svg FILE] [--json]`: shows which thread holds which element of a register layout.
//!
//! The text output is a grid per 2-D slice in which each cell shows `thread:slot` (replicas list every
//! thread, `0,4,8:0`), followed by `shape=[..] threads=T local=L`. `--json` prints the whole map instead,
//! and `--svg FILE` also draws the grid coloured by thread.

use std::fmt::Write as _;
use std::path::PathBuf;

use tilevm_vm::layout::{RegisterLayout, parse_register_layout};

use super::{CliError, CliResult};

/// The largest map (threads × slots) that `--json` prints and the largest tile the grid draws.
const MAX_CELLS: usize = 1 << 16;

/// Arguments of `tilevm layout`.
#[derive(clap::Args)]
pub struct LayoutArgs {
    /// A register layout expression, e.g. `local(2, 1).spatial(8, 4).local(1, 2)`.
    expr: String,
    /// Also draw the grid, coloured by thread, into this SVG file.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Print `{"shape": [..], "threads": T, "local": L, "map": M}` with `M[t][l]` the logical index.
    #[arg(long)]
    json: bool,
}

/// Runs `tilevm layout`.
pub fn run(args: &LayoutArgs) -> CliResult {
    let layout = parse_register_layout(&args.expr).map_err(|error| {
        let column = error.span().map_or(1, |span| span.column(&args.expr));
        CliError::Input(format!("at column {column}: {error}"))
    })?;
    let cells = layout.num_threads().saturating_mul(layout.local_size()).max(layout.size());
    if cells > MAX_CELLS {
        return Err(CliError::Input(format!(
            "the layout has {cells} cells, more than the {MAX_CELLS} that `tilevm layout` shows"
        )));
    }
    if args.json {
        println!("{}", render_json(&layout));
    } else {
        print!("{}", render_text(&layout));
    }
    if let Some(path) = &args.svg {
        std::fs::write(path, render_svg(&layout))
            .map_err(|error| CliError::Input(format!("cannot write {}: {error}", path.display())))?;
    }
    Ok(())
}

/// The JSON form: shape, threads, local size and `map[t][l]`.
pub fn render_json(layout: &RegisterLayout) -> String {
    let list = |items: &[usize]| format!("[{}]", join(items));
    let threads: Vec<String> = layout
        .mapping()
        .iter()
        .map(|slots| format!("[{}]", slots.iter().map(|index| list(index)).collect::<Vec<_>>().join(", ")))
        .collect();
    format!(
        "{{\"shape\": {}, \"threads\": {}, \"local\": {}, \"map\": [{}]}}",
        list(layout.shape()),
        layout.num_threads(),
        layout.local_size(),
        threads.join(", ")
    )
}

/// The text form: the canonical expression, the grids, and the summary line.
pub fn render_text(layout: &RegisterLayout) -> String {
    let mut out = format!("{layout}\n");
    let slices = slices(layout);
    let width =
        slices.iter().flat_map(|slice| slice.rows.iter().flatten()).map(String::len).max().unwrap_or(1);
    for (number, slice) in slices.iter().enumerate() {
        if number > 0 {
            out.push('\n');
        }
        if let Some(label) = &slice.label {
            let _ = writeln!(out, "{label}");
        }
        for row in &slice.rows {
            let cells: Vec<String> = row.iter().map(|cell| format!("{cell:>width$}")).collect();
            let _ = writeln!(out, "{}", cells.join(" "));
        }
    }
    let _ = writeln!(
        out,
        "shape=[{}] threads={} local={}",
        join(layout.shape()),
        layout.num_threads(),
        layout.local_size()
    );
    out
}

/// One 2-D slice of the tile, with its cells as text and the first holder of each cell.
struct Slice {
    /// `[i, j, :, :]` for rank > 2.
    label: Option<String>,
    /// `thread:slot` per cell.
    rows: Vec<Vec<String>>,
    /// The lowest thread holding each cell, for colouring.
    first_threads: Vec<Vec<usize>>,
}

fn slices(layout: &RegisterLayout) -> Vec<Slice> {
    let shape = layout.shape();
    let rank = shape.len();
    let (rows, columns) = match rank {
        0 => (1, 1),
        1 => (1, shape[0]),
        _ => (shape[rank - 2], shape[rank - 1]),
    };
    let leading: Vec<usize> = if rank > 2 { shape[..rank - 2].to_vec() } else { Vec::new() };
    let count: usize = leading.iter().product();
    (0..count)
        .map(|number| {
            let mut prefix = vec![0; leading.len()];
            let mut rest = number;
            for (digit, &size) in prefix.iter_mut().zip(&leading).rev() {
                *digit = rest % size;
                rest /= size;
            }
            let label = (rank > 2).then(|| format!("[{}, :, :]", join(&prefix)));
            let mut slice = Slice { label, rows: Vec::new(), first_threads: Vec::new() };
            for row in 0..rows {
                let mut texts = Vec::new();
                let mut firsts = Vec::new();
                for column in 0..columns {
                    let mut index = prefix.clone();
                    match rank {
                        0 => {}
                        1 => index.push(column),
                        _ => index.extend([row, column]),
                    }
                    let holders = layout.inverse(&index).unwrap_or_default();
                    let threads: Vec<usize> = holders.iter().map(|&(thread, _)| thread).collect();
                    let slot = holders.first().map_or(0, |&(_, slot)| slot);
                    texts.push(format!("{}:{slot}", join(&threads).replace(' ', "")));
                    firsts.push(threads.first().copied().unwrap_or(0));
                }
                slice.rows.push(texts);
                slice.first_threads.push(firsts);
            }
            slice
        })
        .collect()
}

/// An SVG drawing of the grids, each cell filled with its (first) thread's colour.
pub fn render_svg(layout: &RegisterLayout) -> String {
    const CELL_HEIGHT: usize = 24;
    const GAP: usize = 16;
    let slices = slices(layout);
    let longest =
        slices.iter().flat_map(|slice| slice.rows.iter().flatten()).map(String::len).max().unwrap_or(3);
    let cell_width = 12 + 8 * longest;
    let columns = slices.first().and_then(|slice| slice.rows.first()).map_or(1, Vec::len);
    let rows_per_slice = slices.first().map_or(1, |slice| slice.rows.len());
    let slice_height = rows_per_slice * CELL_HEIGHT + GAP;
    let width = columns * cell_width + 2;
    let height = slices.len() * slice_height + 2;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         font-family=\"monospace\" font-size=\"12\">\n"
    );
    for (number, slice) in slices.iter().enumerate() {
        let top = number * slice_height + 1;
        for (row, (texts, firsts)) in slice.rows.iter().zip(&slice.first_threads).enumerate() {
            for (column, (text, &thread)) in texts.iter().zip(firsts).enumerate() {
                let x = column * cell_width + 1;
                let y = top + row * CELL_HEIGHT;
                let hue = (thread * 137) % 360;
                let _ = writeln!(
                    svg,
                    "  <rect x=\"{x}\" y=\"{y}\" width=\"{cell_width}\" height=\"{CELL_HEIGHT}\" \
                     fill=\"hsl({hue}, 70%, 80%)\" stroke=\"black\"/>\n  \
                     <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{text}</text>",
                    x + cell_width / 2,
                    y + CELL_HEIGHT / 2 + 4
                );
            }
        }
    }
    svg.push_str("</svg>\n");
    svg
}

fn join<T: ToString>(items: &[T]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}
