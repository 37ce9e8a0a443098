//! Unit tests of the register-layout algebra, reasoned from the rules in the layout issue.

use super::*;

fn parse(text: &str) -> RegisterLayout {
    parse_register_layout(text).unwrap_or_else(|error| panic!("{text}: {error}"))
}

fn map(layout: &RegisterLayout, thread: usize, local: usize) -> Vec<usize> {
    layout.map(thread, local).unwrap()
}

#[test]
fn local_then_spatial_and_spatial_then_local() {
    let layout = parse("local(3, 4).spatial(2, 3)");
    assert_eq!(layout.shape(), &[6, 12]);
    assert_eq!((layout.num_threads(), layout.local_size()), (6, 12));
    for (slot, column) in [0, 3, 6, 9].into_iter().enumerate() {
        assert_eq!(map(&layout, 0, slot), vec![0, column]);
    }
    let layout = parse("spatial(2, 3).local(3, 4)");
    for (slot, column) in [4, 5, 6, 7].into_iter().enumerate() {
        assert_eq!(map(&layout, 1, slot), vec![0, column]);
    }
}

#[test]
fn the_accumulator_fragment_follows_the_product_rule() {
    let layout = parse("local(2, 1).spatial(8, 4).local(1, 2)");
    for thread in 0..32 {
        for slot in 0..4 {
            assert_eq!(
                map(&layout, thread, slot),
                vec![8 * (slot / 2) + thread / 4, 2 * (thread % 4) + slot % 2]
            );
        }
    }
    assert_eq!(layout, parse("mma.m16n8k16_f16_c"));
}

#[test]
fn canonical_forms_compare_maps() {
    assert_eq!(parse("local(2).local(3)"), parse("local(6)"));
    assert_eq!(parse("spatial(2, 1).spatial(2, 4)"), parse("spatial(4, 4)"));
    assert_eq!(parse("repeat(2, 3)"), parse("local(2, 3)"));
    assert_eq!(parse("local(1, 1).spatial(4)"), parse("spatial(1, 4)"));
    assert_ne!(parse("local(2, 3)"), parse("column_local(2, 3)"));
    assert_eq!(parse("column_local(2, 3)"), parse("local(2, 3, ranks=[1, 0])"));
}

#[test]
fn column_primitives_are_column_major() {
    let layout = parse("column_spatial(2, 3)");
    let indices: Vec<Vec<usize>> = (0..6).map(|thread| map(&layout, thread, 0)).collect();
    assert_eq!(indices, vec![vec![0, 0], vec![1, 0], vec![0, 1], vec![1, 1], vec![0, 2], vec![1, 2]]);
    let layout = parse("column_local(2, 3)");
    assert_eq!(map(&layout, 0, 1), vec![1, 0]);
    let layout = parse("spatial(2, 3, 4, ranks=[1, 2, 0])");
    // Dimension 2 has rank 0 (slowest), then dimension 0, then dimension 1 (fastest).
    assert_eq!(map(&layout, 1, 0), vec![0, 1, 0]);
    assert_eq!(map(&layout, 3, 0), vec![1, 0, 0]);
    assert_eq!(map(&layout, 6, 0), vec![0, 0, 1]);
}

#[test]
fn reduce_turns_spread_threads_into_replicas() {
    let layout = parse("reduce(spatial(3, 4), dims=[0])");
    assert_eq!(layout.shape(), &[4]);
    assert_eq!(layout.num_threads(), 12);
    assert!(layout.is_replicated());
    for column in 0..4 {
        assert_eq!(layout.inverse(&[column]).unwrap(), vec![(column, 0), (4 + column, 0), (8 + column, 0)]);
    }
    let kept = parse("reduce(local(2, 3).spatial(3, 4), dims=[1], keepdims=True)");
    assert_eq!(kept.shape(), &[6, 1]);
    assert_eq!((kept.num_threads(), kept.local_size()), (12, 2));
    assert_eq!(map(&kept, 5, 1), vec![4, 0]);
    assert_eq!(parse("reduce(local(2, 3), [1], keepdims=true)"), parse("local(2, 1)"));
}

#[test]
fn replicated_and_auto_local_spatial() {
    let layout = parse("replicated(2, 2, num_workers=4)");
    assert_eq!((layout.num_threads(), layout.local_size()), (4, 4));
    assert_eq!(layout.inverse(&[1, 0]).unwrap(), vec![(0, 2), (1, 2), (2, 2), (3, 2)]);
    assert_eq!(parse("auto_local_spatial(8, [4, 8])"), parse("local(4, 1).spatial(1, 8)"));
    assert_eq!(parse("auto_local_spatial(4, [4, 6])"), parse("local(2, 3).spatial(2, 2)"));
    let small = parse("auto_local_spatial(8, [2])");
    assert_eq!((small.num_threads(), small.local_size()), (8, 1));
    assert_eq!(small.inverse(&[1]).unwrap(), vec![(1, 0), (3, 0), (5, 0), (7, 0)]);
    assert!(parse_register_layout("auto_local_spatial(3, [4])").is_err());
}

#[test]
fn auto_spatial_local_gives_each_thread_a_contiguous_block() {
    assert_eq!(parse("auto_spatial_local(8, [4, 8])"), parse("spatial(4, 2).local(1, 4)"));
    assert_eq!(parse("auto_spatial_local(4, [4, 6])"), parse("spatial(4, 1).local(1, 6)"));
    // A 128-thread GEMV tile of 8 x 512 codes: each thread a run of 32 along the row, one word of u4s
    // four times over.
    let gemv = parse("auto_spatial_local(128, [8, 512])");
    assert_eq!(gemv, parse("spatial(8, 16).local(1, 32)"));
    assert_eq!(gemv.contiguous_local_run(), 32);
    let small = parse("auto_spatial_local(8, [2])");
    assert_eq!((small.num_threads(), small.local_size()), (8, 1));
    assert!(parse_register_layout("auto_spatial_local(3, [4])").is_err());
}

#[test]
fn concat_puts_indices_side_by_side() {
    let layout = parse("concat(spatial(2), local(3))");
    assert_eq!(layout.shape(), &[2, 3]);
    assert_eq!((layout.num_threads(), layout.local_size()), (2, 3));
    assert_eq!(map(&layout, 1, 2), vec![1, 2]);
    let layout = parse("concat(local(2), spatial(3))");
    assert_eq!(map(&layout, 2, 1), vec![1, 2]);
}

#[test]
fn permute_squeeze_unsqueeze() {
    let layout = parse("permute(local(2, 3).spatial(1, 4), [1, 0])");
    assert_eq!(layout.shape(), &[12, 2]);
    assert_eq!(map(&layout, 1, 1), vec![5, 0]);
    assert_eq!(map(&layout, 3, 3), vec![3, 1]);
    assert_eq!(parse("squeeze(local(1, 4), [0])"), parse("local(4)"));
    assert_eq!(parse("unsqueeze(local(4), dims=[1])").shape(), &[4, 1]);
    assert!(parse_register_layout("squeeze(local(2, 4), [0])").is_err());
    assert!(parse_register_layout("permute(local(2, 4), [0, 0])").is_err());
}

#[test]
fn reshape_keeps_flat_offsets() {
    let layout = parse("local(2, 3).spatial(1, 4)");
    let reshaped = layout.reshape(&[2, 3, 4]).unwrap();
    assert_eq!(reshaped, parse("local(2, 3, 1).spatial(1, 1, 4)"));
    let flat = layout.reshape(&[24]).unwrap();
    for thread in 0..4 {
        for slot in 0..6 {
            let index = map(&layout, thread, slot);
            assert_eq!(map(&flat, thread, slot), vec![index[0] * 12 + index[1]]);
        }
    }
    // Modes of different dimensions merge when they are neighbours in a list.
    assert_eq!(parse("spatial(2, 3)").reshape(&[3, 2]).unwrap(), parse("spatial(3, 2)"));
    // A thread digit that would straddle two dimensions cannot be expressed.
    assert!(parse("local(2).spatial(3)").reshape(&[3, 2]).is_err());
    assert!(layout.reshape(&[5, 5]).is_err());
}

#[test]
fn division_undoes_products_and_refuses_the_rest() {
    let layout = parse("local(2, 1).spatial(8, 4).local(1, 2)");
    assert_eq!(
        parse("local(2, 1).spatial(8, 4).local(1, 2) / local(1, 2)"),
        parse("local(2, 1).spatial(8, 4)")
    );
    assert_eq!(layout.divide(&parse("spatial(8, 4).local(1, 2)")).unwrap(), parse("local(2, 1)"));
    assert!(layout.divide(&parse("local(2, 1)")).is_err());
    assert!(layout.divide(&parse("local(1, 4)")).is_err());
    // A merged mode is split again: local(8) = local(2) * local(4).
    assert_eq!(parse("local(8) / local(4)"), parse("local(2)"));
    assert_eq!(parse("spatial(4, 6) / spatial(3)"), parse("spatial(4, 2)"));
    let error = parse_register_layout("spatial(4) / local(2)").unwrap_err();
    assert!(error.to_string().contains("cannot divide"), "{error}");
}

#[test]
fn contiguous_local_runs() {
    assert_eq!(parse("local(2, 1).spatial(8, 4).local(1, 2)").contiguous_local_run(), 2);
    assert_eq!(parse("spatial(2, 3).local(3, 4)").contiguous_local_run(), 4);
    assert_eq!(parse("local(3, 4).spatial(2, 3)").contiguous_local_run(), 1);
    assert_eq!(parse("spatial(4).local(6)").contiguous_local_run(), 6);
    assert_eq!(parse("local(2, 8)").contiguous_local_run(), 8);
    assert_eq!(parse("column_local(2, 8)").contiguous_local_run(), 1);
    assert_eq!(parse("mma.m16n8k32_i8_a").contiguous_local_run(), 4);
    assert_eq!(parse("local()").contiguous_local_run(), 1);
}

#[test]
fn the_general_form_and_its_checks() {
    let layout = register_layout(&[4, 8], &[2, 2, 8], &[0, 2], &[1]).unwrap();
    assert_eq!(
        layout,
        parse("register_layout(shape=[4, 8], mode_shape=[2, 2, 8], spatial_modes=[0, 2], local_modes=[1])")
    );
    assert_eq!(map(&layout, 9, 1), vec![3, 1]);
    assert!(register_layout(&[4], &[3], &[0], &[]).is_err());
    assert!(register_layout(&[4], &[4], &[0], &[0]).is_err());
    assert!(register_layout(&[4], &[4], &[], &[]).is_err());
    assert!(register_layout(&[4], &[4], &[1], &[]).is_err());
    assert!(register_layout(&[0], &[], &[], &[]).is_err());
    let replicas = register_layout(&[2], &[2], &[-2, 0, -3], &[]).unwrap();
    assert_eq!(replicas.num_threads(), 12);
    assert_eq!(replicas.inverse(&[1]).unwrap().len(), 6);
}

#[test]
fn out_of_range_queries_are_errors() {
    let layout = parse("spatial(2).local(2)");
    assert!(layout.map(2, 0).is_err());
    assert!(layout.map(0, 2).is_err());
    assert!(layout.inverse(&[4]).is_err());
    assert!(layout.inverse(&[0, 0]).is_err());
}

#[test]
fn display_prints_products_where_they_exist() {
    for text in [
        "local(3, 4).spatial(2, 3)",
        "spatial(2, 3).local(3, 4)",
        "local(2, 1).spatial(8, 4).local(1, 2)",
        "local(6)",
        "spatial(4, 4)",
        "local()",
        "column_spatial(2, 3)",
        "column_local(4, 1, 2)",
    ] {
        assert_eq!(parse(text).to_string(), text);
    }
    assert_eq!(parse("permute(spatial(2, 3), [1, 0])").to_string(), "column_spatial(3, 2)");
    let reduced = parse("reduce(spatial(3, 4), dims=[0])");
    assert!(reduced.to_string().starts_with("register_layout("), "{reduced}");
    assert_eq!(parse(&reduced.to_string()), reduced);
}

#[test]
fn huge_sizes_are_errors_or_fast() {
    assert!(parse_register_layout("register_layout(shape=[2], mode_shape=[2], spatial_modes=[-4294967295, -4294967295], local_modes=[0])").is_err());
    assert_eq!(parse("local(1073741824)").contiguous_local_run(), 1 << 30);
    assert_eq!(parse("local(4, 1000003).spatial(1, 2)").contiguous_local_run(), 1);
    assert_eq!(swizzle_offset(5, 70, 70, 70), 5);
}
