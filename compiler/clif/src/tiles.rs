//! Register and shared tile instructions as loop nests over logical elements.
//!
//! A register tile is an array of slots in logical row-major order at its frame offset; a shared tile is
//! the same (its `SharedLayout` decides physical placement on a GPU, but nothing on a CPU can observe it,
//! so row-major is as good as any). An instruction becomes one loop nest over the destination's
//! elements; when the destination is also a source of a non-elementwise instruction, the nest writes a
//! temporary that is then copied.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{InstBuilder, Type, Value, types};
use tilevm_vm::dtype::DataType;
use tilevm_vm::ir::{ElementwiseOp, Expr, Operand, SharedId, TileId};

use super::frame::{element_count, slot_type};
use super::lowerer::{ClifLowerer, mem};
use super::simd;
use super::{ClifError, ClifResult};

use super::abi::STATUS_WINDOW_OUT_OF_RANGE;

/// Where a tile's elements are: a scratch byte offset, the element dtype and the logical shape.
#[derive(Clone, Debug)]
pub(super) struct TileRef {
    pub(super) offset: u32,
    pub(super) dtype: DataType,
    pub(super) shape: Vec<usize>,
}

impl TileRef {
    pub(super) fn slot(&self) -> Type {
        slot_type(self.dtype)
    }

    /// Byte strides of the row-major layout.
    pub(super) fn byte_strides(&self) -> Vec<i64> {
        let mut strides = vec![0i64; self.shape.len()];
        let mut stride = i64::from(self.slot().bytes());
        for (d, &extent) in self.shape.iter().enumerate().rev() {
            strides[d] = stride;
            stride *= extent as i64;
        }
        strides
    }

    pub(super) fn bytes(&self) -> u64 {
        element_count(&self.shape) * u64::from(self.slot().bytes())
    }
}

/// The body of a loop nest: receives the coordinates (`i64`) of one element.
pub(super) type NestBody<'b, 'a> = dyn FnMut(&mut ClifLowerer<'a>, &[Value]) -> ClifResult<()> + 'b;

/// Computes one destination element from its coordinates (`i64`) and the destination tile.
pub(super) type ElementFn<'b, 'a> =
    dyn FnMut(&mut ClifLowerer<'a>, &[Value], &TileRef) -> ClifResult<Value> + 'b;

impl<'a> ClifLowerer<'a> {
    pub(super) fn tile_ref(&self, tile: TileId) -> ClifResult<TileRef> {
        let decl = self
            .kernel
            .tiles
            .get(tile.index())
            .ok_or_else(|| ClifError::Malformed(format!("undeclared register tile {tile}")))?;
        Ok(TileRef { offset: self.frame.tile(tile)?, dtype: decl.dtype, shape: decl.layout.shape().to_vec() })
    }

    pub(super) fn shared_ref(&self, shared: SharedId) -> ClifResult<TileRef> {
        let decl = self
            .kernel
            .shared
            .get(shared.index())
            .ok_or_else(|| ClifError::Malformed(format!("undeclared shared tile {shared}")))?;
        Ok(TileRef {
            offset: self.frame.shared(shared)?,
            dtype: decl.dtype,
            shape: decl.layout.shape().to_vec(),
        })
    }

    /// A temporary with `like`'s dtype and shape.
    fn temp_ref(&self, which: usize, like: &TileRef) -> TileRef {
        TileRef { offset: self.frame.temp(which), ..like.clone() }
    }

    /// Runs `body` for every coordinate of `shape`, row-major (the last dimension innermost).
    pub(super) fn each_index(&mut self, shape: &[usize], body: &mut NestBody<'_, 'a>) -> ClifResult<()> {
        let mut coords = Vec::with_capacity(shape.len());
        self.nest(shape, &mut coords, body)
    }

    fn nest(
        &mut self,
        shape: &[usize],
        coords: &mut Vec<Value>,
        body: &mut NestBody<'_, 'a>,
    ) -> ClifResult<()> {
        let depth = coords.len();
        if depth == shape.len() {
            return body(self, coords);
        }
        let extent = shape[depth];
        if extent == 0 {
            return Ok(());
        }
        if extent == 1 {
            coords.push(self.builder.ins().iconst(types::I64, 0));
            self.nest(shape, coords, body)?;
            coords.pop();
            return Ok(());
        }
        let loop_block = self.builder.create_block();
        let exit = self.builder.create_block();
        let index = self.builder.append_block_param(loop_block, types::I64);
        let zero = self.builder.ins().iconst(types::I64, 0);
        self.builder.ins().jump(loop_block, &[zero.into()]);
        self.builder.switch_to_block(loop_block);
        coords.push(index);
        self.nest(shape, coords, body)?;
        coords.pop();
        let next = self.builder.ins().iadd_imm_s(index, 1);
        let more = self.builder.ins().icmp_imm_s(IntCC::UnsignedLessThan, next, extent as i64);
        self.builder.ins().brif(more, loop_block, &[next.into()], exit, &[]);
        self.builder.switch_to_block(exit);
        Ok(())
    }

    /// The address (without the tile's frame offset) of the element at `coords` with the given byte strides.
    pub(super) fn slot_address(&mut self, strides: &[i64], coords: &[Value]) -> Value {
        let mut address = self.scratch_ptr;
        for (&stride, &coord) in strides.iter().zip(coords) {
            if stride != 0 {
                let scaled = self.builder.ins().imul_imm_s(coord, stride);
                address = self.builder.ins().iadd(address, scaled);
            }
        }
        address
    }

    pub(super) fn load_element(&mut self, tile: &TileRef, strides: &[i64], coords: &[Value]) -> Value {
        let address = self.slot_address(strides, coords);
        self.builder.ins().load(tile.slot(), mem(), address, tile.offset as i32)
    }

    pub(super) fn store_element(&mut self, tile: &TileRef, coords: &[Value], value: Value) {
        let strides = tile.byte_strides();
        let address = self.slot_address(&strides, coords);
        self.builder.ins().store(mem(), value, address, tile.offset as i32);
    }

    /// The row-major linear index of `coords` in `shape`, as an `i64`.
    pub(super) fn linear_index(&mut self, shape: &[usize], coords: &[Value]) -> Value {
        let mut index = self.builder.ins().iconst(types::I64, 0);
        for (&extent, &coord) in shape.iter().zip(coords) {
            index = self.builder.ins().imul_imm_s(index, extent as i64);
            index = self.builder.ins().iadd(index, coord);
        }
        index
    }

    /// An index expression as an `i64` (sign-extended for signed dtypes).
    pub(super) fn index_expr(&mut self, expr: &Expr) -> ClifResult<Value> {
        let value = self.expr(expr)?;
        let ty = self.builder.func.dfg.value_type(value);
        let signed = matches!(expr.dtype, DataType::Int(int) if int.signed);
        Ok(match ty {
            types::I64 => value,
            types::F32 => return Err(ClifError::Malformed("a float used as an index".to_string())),
            _ if signed => self.builder.ins().sextend(types::I64, value),
            _ => self.builder.ins().uextend(types::I64, value),
        })
    }

    /// Fills a register tile, whose slots are dense in scratch, with `init` (or zero bits), 16 bytes per store
    /// (`CpuOp::VectorFill`: the slots make whole vectors and `init` is a value of the slot type).
    pub(super) fn vector_fill(&mut self, tile: &TileRef, init: Option<&Expr>) -> ClifResult<()> {
        let value = self.fill_value(tile, init)?;
        let slot = tile.slot();
        let bytes = element_count(&tile.shape) * u64::from(slot.bytes());
        let vector_type = slot
            .by(simd::VECTOR_BYTES as u32 / slot.bytes())
            .filter(|_| self.builder.func.dfg.value_type(value) == slot)
            .ok_or_else(|| ClifError::Internal(format!("a vector fill of {slot} slots with a {value}")))?;
        let vector = self.builder.ins().splat(vector_type, value);
        let offset = tile.offset as i32;
        self.short_loop((bytes / simd::VECTOR_BYTES as u64) as i64, &mut |lowerer, index| {
            let at = lowerer.builder.ins().imul_imm_s(index, simd::VECTOR_BYTES);
            let address = lowerer.builder.ins().iadd(lowerer.scratch_ptr, at);
            lowerer.builder.ins().store(simd::vector_mem(), vector, address, offset);
            Ok(())
        })
    }

    /// Sets every element of `tile` to `init` (or zero bits).
    pub(super) fn fill(&mut self, tile: &TileRef, init: Option<&Expr>) -> ClifResult<()> {
        let value = self.fill_value(tile, init)?;
        self.store_every_element(tile, value)
    }

    /// The slot value a fill stores: `init`, or zero bits.
    fn fill_value(&mut self, tile: &TileRef, init: Option<&Expr>) -> ClifResult<Value> {
        match init {
            Some(init) => self.expr(init),
            None => Ok(self.zero_of(tile.slot())),
        }
    }

    fn store_every_element(&mut self, tile: &TileRef, value: Value) -> ClifResult<()> {
        let shape = tile.shape.clone();
        self.each_index(&shape, &mut |lowerer, coords| {
            lowerer.store_element(tile, coords, value);
            Ok(())
        })
    }

    pub(super) fn zero_of(&mut self, ty: Type) -> Value {
        if ty == types::F32 { self.builder.ins().f32const(0.0) } else { self.builder.ins().iconst(ty, 0) }
    }

    /// An `i64` as an element of integer (or float) dtype `dtype`.
    pub(super) fn int_from_i64(&mut self, value: Value, dtype: DataType) -> Value {
        let ty = slot_type(dtype);
        match ty {
            types::F32 => self.builder.ins().fcvt_from_sint(types::F32, value),
            types::I64 => value,
            _ => {
                let reduced = self.builder.ins().ireduce(ty, value);
                if dtype.bits() < ty.bits() {
                    self.builder.ins().band_imm_u(reduced, ((1u64 << dtype.bits()) - 1) as i64)
                } else {
                    reduced
                }
            }
        }
    }

    /// Writes `dst[i] = element(i)` for every element, through a temporary when `dst` is among `sources`.
    pub(super) fn map_into(
        &mut self,
        dst: TileId,
        sources: &[TileId],
        element: &mut ElementFn<'_, 'a>,
    ) -> ClifResult<()> {
        let target = self.tile_ref(dst)?;
        let aliased = sources.contains(&dst);
        let written = if aliased { self.temp_ref(0, &target) } else { target.clone() };
        let shape = target.shape.clone();
        self.each_index(&shape, &mut |lowerer, coords| {
            let value = element(lowerer, coords, &target)?;
            lowerer.store_element(&written, coords, value);
            Ok(())
        })?;
        if aliased {
            self.copy_tile(&written, &target);
        }
        Ok(())
    }

    /// Copies a whole tile's slots (same dtype and shape).
    pub(super) fn copy_tile(&mut self, from: &TileRef, to: &TileRef) {
        let bytes = from.bytes();
        let words = bytes / 8;
        let loop_block = self.builder.create_block();
        let exit = self.builder.create_block();
        if words > 0 {
            let index = self.builder.append_block_param(loop_block, types::I64);
            let zero = self.builder.ins().iconst(types::I64, 0);
            self.builder.ins().jump(loop_block, &[zero.into()]);
            self.builder.switch_to_block(loop_block);
            let address = self.builder.ins().iadd(self.scratch_ptr, index);
            let word = self.builder.ins().load(types::I64, mem(), address, from.offset as i32);
            self.builder.ins().store(mem(), word, address, to.offset as i32);
            let next = self.builder.ins().iadd_imm_s(index, 8);
            let more = self.builder.ins().icmp_imm_s(IntCC::UnsignedLessThan, next, (words * 8) as i64);
            self.builder.ins().brif(more, loop_block, &[next.into()], exit, &[]);
        } else {
            self.builder.ins().jump(exit, &[]);
            self.builder.switch_to_block(loop_block);
            self.builder.ins().jump(exit, &[]);
        }
        self.builder.switch_to_block(exit);
        for byte in words * 8..bytes {
            let value =
                self.builder.ins().load(types::I8, mem(), self.scratch_ptr, from.offset as i32 + byte as i32);
            self.builder.ins().store(mem(), value, self.scratch_ptr, to.offset as i32 + byte as i32);
        }
    }

    /// Copies between a window of `whole` starting at `offsets` and all of `window` (`into_window`: from
    /// `whole` into `window`). A window that leaves `whole` stops the kernel with
    /// [`STATUS_WINDOW_OUT_OF_RANGE`].
    pub(super) fn window_copy(
        &mut self,
        whole: &TileRef,
        window: &TileRef,
        offsets: &[Expr],
        into_window: bool,
    ) -> ClifResult<()> {
        if offsets.len() != whole.shape.len() || window.shape.len() != whole.shape.len() {
            return Err(ClifError::Malformed("window rank differs from its tile's".to_string()));
        }
        let mut starts = Vec::with_capacity(offsets.len());
        let mut inside = self.builder.ins().iconst(types::I8, 1);
        for (d, offset) in offsets.iter().enumerate() {
            let start = self.index_expr(offset)?;
            // 0 <= start && start + window <= whole, in unsigned terms: start <= whole - window.
            let room = whole.shape[d] as i64 - window.shape[d] as i64;
            let fits = if room < 0 {
                self.builder.ins().iconst(types::I8, 0)
            } else {
                self.builder.ins().icmp_imm_s(IntCC::UnsignedLessThanOrEqual, start, room)
            };
            inside = self.builder.ins().band(inside, fits);
            starts.push(start);
        }
        let fail = self.builder.create_block();
        let pass = self.builder.create_block();
        self.builder.ins().brif(inside, pass, &[], fail, &[]);
        self.builder.switch_to_block(fail);
        self.builder.set_cold_block(fail);
        let status = self.builder.ins().iconst(types::I32, i64::from(STATUS_WINDOW_OUT_OF_RANGE));
        self.builder.ins().return_(&[status]);
        self.builder.switch_to_block(pass);
        let whole_strides = whole.byte_strides();
        let window_strides = window.byte_strides();
        let shape = window.shape.clone();
        self.each_index(&shape, &mut |lowerer, coords| {
            let shifted: Vec<Value> = coords
                .iter()
                .zip(&starts)
                .map(|(&coord, &start)| lowerer.builder.ins().iadd(coord, start))
                .collect();
            if into_window {
                let value = lowerer.load_element(whole, &whole_strides, &shifted);
                let address = lowerer.slot_address(&window_strides, coords);
                lowerer.builder.ins().store(mem(), value, address, window.offset as i32);
            } else {
                let value = lowerer.load_element(window, &window_strides, coords);
                let address = lowerer.slot_address(&whole_strides, &shifted);
                lowerer.builder.ins().store(mem(), value, address, whole.offset as i32);
            }
            Ok(())
        })
    }

    /// `Elementwise` as a loop nest.
    pub(super) fn elementwise(
        &mut self,
        dst: TileId,
        op: ElementwiseOp,
        operands: &[Operand],
    ) -> ClifResult<()> {
        let target = self.tile_ref(dst)?;
        let rank = target.shape.len();
        // Scalars are evaluated once, before the nest; tiles are read with broadcast strides.
        enum Source {
            Scalar(Value, DataType),
            Tile(TileRef, Vec<i64>),
        }
        let mut sources = Vec::with_capacity(operands.len());
        for operand in operands {
            sources.push(match operand {
                Operand::Scalar(expr) => Source::Scalar(self.expr(expr)?, expr.dtype),
                Operand::Tile(tile) => {
                    let tile = self.tile_ref(*tile)?;
                    let strides = broadcast_strides(&tile, rank)?;
                    Source::Tile(tile, strides)
                }
            });
        }
        let dtypes: Vec<DataType> = sources
            .iter()
            .map(|source| match source {
                Source::Scalar(_, dtype) => *dtype,
                Source::Tile(tile, _) => tile.dtype,
            })
            .collect();
        let shape = target.shape.clone();
        let target_strides = target.byte_strides();
        // Every element reads only its own index of `dst`, so updating in place is safe.
        self.each_index(&shape, &mut |lowerer, coords| {
            let mut values = Vec::with_capacity(sources.len());
            for source in &sources {
                values.push(match source {
                    Source::Scalar(value, _) => *value,
                    Source::Tile(tile, strides) => lowerer.load_element(tile, strides, coords),
                });
            }
            let result = match (op, values.as_slice()) {
                (ElementwiseOp::Unary(op), [value]) => lowerer.unary(op, dtypes[0], *value)?,
                (ElementwiseOp::Binary(op), [lhs, rhs]) => {
                    lowerer.binary(op, dtypes[0], dtypes[1], *lhs, *rhs)?
                }
                (ElementwiseOp::Ternary(op), [a, b, c]) => lowerer.ternary(op, dtypes[1], *a, *b, *c)?,
                _ => return Err(ClifError::Malformed(format!("{op:?} with {} operands", values.len()))),
            };
            let address = lowerer.slot_address(&target_strides, coords);
            lowerer.builder.ins().store(mem(), result, address, target.offset as i32);
            Ok(())
        })
    }
}

/// Byte strides that read `tile` broadcast to rank `rank`: leading missing and size-1 dimensions get 0.
pub(super) fn broadcast_strides(tile: &TileRef, rank: usize) -> ClifResult<Vec<i64>> {
    if tile.shape.len() > rank {
        return Err(ClifError::Malformed("a broadcast operand of higher rank than its result".to_string()));
    }
    let own = tile.byte_strides();
    let mut strides = vec![0i64; rank - tile.shape.len()];
    for (d, &extent) in tile.shape.iter().enumerate() {
        strides.push(if extent == 1 { 0 } else { own[d] });
    }
    Ok(strides)
}
