//! `tilevm layout` end to end: JSON maps checked against the layout rules, text grids, SVG, and errors.

// Indexing the map by thread and slot mirrors the formulas being checked.
#![allow(clippy::needless_range_loop)]

use std::process::{Command, Output};

fn tilevm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tilevm")).args(args).output().expect("the tilevm binary runs")
}

/// Runs `tilevm layout --json EXPR` and returns (shape, threads, local, map).
fn json(expr: &str) -> (Vec<usize>, usize, usize, Vec<Vec<Vec<usize>>>) {
    let output = tilevm(&["layout", "--json", expr]);
    assert!(output.status.success(), "{expr}: {}", String::from_utf8_lossy(&output.stderr));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("valid JSON");
    let object = value.as_object().expect("an object");
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 4, "{keys:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.starts_with("{\"shape\": "), "{text}");
    let shape = serde_json::from_value(value["shape"].clone()).expect("shape");
    let threads = value["threads"].as_u64().expect("threads") as usize;
    let local = value["local"].as_u64().expect("local") as usize;
    let map = serde_json::from_value(value["map"].clone()).expect("map");
    (shape, threads, local, map)
}

#[test]
fn local_then_spatial() {
    let (shape, threads, local, map) = json("local(3, 4).spatial(2, 3)");
    assert_eq!((shape, threads, local), (vec![6, 12], 6, 12));
    assert_eq!(map[0][..4], [vec![0, 0], vec![0, 3], vec![0, 6], vec![0, 9]]);
    // Thread t = 3·i + j of spatial(2, 3) sits at (i, j) inside each 2 x 3 tile of local(3, 4).
    for thread in 0..6 {
        for slot in 0..12 {
            assert_eq!(map[thread][slot], vec![2 * (slot / 4) + thread / 3, 3 * (slot % 4) + thread % 3]);
        }
    }
}

#[test]
fn spatial_then_local() {
    let (shape, threads, local, map) = json("spatial(2, 3).local(3, 4)");
    assert_eq!((shape, threads, local), (vec![6, 12], 6, 12));
    assert_eq!(map[1][..4], [vec![0, 4], vec![0, 5], vec![0, 6], vec![0, 7]]);
    for thread in 0..6 {
        for slot in 0..12 {
            assert_eq!(map[thread][slot], vec![3 * (thread / 3) + slot / 4, 4 * (thread % 3) + slot % 4]);
        }
    }
}

#[test]
fn mma_accumulator_and_column_spatial() {
    let (shape, threads, local, map) = json("local(2, 1).spatial(8, 4).local(1, 2)");
    assert_eq!((shape, threads, local), (vec![16, 8], 32, 4));
    for thread in 0..32 {
        for slot in 0..4 {
            assert_eq!(map[thread][slot], vec![8 * (slot / 2) + thread / 4, 2 * (thread % 4) + slot % 2]);
        }
    }
    assert_eq!(json("mma.m16n8k16_f16_c").3, map);
    let (_, _, _, map) = json("column_spatial(2, 3)");
    let firsts: Vec<Vec<usize>> = map.iter().map(|slots| slots[0].clone()).collect();
    assert_eq!(firsts, vec![vec![0, 0], vec![1, 0], vec![0, 1], vec![1, 1], vec![0, 2], vec![1, 2]]);
}

#[test]
fn reduce_with_replicas() {
    let (shape, threads, local, map) = json("reduce(spatial(3, 4), dims=[0])");
    assert_eq!((shape, threads, local), (vec![4], 12, 1));
    for thread in 0..12 {
        assert_eq!(map[thread][0], vec![thread % 4]);
    }
    let output = tilevm(&["layout", "reduce(spatial(3, 4), dims=[0])"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains(" 0,4,8:0  1,5,9:0 2,6,10:0 3,7,11:0"), "{text}");
    assert!(text.ends_with("shape=[4] threads=12 local=1\n"), "{text}");
}

#[test]
fn text_grid_of_a_rank_2_layout() {
    let output = tilevm(&["layout", "spatial(2, 2).local(1, 2)"]);
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "spatial(2, 2).local(1, 2)\n0:0 0:1 1:0 1:1\n2:0 2:1 3:0 3:1\nshape=[2, 4] threads=4 local=2\n"
    );
}

#[test]
fn svg_output_colours_cells() {
    let directory = std::env::temp_dir().join(format!("tilevm-layout-svg-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("temp dir");
    let path = directory.join("layout.svg");
    let output = tilevm(&["layout", "spatial(2, 2)", "--svg", path.to_str().expect("utf-8 path")]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let svg = std::fs::read_to_string(&path).expect("the SVG was written");
    assert!(svg.starts_with("<svg"));
    assert_eq!(svg.matches("<rect").count(), 4);
    assert!(svg.contains(">3:0</text>"));
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn bad_expressions_exit_2_with_the_column() {
    for (expr, column) in [("local(2, 3) $", 13), ("spatial(2, 3).lcal(3)", 15), ("local(2", 8), ("", 1)] {
        let output = tilevm(&["layout", expr]);
        assert_eq!(output.status.code(), Some(2), "{expr}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.starts_with(&format!("error: at column {column}: ")), "{expr}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let output = tilevm(&["layout", "local(100000, 100000)"]);
    assert_eq!(output.status.code(), Some(2));
}
