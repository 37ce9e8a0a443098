//! Instructions that move data between global memory, shared memory and register tiles.

use super::{Fault, Machine};
use crate::interp::KernelArg;
use crate::interp::eval::{eval_int, eval_ints};
use crate::interp::memory::{GlobalView, read_bits, write_bits};
use crate::interp::races::Threads;
use crate::interp::tiles::{element_count, unravel};
use crate::ir::{Expr, GlobalId, ParamKind, SharedId, Stmt, TileId};

impl<'k> Machine<'k, '_> {
    pub(super) fn view_global(
        &mut self,
        dst: GlobalId,
        shape: &[Expr],
        strides: &[Expr],
        offset: &Expr,
    ) -> Result<(), Fault<'k>> {
        let decl = self.kernel.globals.get(dst.index()).ok_or_else(|| format!("no global view {dst}"))?;
        let param = decl.param.index();
        if !matches!(self.kernel.params.get(param).map(|param| &param.kind), Some(ParamKind::Global { .. })) {
            return Err(Fault::Invalid(format!(
                "view {dst} is over {}, which is not a pointer parameter",
                decl.param
            )));
        }
        let scope = self.scope();
        let (shape, strides, offset) =
            (eval_ints(shape, &scope)?, eval_ints(strides, &scope)?, eval_int(offset, &scope)?);
        if shape.is_empty() || shape.len() != strides.len() {
            return Err(Fault::Invalid(format!(
                "view {dst} has {} extents and {} strides",
                shape.len(),
                strides.len()
            )));
        }
        let view = GlobalView { param, dtype: decl.dtype, shape, strides, offset };
        if let Some(slot) = self.globals.get_mut(dst.index()) {
            *slot = Some(view);
        }
        Ok(())
    }

    pub(super) fn load_global(
        &mut self,
        dst: TileId,
        src: GlobalId,
        offsets: &[Expr],
        dims: &[usize],
    ) -> Result<(), Fault<'k>> {
        let decl = self.tile_decl(dst)?;
        let view = self.global(src, decl.dtype)?;
        let shape = decl.layout.shape();
        let base = self.window_base(view, offsets, dims, shape.len())?;
        let bytes = self.buffer(view.param)?;
        let mut index = Vec::new();
        let mut codes = Vec::with_capacity(element_count(shape)?);
        for position in 0..element_count(shape)? {
            let view_index = scatter(&base, dims, position, shape, &mut index);
            let bit = view.bit_offset(&view_index, bytes.len());
            codes.push(bit.map_or(0, |bit| read_bits(bytes, bit, view.dtype.bits())));
        }
        self.define(dst, codes)
    }

    pub(super) fn store_global(
        &mut self,
        dst: GlobalId,
        src: TileId,
        offsets: &[Expr],
        dims: &[usize],
    ) -> Result<(), Fault<'k>> {
        let tile = self.tile(src)?;
        let view = self.global(dst, tile.dtype)?;
        let mutable = matches!(
            self.kernel.params.get(view.param).map(|param| &param.kind),
            Some(ParamKind::Global { mutable: true, .. })
        );
        if !mutable {
            return Err(Fault::Invalid(format!("store to view {dst} of a parameter that is not mutable")));
        }
        let base = self.window_base(view, offsets, dims, tile.shape.len())?;
        let (view, tile) = (view.clone(), tile.clone());
        let bytes = match self.args.get_mut(view.param) {
            Some(KernelArg::Buffer(bytes)) => bytes,
            _ => return Err(Fault::Invalid(format!("parameter {} has no buffer", view.param))),
        };
        let mut index = Vec::new();
        for (position, &code) in tile.codes.iter().enumerate() {
            let view_index = scatter(&base, dims, position, &tile.shape, &mut index);
            if let Some(bit) = view.bit_offset(&view_index, bytes.len()) {
                write_bits(bytes, bit, view.dtype.bits(), code);
            }
        }
        Ok(())
    }

    pub(super) fn load_shared(
        &mut self,
        dst: TileId,
        src: SharedId,
        offsets: &[Expr],
        stmt: &'k Stmt,
    ) -> Result<(), Fault<'k>> {
        let decl = self.tile_decl(dst)?;
        let offsets = eval_ints(offsets, &self.scope())?;
        let shared_dtype = self.shared.shape(src).map_err(|fault| Fault::Shared(src, fault))?.1;
        if shared_dtype != decl.dtype {
            return Err(Fault::Invalid(format!(
                "load of a {shared_dtype} shared tile into a {} tile",
                decl.dtype
            )));
        }
        let owners = self.owners(dst)?;
        let shape = decl.layout.shape();
        let mut index = Vec::new();
        let mut codes = Vec::with_capacity(element_count(shape)?);
        for position in 0..element_count(shape)? {
            let shared_index = window(&offsets, position, shape, &mut index);
            let threads = owners.get(position).copied().flatten();
            codes.push(
                self.shared
                    .read(src, &shared_index, threads, stmt)
                    .map_err(|fault| Fault::Shared(src, fault))?,
            );
        }
        self.define(dst, codes)
    }

    pub(super) fn store_shared(
        &mut self,
        dst: SharedId,
        src: TileId,
        offsets: &[Expr],
        stmt: &'k Stmt,
    ) -> Result<(), Fault<'k>> {
        let offsets = eval_ints(offsets, &self.scope())?;
        let shared_dtype = self.shared.shape(dst).map_err(|fault| Fault::Shared(dst, fault))?.1;
        let owners = self.owners(src)?;
        let tile = self.tile(src)?.clone();
        if shared_dtype != tile.dtype {
            return Err(Fault::Invalid(format!(
                "store of a {} tile into a {shared_dtype} shared tile",
                tile.dtype
            )));
        }
        let mut index = Vec::new();
        for (position, &code) in tile.codes.iter().enumerate() {
            let shared_index = window(&offsets, position, &tile.shape, &mut index);
            let threads = owners.get(position).copied().flatten();
            self.shared
                .write(dst, &shared_index, code, threads, stmt, false)
                .map_err(|fault| Fault::Shared(dst, fault))?;
        }
        Ok(())
    }

    pub(super) fn copy_to_shared(
        &mut self,
        dst: SharedId,
        src: GlobalId,
        offsets: &[Expr],
        dims: &[usize],
        stmt: &'k Stmt,
    ) -> Result<(), Fault<'k>> {
        let (shape, dtype) = self.shared.shape(dst).map_err(|fault| Fault::Shared(dst, fault))?;
        let view = self.global(src, dtype)?.clone();
        let base = self.window_base(&view, offsets, dims, shape.len())?;
        let bytes = self.buffer(view.param)?;
        let mut index = Vec::new();
        let mut codes = Vec::with_capacity(element_count(shape)?);
        for position in 0..element_count(shape)? {
            let view_index = scatter(&base, dims, position, shape, &mut index);
            let bit = view.bit_offset(&view_index, bytes.len());
            codes.push(bit.map_or(0, |bit| read_bits(bytes, bit, view.dtype.bits())));
        }
        let zero = vec![0i128; shape.len()];
        for (position, code) in codes.into_iter().enumerate() {
            let shared_index = window(&zero, position, shape, &mut index);
            let write = self.shared.write(dst, &shared_index, code, Some(Threads::Many), stmt, true);
            write.map_err(|fault| Fault::Shared(dst, fault))?;
        }
        Ok(())
    }

    /// The evaluated offsets of a window into a view, checked against the view's rank and `dims`.
    fn window_base(
        &self,
        view: &GlobalView,
        offsets: &[Expr],
        dims: &[usize],
        tile_rank: usize,
    ) -> Result<Vec<i128>, Fault<'k>> {
        let base = eval_ints(offsets, &self.scope())?;
        let rank = view.shape.len();
        let increasing = dims.windows(2).all(|pair| pair[0] < pair[1]);
        if base.len() != rank || dims.len() != tile_rank || !increasing || dims.iter().any(|&d| d >= rank) {
            return Err(Fault::Invalid(format!(
                "a rank-{tile_rank} window into a rank-{rank} view needs {rank} offsets (got {}) and {tile_rank} increasing dims below {rank} (got {dims:?})",
                base.len()
            )));
        }
        Ok(base)
    }
}

/// The view index of tile element `position`: `base` with `index[j]` added along view dimension `dims[j]`.
fn scatter(
    base: &[i128],
    dims: &[usize],
    position: usize,
    shape: &[usize],
    index: &mut Vec<usize>,
) -> Vec<i128> {
    unravel(position, shape, index);
    let mut view_index = base.to_vec();
    for (&d, &i) in dims.iter().zip(index.iter()) {
        view_index[d] += i as i128;
    }
    view_index
}

/// The index `offsets + index` of tile element `position` in a same-rank window.
fn window(offsets: &[i128], position: usize, shape: &[usize], index: &mut Vec<usize>) -> Vec<i128> {
    unravel(position, shape, index);
    if offsets.len() != index.len() {
        // A rank mismatch: an index of the wrong rank is reported as out of bounds by the shared memory.
        return index.iter().map(|&i| i as i128).chain(std::iter::once(-1)).collect();
    }
    offsets.iter().zip(index.iter()).map(|(&offset, &i)| offset + i as i128).collect()
}
