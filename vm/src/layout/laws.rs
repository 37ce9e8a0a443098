//! Property tests of the layout algebra's laws on small random layouts.

use proptest::prelude::*;

use super::*;

/// A random valid mode form: per dimension 0..=2 modes of size 2..=4, modes shuffled into the spatial and
/// local lists, and up to one replica entry.
fn layouts() -> impl Strategy<Value = RegisterLayout> {
    (
        prop::collection::vec(prop::collection::vec(2usize..=4, 0..=2), 1..=3),
        any::<u64>(),
        0usize..=8,
        prop::option::weighted(0.25, (2isize..=3, 0usize..=4)),
    )
        .prop_map(|(groups, seed, split, replica)| {
            let shape: Vec<usize> = groups.iter().map(|group| group.iter().product()).collect();
            let mode_shape: Vec<usize> = groups.concat();
            let mut order: Vec<usize> = (0..mode_shape.len()).collect();
            let mut state = seed;
            for position in (1..order.len()).rev() {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                order.swap(position, (state >> 33) as usize % (position + 1));
            }
            let split = split.min(order.len());
            let mut spatial_modes: Vec<isize> = order[..split].iter().map(|&mode| mode as isize).collect();
            if let Some((count, position)) = replica {
                spatial_modes.insert(position.min(spatial_modes.len()), -count);
            }
            let local_modes = order[split..].to_vec();
            RegisterLayout::new(shape, mode_shape, spatial_modes, local_modes)
                .expect("generated forms are valid")
        })
}

/// Whether slots `k·run .. k·run + run` of every thread hold consecutive elements of the last dimension.
fn has_run(layout: &RegisterLayout, run: usize) -> bool {
    let rank = layout.shape().len();
    if !layout.local_size().is_multiple_of(run) || !layout.shape()[rank - 1].is_multiple_of(run) {
        return false;
    }
    (0..layout.num_threads()).all(|thread| {
        (0..layout.local_size()).step_by(run).all(|first| {
            let start = layout.map(thread, first).unwrap();
            start[rank - 1].is_multiple_of(run)
                && (1..run).all(|offset| {
                    let mut expected = start.clone();
                    expected[rank - 1] += offset;
                    layout.map(thread, first + offset).unwrap() == expected
                })
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn product_is_associative(a in layouts(), b in layouts(), c in layouts()) {
        let left = a.product(&b).unwrap().product(&c).unwrap();
        let right = a.product(&b.product(&c).unwrap()).unwrap();
        prop_assert_eq!(left, right);
    }

    #[test]
    fn product_follows_the_map_rule(a in layouts(), b in layouts()) {
        let product = a.product(&b).unwrap();
        let rank = product.shape().len();
        let a = a.unsqueeze_leading(rank).unwrap();
        let b = b.unsqueeze_leading(rank).unwrap();
        prop_assert_eq!(product.num_threads(), a.num_threads() * b.num_threads());
        prop_assert_eq!(product.local_size(), a.local_size() * b.local_size());
        for dim in 0..rank {
            prop_assert_eq!(product.shape()[dim], a.shape()[dim] * b.shape()[dim]);
        }
        for thread in 0..product.num_threads() {
            for slot in 0..product.local_size() {
                let outer = a.map(thread / b.num_threads(), slot / b.local_size()).unwrap();
                let inner = b.map(thread % b.num_threads(), slot % b.local_size()).unwrap();
                let expected: Vec<usize> =
                    (0..rank).map(|dim| outer[dim] * b.shape()[dim] + inner[dim]).collect();
                prop_assert_eq!(product.map(thread, slot).unwrap(), expected);
            }
        }
    }

    #[test]
    fn division_undoes_product(a in layouts(), b in layouts()) {
        let product = a.product(&b).unwrap();
        let quotient = product.divide(&b).unwrap();
        // The quotient is a up to leading size-1 dimensions that b's rank added.
        let rank = product.shape().len();
        prop_assert_eq!(quotient, a.unsqueeze_leading(rank).unwrap());
    }

    #[test]
    fn inverse_finds_every_holder(a in layouts()) {
        for thread in 0..a.num_threads() {
            for slot in 0..a.local_size() {
                let index = a.map(thread, slot).unwrap();
                let holders = a.inverse(&index).unwrap();
                prop_assert!(holders.contains(&(thread, slot)));
                for &(other_thread, other_slot) in &holders {
                    prop_assert_eq!(a.map(other_thread, other_slot).unwrap(), index.clone());
                }
            }
        }
    }

    #[test]
    fn layouts_cover_the_tile_and_non_replicated_ones_are_bijections(a in layouts()) {
        let mut seen = std::collections::HashMap::new();
        for thread in 0..a.num_threads() {
            for slot in 0..a.local_size() {
                *seen.entry(a.map(thread, slot).unwrap()).or_insert(0usize) += 1;
            }
        }
        prop_assert_eq!(seen.len(), a.size());
        let replicas = a.num_threads() * a.local_size() / a.size();
        prop_assert!(seen.values().all(|&count| count == replicas));
        prop_assert_eq!(replicas == 1, !a.is_replicated());
    }

    #[test]
    fn text_round_trips(a in layouts()) {
        let text = a.to_string();
        prop_assert_eq!(parse_register_layout(&text).unwrap(), a);
    }

    #[test]
    fn products_print_and_parse_back(a in layouts(), b in layouts()) {
        let product = a.product(&b).unwrap();
        let text = format!("({a}) * ({b})");
        prop_assert_eq!(parse_register_layout(&text).unwrap(), product);
    }

    #[test]
    fn equal_maps_give_equal_values(a in layouts()) {
        // A round trip through the flat shape refines and re-merges the modes.
        let flat = a.reshape(&[a.size()]).unwrap();
        prop_assert_eq!(flat.reshape(a.shape()).unwrap(), a.clone());
        // Splitting every mode (and replica entry) of even size into 2 and the rest keeps the map, so the
        // canonical form must come back.
        let mut first_piece = Vec::new();
        let mut mode_shape = Vec::new();
        for &size in a.mode_shape() {
            first_piece.push(mode_shape.len());
            if size % 2 == 0 && size > 2 { mode_shape.extend([size / 2, 2]) } else { mode_shape.push(size) }
        }
        let pieces = |mode: usize| first_piece[mode]..first_piece[mode] + if a.mode_shape()[mode] % 2 == 0 && a.mode_shape()[mode] > 2 { 2 } else { 1 };
        let mut spatial_modes = Vec::new();
        for &entry in a.spatial_modes() {
            match usize::try_from(entry) {
                Ok(mode) => spatial_modes.extend(pieces(mode).map(|piece| piece as isize)),
                Err(_) if entry % 2 == 0 && entry < -2 => spatial_modes.extend([entry / 2, -2]),
                Err(_) => spatial_modes.push(entry),
            }
        }
        let local_modes: Vec<usize> = a.local_modes().iter().flat_map(|&mode| pieces(mode)).collect();
        let refined = RegisterLayout::new(a.shape().to_vec(), mode_shape, spatial_modes, local_modes).unwrap();
        prop_assert_eq!(refined.mapping(), a.mapping());
        prop_assert_eq!(refined, a);
    }

    #[test]
    fn contiguous_local_run_is_the_largest_run(a in layouts()) {
        let run = a.contiguous_local_run();
        prop_assert!(has_run(&a, run));
        let last = a.shape()[a.shape().len() - 1];
        for larger in (run + 1..=last).filter(|larger| last % larger == 0) {
            prop_assert!(!has_run(&a, larger), "run {} also works for {}", larger, a);
        }
    }
}
