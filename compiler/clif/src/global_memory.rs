//! Global memory: views over packed bit streams (`ViewGlobal`), and bounds-checked `LoadGlobal`,
//! `StoreGlobal` and `CopyGlobalToShared` on the paths instruction selection listed (`isel::LoadPaths`,
//! `isel::StorePaths`), and the dots that read their codes straight from a buffer.
//!
// Memory safety is the point of this file. Whatever the kernel's offsets and strides, an element is read
// or written only when (1) its view index lies inside the view's shape and (2) its whole bit range
// `[e*b, e*b+b)` lies inside the buffer passed for the view's parameter, where the element offset `e` is
// computed in 128-bit arithmetic from 64-bit operands (so no product or sum can overflow). Out-of-range
// loads read 0 and out-of-range stores are dropped, as the IR defines.
//
// Loads have a fast path: when the tile's bounding box is inside the view and its bit range (plus 8 bytes
// of slack for whole-word reads) inside the buffer, checked once per instruction, every element is read
// with one unaligned 64-bit load, a shift and a mask, without per-element checks. Otherwise each element
// is checked and read byte by byte. Stores always check each element; sub-byte stores update only their
// own bits with atomic and/or on each byte, so blocks running in parallel may write neighbouring elements
// of one byte.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{AtomicRmwOp, InstBuilder, Type, Value, types};
use cranelift_frontend::Variable;
use tilevm_vm::dtype::DataType;
use tilevm_vm::ir::{Expr, GlobalId, ParamKind};

use super::abi;
use super::isel::rules::WORD_READ_MAX_BITS;
use super::isel::rules::innermost_dim;
use super::isel::{FusedDot, FusedLoad, LoadPaths, RunCopy, StorePaths};
use super::lowerer::{ClifLowerer, ViewVars, mem};
use super::simd::{self, DotOperand};
use super::tiles::TileRef;
use super::{ClifError, ClifResult};

/// What a load or store needs at run time, evaluated once per instruction.
struct Access {
    shape: Vec<Value>,
    strides: Vec<Value>,
    offset: Value,
    starts: Vec<Value>,
    dims: Vec<usize>,
    pointer: Value,
    length: Value,
    bits: u32,
    /// The type of its bounds arithmetic: `i128`, or `i64` for a narrow view (`view_bounds`).
    index_type: Type,
    /// Whether the buffer is a parameter the kernel cannot store to.
    read_only: bool,
}

impl<'a> ClifLowerer<'a> {
    /// `ViewGlobal`: evaluates the view's shape, strides and offset into its variables.
    pub(super) fn view_global(
        &mut self,
        dst: GlobalId,
        shape: &[Expr],
        strides: &[Expr],
        offset: &Expr,
    ) -> ClifResult<()> {
        if shape.len() != strides.len() || shape.is_empty() {
            return Err(ClifError::Malformed(format!(
                "view {dst} with {} extents and {} strides",
                shape.len(),
                strides.len()
            )));
        }
        let existing = self.views.get(dst.index()).cloned().flatten();
        let vars = match existing {
            Some(vars) if vars.shape.len() == shape.len() => vars,
            Some(_) => return Err(ClifError::Malformed(format!("view {dst} redefined with another rank"))),
            None => {
                let declare = |lowerer: &mut Self| -> Variable { lowerer.builder.declare_var(types::I64) };
                let vars = ViewVars {
                    shape: shape.iter().map(|_| declare(self)).collect(),
                    strides: strides.iter().map(|_| declare(self)).collect(),
                    offset: declare(self),
                };
                let slot = self
                    .views
                    .get_mut(dst.index())
                    .ok_or_else(|| ClifError::Malformed(format!("undeclared view {dst}")))?;
                *slot = Some(vars.clone());
                vars
            }
        };
        for (expr, &var) in shape.iter().chain(strides).zip(vars.shape.iter().chain(&vars.strides)) {
            let value = self.index_expr(expr)?;
            self.builder.def_var(var, value);
        }
        let value = self.index_expr(offset)?;
        self.builder.def_var(vars.offset, value);
        Ok(())
    }

    fn access(
        &mut self,
        global: GlobalId,
        tile: &TileRef,
        offsets: &[Expr],
        dims: &[usize],
    ) -> ClifResult<Access> {
        let decl = self
            .kernel
            .globals
            .get(global.index())
            .ok_or_else(|| ClifError::Malformed(format!("undeclared view {global}")))?
            .clone();
        let vars = self.view_vars(global)?;
        let rank = vars.shape.len();
        if offsets.len() != rank || dims.len() != tile.shape.len() || dims.iter().any(|&d| d >= rank) {
            return Err(ClifError::Malformed(format!(
                "access to view {global} with mismatched offsets or dims"
            )));
        }
        if decl.dtype.bits() != tile.dtype.bits() {
            return Err(ClifError::Malformed(format!("view {global} and its tile differ in dtype")));
        }
        let param_index = decl.param.index();
        if param_index >= self.kernel.params.len() {
            return Err(ClifError::Malformed(format!("view {global} over a missing parameter")));
        }
        let slot = abi::ARG_SLOT_BYTES * param_index as i32;
        let pointer = self.builder.ins().load(types::I64, mem(), self.args_ptr, slot);
        let length = self.builder.ins().load(types::I64, mem(), self.args_ptr, slot + 8);
        let mut starts = Vec::with_capacity(rank);
        for offset in offsets {
            starts.push(self.index_expr(offset)?);
        }
        let shape = vars.shape.iter().map(|&var| self.builder.use_var(var)).collect();
        let strides = vars.strides.iter().map(|&var| self.builder.use_var(var)).collect();
        let offset = self.builder.use_var(vars.offset);
        Ok(Access {
            shape,
            strides,
            offset,
            starts,
            dims: dims.to_vec(),
            pointer,
            length,
            bits: decl.dtype.bits(),
            read_only: matches!(
                self.kernel.params[param_index].kind,
                ParamKind::Global { mutable: false, .. }
            ),
            index_type: if self.narrow_views.get(global.index()).copied().unwrap_or(false) {
                types::I64
            } else {
                types::I128
            },
        })
    }

    /// `LoadGlobal` into `tile` (a register tile, or a shared tile for `CopyGlobalToShared`), trying
    /// `paths` in order before the masked per-element path.
    pub(super) fn load_global(
        &mut self,
        tile: &TileRef,
        src: GlobalId,
        offsets: &[Expr],
        dims: &[usize],
        paths: LoadPaths,
    ) -> ClifResult<()> {
        let access = self.access(src, tile, offsets, dims)?;
        let shape = tile.shape.clone();
        let done = self.builder.create_block();
        if let Some(plan) = paths.vector {
            let vector = self.builder.create_block();
            let other = self.builder.create_block();
            let vector_ok = self.vector_load_ok(&access, &shape, simd::VECTOR_BYTES);
            self.builder.ins().brif(vector_ok, vector, &[], other, &[]);
            self.builder.switch_to_block(vector);
            self.vector_load(&access, tile, plan)?;
            self.builder.ins().jump(done, &[]);
            self.builder.switch_to_block(other);
        }
        if paths.word {
            let fast = self.builder.create_block();
            let slow = self.builder.create_block();
            let whole_tile_ok = self.tile_in_bounds(&access, &shape, 8);
            self.builder.ins().brif(whole_tile_ok, fast, &[], slow, &[]);
            self.builder.switch_to_block(fast);
            let base = self.base_offset(&access);
            self.each_index(&shape, &mut |lowerer, coords| {
                let mut element = base;
                for (j, &coord) in coords.iter().enumerate() {
                    let scaled = lowerer.builder.ins().imul(coord, access.strides[access.dims[j]]);
                    element = lowerer.builder.ins().iadd(element, scaled);
                }
                let bit = lowerer.builder.ins().imul_imm_s(element, i64::from(access.bits));
                let code = lowerer.read_word(&access, bit);
                let value = lowerer.code_to_tile_slot(code, tile.dtype);
                lowerer.store_element(tile, coords, value);
                Ok(())
            })?;
            self.builder.ins().jump(done, &[]);
            self.builder.switch_to_block(slow);
        }
        self.each_index(&shape, &mut |lowerer, coords| {
            let (valid, bit) = lowerer.element_bit(&access, coords);
            let read = lowerer.builder.create_block();
            let merge = lowerer.builder.create_block();
            let code = lowerer.builder.append_block_param(merge, types::I64);
            let zero = lowerer.builder.ins().iconst(types::I64, 0);
            lowerer.builder.ins().brif(valid, read, &[], merge, &[zero.into()]);
            lowerer.builder.switch_to_block(read);
            let bit = lowerer.index_to_i64(&access, bit);
            let loaded = lowerer.read_checked(&access, bit);
            lowerer.builder.ins().jump(merge, &[loaded.into()]);
            lowerer.builder.switch_to_block(merge);
            let value = lowerer.code_to_tile_slot(code, tile.dtype);
            lowerer.store_element(tile, coords, value);
            Ok(())
        })?;
        self.builder.ins().jump(done, &[]);
        self.builder.switch_to_block(done);
        Ok(())
    }

    /// `StoreGlobal` of `tile`: whole vectors when `paths` has them and the tile is inside, else every
    /// element checked, out-of-range ones dropped.
    pub(super) fn store_global(
        &mut self,
        tile: &TileRef,
        dst: GlobalId,
        offsets: &[Expr],
        dims: &[usize],
        paths: StorePaths,
    ) -> ClifResult<()> {
        let access = self.access(dst, tile, offsets, dims)?;
        let shape = tile.shape.clone();
        let strides = tile.byte_strides();
        let done = self.builder.create_block();
        // Whole vectors of slots that are codes already, when the tile is inside: each vector writes
        // exactly the bytes of its elements, in the elementwise path's order.
        if let Some(plan @ RunCopy::Copy { .. }) = paths.vector {
            let vector = self.builder.create_block();
            let other = self.builder.create_block();
            let vector_ok = self.vector_load_ok(&access, &shape, i64::from(access.bits / 8));
            self.builder.ins().brif(vector_ok, vector, &[], other, &[]);
            self.builder.switch_to_block(vector);
            self.each_run(&access, tile, &mut |lowerer, global, slots, count| {
                lowerer.copy_run(plan, slots, global, count)
            })?;
            self.builder.ins().jump(done, &[]);
            self.builder.switch_to_block(other);
        }
        self.each_index(&shape, &mut |lowerer, coords| {
            let (valid, bit) = lowerer.element_bit(&access, coords);
            let write = lowerer.builder.create_block();
            let merge = lowerer.builder.create_block();
            lowerer.builder.ins().brif(valid, write, &[], merge, &[]);
            lowerer.builder.switch_to_block(write);
            let bit = lowerer.index_to_i64(&access, bit);
            let value = lowerer.load_element(tile, &strides, coords);
            let code = super::lowerer::to_u64_bits(&mut lowerer.builder, value);
            lowerer.write_checked(&access, bit, code);
            lowerer.builder.ins().jump(merge, &[]);
            lowerer.builder.switch_to_block(merge);
            Ok(())
        })?;
        self.builder.ins().jump(done, &[]);
        self.builder.switch_to_block(done);
        Ok(())
    }

    /// The element offset of the tile's element (0, ..., 0), in `i64` (only used once in-bounds is proven).
    fn base_offset(&mut self, access: &Access) -> Value {
        let mut element = access.offset;
        for (d, &start) in access.starts.iter().enumerate() {
            let scaled = self.builder.ins().imul(start, access.strides[d]);
            element = self.builder.ins().iadd(element, scaled);
        }
        element
    }

    /// A fused dot whose codes' `LoadGlobal` (`load`) it performs too: in bounds and aligned, it unpacks the
    /// codes straight from the buffer into registers; otherwise it loads the codes tile as `LoadGlobal`
    /// would (on the staged paths) and converts them from the frame.
    pub(super) fn load_dot(
        &mut self,
        fused: &FusedDot,
        load: &FusedLoad,
        codes: &TileRef,
        dst: &TileRef,
        rhs: &TileRef,
        acc: &TileRef,
    ) -> ClifResult<()> {
        let access = self.access(load.src, codes, &load.offsets, &load.dims)?;
        let [_, inner] = codes.shape[..] else {
            return Err(ClifError::Malformed("a fused dot of codes that are not a matrix".to_string()));
        };
        if inner <= 1 {
            return Err(ClifError::Malformed("a fused dot of single-column codes".to_string()));
        }
        let direct = self.builder.create_block();
        let staged = self.builder.create_block();
        let done = self.builder.create_block();
        let ok = self.vector_load_ok(&access, &codes.shape, load.slack);
        self.builder.ins().brif(ok, direct, &[], staged, &[]);
        self.builder.switch_to_block(direct);
        let base = self.base_offset(&access);
        let row_stride = access.strides[access.dims[0]];
        if fused.prefetch {
            self.prefetch_next_tile(
                access.pointer,
                access.length,
                base,
                row_stride,
                access.bits,
                &codes.shape,
            );
        }
        let operand = DotOperand::Packed {
            tile: codes,
            int: fused.int,
            pointer: access.pointer,
            base,
            row_stride,
            read_only: access.read_only,
        };
        self.dot_of_codes(fused, operand, dst, rhs, acc)?;
        self.builder.ins().jump(done, &[]);
        self.builder.switch_to_block(staged);
        self.load_global(codes, load.src, &load.offsets, &load.dims, load.staged)?;
        self.dot_of_codes(fused, DotOperand::Codes(codes, fused.int), dst, rhs, acc)?;
        self.builder.ins().jump(done, &[]);
        self.builder.switch_to_block(done);
        Ok(())
    }

    /// Whether the vector path applies: the tile inside (16 bytes of slack), unit stride along its innermost
    /// dimension, and every row starting on a byte boundary.
    fn vector_load_ok(&mut self, access: &Access, shape: &[usize], slack: i64) -> Value {
        let last = innermost_dim(shape).unwrap_or(0);
        let mut ok = self.tile_in_bounds(access, shape, slack);
        let inner_stride = access.strides[access.dims[last]];
        let unit = self.builder.ins().icmp_imm_s(IntCC::Equal, inner_stride, 1);
        ok = self.builder.ins().band(ok, unit);
        if !access.bits.is_multiple_of(8) {
            // Only the low three bits of the bit offsets matter, and wrapping products keep them exact.
            let base = self.base_offset(access);
            let mut misaligned = self.builder.ins().imul_imm_s(base, i64::from(access.bits));
            for (j, &extent) in shape[..last].iter().enumerate() {
                if extent > 1 {
                    let stride = access.strides[access.dims[j]];
                    let step = self.builder.ins().imul_imm_s(stride, i64::from(access.bits));
                    misaligned = self.builder.ins().bor(misaligned, step);
                }
            }
            let low_bits = self.builder.ins().band_imm_u(misaligned, 7);
            let aligned = self.builder.ins().icmp_imm_s(IntCC::Equal, low_bits, 0);
            ok = self.builder.ins().band(ok, aligned);
        }
        ok
    }

    /// The vector path of `LoadGlobal`: each innermost row is one contiguous, byte-aligned run of codes.
    fn vector_load(&mut self, access: &Access, tile: &TileRef, plan: RunCopy) -> ClifResult<()> {
        self.each_run(access, tile, &mut |lowerer, global, slots, count| {
            lowerer.copy_run(plan, global, slots, count)
        })
    }

    /// Calls `body(global, slots, count)` for each innermost row of the tile, in row-major order: the byte
    /// address of its first code (its rows byte-aligned, `vector_load_ok`), the address of its first slot,
    /// and its length.
    fn each_run(
        &mut self,
        access: &Access,
        tile: &TileRef,
        body: &mut dyn FnMut(&mut ClifLowerer<'a>, Value, Value, usize) -> ClifResult<()>,
    ) -> ClifResult<()> {
        let last = innermost_dim(&tile.shape).unwrap_or(0);
        let outer = tile.shape[..last].to_vec();
        let inner = tile.shape[last];
        let tile_strides = tile.byte_strides();
        let base = self.base_offset(access);
        self.each_index(&outer, &mut |lowerer, coords| {
            let mut element = base;
            for (j, &coord) in coords.iter().enumerate() {
                let scaled = lowerer.builder.ins().imul(coord, access.strides[access.dims[j]]);
                element = lowerer.builder.ins().iadd(element, scaled);
            }
            let bit = lowerer.builder.ins().imul_imm_s(element, i64::from(access.bits));
            let byte = lowerer.builder.ins().ushr_imm_u(bit, 3);
            let src = lowerer.builder.ins().iadd(access.pointer, byte);
            let slots = lowerer.slot_address(&tile_strides[..last], coords);
            let slots = lowerer.builder.ins().iadd_imm_s(slots, i64::from(tile.offset));
            body(lowerer, src, slots, inner)
        })
    }

    /// Whether every element of the tile is inside the view and, with `slack` bytes of slack after the last
    /// element's first byte, inside the buffer.
    fn tile_in_bounds(&mut self, access: &Access, shape: &[usize], slack: i64) -> Value {
        let mut ok = self.builder.ins().iconst(types::I8, 1);
        let mut low = self.widen(access, access.offset);
        let mut high = low;
        for d in 0..access.starts.len() {
            let extent = access.dims.iter().position(|&dim| dim == d).map_or(1, |j| shape[j] as i64);
            // 0 <= start <= shape[d] - extent (extent >= 1; an empty tile never gets here), which cannot
            // wrap: the shape is far from the ends of the index type.
            let start = access.starts[d];
            let nonnegative = self.builder.ins().icmp_imm_s(IntCC::SignedGreaterThanOrEqual, start, 0);
            let start_wide = self.widen(access, start);
            let limit = self.widen(access, access.shape[d]);
            let last_start = self.builder.ins().iadd_imm_s(limit, -extent);
            let fits = self.builder.ins().icmp(IntCC::SignedLessThanOrEqual, start_wide, last_start);
            ok = self.builder.ins().band(ok, nonnegative);
            ok = self.builder.ins().band(ok, fits);
            // The element-offset range over this dimension: start*stride + [0, extent-1]*stride.
            let stride = self.widen(access, access.strides[d]);
            let first = self.builder.ins().imul(start_wide, stride);
            let span = self.builder.ins().imul_imm_s(stride, extent - 1);
            // min(0, span) and max(0, span) by the sign mask (Cranelift has no i128 smin/smax, and its
            // optimiser turns compare-and-select back into them).
            let negative = self.builder.ins().sshr_imm_u(span, i64::from(access.index_type.bits()) - 1);
            let below_zero = self.builder.ins().band(span, negative);
            let above_zero = self.builder.ins().band_not(span, negative);
            let smaller = self.builder.ins().iadd(first, below_zero);
            let larger = self.builder.ins().iadd(first, above_zero);
            low = self.builder.ins().iadd(low, smaller);
            high = self.builder.ins().iadd(high, larger);
        }
        let bits = i64::from(access.bits);
        let low_bit = self.builder.ins().imul_imm_s(low, bits);
        let high_bit = self.builder.ins().imul_imm_s(high, bits);
        let nonnegative = self.builder.ins().icmp_imm_s(IntCC::SignedGreaterThanOrEqual, low_bit, 0);
        // (high_bit >> 3) + slack <= length, so that a read of `slack` bytes at any element's byte stays inside.
        let high_byte = self.builder.ins().sshr_imm_s(high_bit, 3);
        let high_end = self.builder.ins().iadd_imm_s(high_byte, slack);
        let length = self.widen_length(access);
        let inside = self.builder.ins().icmp(IntCC::SignedLessThanOrEqual, high_end, length);
        ok = self.builder.ins().band(ok, nonnegative);
        self.builder.ins().band(ok, inside)
    }

    /// The buffer's length in bytes in the access's index type (lengths are below 2^63).
    fn widen_length(&mut self, access: &Access) -> Value {
        if access.index_type == types::I64 {
            access.length
        } else {
            self.builder.ins().uextend(access.index_type, access.length)
        }
    }

    /// An index-type value (known to be in range) as `i64`.
    fn index_to_i64(&mut self, access: &Access, value: Value) -> Value {
        if access.index_type == types::I64 { value } else { self.builder.ins().ireduce(types::I64, value) }
    }

    /// `value` (an `i64`) in the access's index type.
    fn widen(&mut self, access: &Access, value: Value) -> Value {
        if access.index_type == types::I64 {
            value
        } else {
            self.builder.ins().sextend(access.index_type, value)
        }
    }

    /// Whether one element is in range, and its bit position (in the access's index type).
    fn element_bit(&mut self, access: &Access, coords: &[Value]) -> (Value, Value) {
        let mut valid = self.builder.ins().iconst(types::I8, 1);
        let mut element = self.widen(access, access.offset);
        for d in 0..access.starts.len() {
            // In i64 a start near the top of the range wraps to a negative index, which is rejected.
            let mut index_wide = self.widen(access, access.starts[d]);
            if let Some(j) = access.dims.iter().position(|&dim| dim == d) {
                let coord = self.widen(access, coords[j]);
                index_wide = self.builder.ins().iadd(index_wide, coord);
            }
            let limit = self.widen(access, access.shape[d]);
            let nonnegative = self.builder.ins().icmp_imm_s(IntCC::SignedGreaterThanOrEqual, index_wide, 0);
            let below = self.builder.ins().icmp(IntCC::SignedLessThan, index_wide, limit);
            valid = self.builder.ins().band(valid, nonnegative);
            valid = self.builder.ins().band(valid, below);
            let stride = self.widen(access, access.strides[d]);
            let scaled = self.builder.ins().imul(index_wide, stride);
            element = self.builder.ins().iadd(element, scaled);
        }
        let bit = self.builder.ins().imul_imm_s(element, i64::from(access.bits));
        let nonnegative = self.builder.ins().icmp_imm_s(IntCC::SignedGreaterThanOrEqual, bit, 0);
        let end = self.builder.ins().iadd_imm_s(bit, i64::from(access.bits));
        let length = self.widen_length(access);
        let length_bits = self.builder.ins().ishl_imm_u(length, 3);
        let inside = self.builder.ins().icmp(IntCC::SignedLessThanOrEqual, end, length_bits);
        valid = self.builder.ins().band(valid, nonnegative);
        valid = self.builder.ins().band(valid, inside);
        (valid, bit)
    }

    /// Reads a code at `bit` with one unaligned 64-bit load (8 bytes from its byte are in the buffer).
    fn read_word(&mut self, access: &Access, bit: Value) -> Value {
        let byte = self.builder.ins().ushr_imm_u(bit, 3);
        let address = self.builder.ins().iadd(access.pointer, byte);
        let word = self.builder.ins().load(types::I64, mem(), address, 0);
        if access.bits.is_multiple_of(8) {
            return self.mask_code(word, access.bits);
        }
        let shift = self.builder.ins().band_imm_u(bit, 7);
        let shifted = self.builder.ins().ushr(word, shift);
        self.mask_code(shifted, access.bits)
    }

    fn mask_code(&mut self, value: Value, bits: u32) -> Value {
        if bits >= 64 { value } else { self.builder.ins().band_imm_u(value, ((1u64 << bits) - 1) as i64) }
    }

    /// Reads a code whose bits are known to lie inside the buffer, touching only the bytes that hold them.
    fn read_checked(&mut self, access: &Access, bit: Value) -> Value {
        let bits = access.bits;
        let first = self.builder.ins().ushr_imm_u(bit, 3);
        if bits == 64 {
            let address = self.builder.ins().iadd(access.pointer, first);
            return self.builder.ins().load(types::I64, mem(), address, 0);
        }
        let last_bit = self.builder.ins().iadd_imm_s(bit, i64::from(bits) - 1);
        let last = self.builder.ins().ushr_imm_u(last_bit, 3);
        let wide_type = if bits <= WORD_READ_MAX_BITS { types::I64 } else { types::I128 };
        let byte_count = (bits + 7).div_ceil(8);
        let mut word = self.builder.ins().iconst(types::I64, 0);
        if wide_type == types::I128 {
            word = self.builder.ins().uextend(types::I128, word);
        }
        for i in 0..byte_count.min(wide_type.bytes()) {
            // Bytes past the element's last are re-read from the last one and masked off below.
            let index = self.builder.ins().iadd_imm_s(first, i64::from(i));
            let index = self.builder.ins().umin(index, last);
            let address = self.builder.ins().iadd(access.pointer, index);
            let byte = self.builder.ins().uload8(types::I64, mem(), address, 0);
            let byte =
                if wide_type == types::I128 { self.builder.ins().uextend(types::I128, byte) } else { byte };
            let placed = self.builder.ins().ishl_imm_u(byte, i64::from(8 * i));
            word = self.builder.ins().bor(word, placed);
        }
        let shift = self.builder.ins().band_imm_u(bit, 7);
        let shifted = self.builder.ins().ushr(word, shift);
        let shifted =
            if wide_type == types::I128 { self.builder.ins().ireduce(types::I64, shifted) } else { shifted };
        self.mask_code(shifted, bits)
    }

    /// Writes a code (`i64`) at `bit`, whose bits are known to lie inside the buffer.
    fn write_checked(&mut self, access: &Access, bit: Value, code: Value) {
        let bits = access.bits;
        let first = self.builder.ins().ushr_imm_u(bit, 3);
        let address = self.builder.ins().iadd(access.pointer, first);
        match bits {
            8 => {
                let narrow = self.builder.ins().ireduce(types::I8, code);
                self.builder.ins().store(mem(), narrow, address, 0);
                return;
            }
            16 | 32 => {
                let narrow =
                    self.builder.ins().ireduce(if bits == 16 { types::I16 } else { types::I32 }, code);
                self.builder.ins().store(mem(), narrow, address, 0);
                return;
            }
            64 => {
                self.builder.ins().store(mem(), code, address, 0);
                return;
            }
            _ if bits.is_multiple_of(8) => {
                for i in 0..bits / 8 {
                    let byte = self.builder.ins().ushr_imm_u(code, i64::from(8 * i));
                    let byte = self.builder.ins().ireduce(types::I8, byte);
                    self.builder.ins().store(mem(), byte, address, i as i32);
                }
                return;
            }
            _ => {}
        }
        // Partial bytes: clear and set only this element's bits, atomically per byte.
        let shift = self.builder.ins().band_imm_u(bit, 7);
        let shift = self.builder.ins().uextend(types::I128, shift);
        let code = self.mask_code(code, bits);
        let wide_code = self.builder.ins().uextend(types::I128, code);
        let mask =
            self.builder.ins().iconst(types::I64, if bits >= 64 { -1 } else { ((1u64 << bits) - 1) as i64 });
        let wide_mask = self.builder.ins().uextend(types::I128, mask);
        let placed_code = self.builder.ins().ishl(wide_code, shift);
        let placed_mask = self.builder.ins().ishl(wide_mask, shift);
        let byte_count = (bits + 7).div_ceil(8);
        for i in 0..byte_count {
            let byte_mask = self.builder.ins().ushr_imm_u(placed_mask, i64::from(8 * i));
            let byte_mask = self.builder.ins().ireduce(types::I8, byte_mask);
            let byte_code = self.builder.ins().ushr_imm_u(placed_code, i64::from(8 * i));
            let byte_code = self.builder.ins().ireduce(types::I8, byte_code);
            let touch = self.builder.create_block();
            let next = self.builder.create_block();
            self.builder.ins().brif(byte_mask, touch, &[], next, &[]);
            self.builder.switch_to_block(touch);
            let byte_address = self.builder.ins().iadd_imm_s(address, i64::from(i));
            let keep = self.builder.ins().bnot(byte_mask);
            self.builder.ins().atomic_rmw(types::I8, mem(), AtomicRmwOp::And, byte_address, keep);
            self.builder.ins().atomic_rmw(types::I8, mem(), AtomicRmwOp::Or, byte_address, byte_code);
            self.builder.ins().jump(next, &[]);
            self.builder.switch_to_block(next);
        }
    }

    /// An `i64` code as a tile slot of `dtype` (an f32 value for `f32`).
    pub(super) fn code_to_tile_slot(&mut self, code: Value, dtype: DataType) -> Value {
        super::lowerer::from_u64_bits(&mut self.builder, super::frame::slot_type(dtype), code)
    }
}
