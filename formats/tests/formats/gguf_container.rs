//! GGUF files written by `GgufWriter` read back through `GgufFile`, and corrupt or truncated files
//! rejected with the offset and the key or tensor being read, never a panic.

use tilevm_formats::FormatError;
use tilevm_formats::ggml::{GgmlType, quantize, to_affine};
use tilevm_formats::gguf::{GgufFile, GgufWriter, MetaValue};

use super::support::{Rng, f32s, ggml_data};

/// A small file: metadata of every value type, a Q4_0 and an f16 tensor.
fn sample() -> (Vec<u8>, Vec<u8>) {
    let q4 = ggml_data("q4_0.bin");
    let mut writer = GgufWriter::new();
    writer
        .metadata("general.architecture", MetaValue::String("llama".into()))
        .metadata("general.alignment", MetaValue::U32(64))
        .metadata("test.u8", MetaValue::U8(7))
        .metadata("test.i8", MetaValue::I8(-7))
        .metadata("test.u16", MetaValue::U16(700))
        .metadata("test.i16", MetaValue::I16(-700))
        .metadata("test.i32", MetaValue::I32(-70000))
        .metadata("test.f32", MetaValue::F32(0.5))
        .metadata("test.bool", MetaValue::Bool(true))
        .metadata("test.u64", MetaValue::U64(1 << 40))
        .metadata("test.i64", MetaValue::I64(-(1 << 40)))
        .metadata("test.f64", MetaValue::F64(0.25))
        .metadata(
            "test.array",
            MetaValue::Array(vec![MetaValue::String("a".into()), MetaValue::String("bc".into())]),
        )
        .metadata("test.nested", MetaValue::Array(vec![MetaValue::Array(vec![MetaValue::I32(1)])]));
    writer.tensor("blk.0.ffn_up.weight", GgmlType::Q4_0, &[256, 16], q4.clone()).unwrap();
    let halves = quantize(GgmlType::F16, &[1.5; 64]).unwrap();
    writer.tensor("token_embd.weight", GgmlType::F16, &[8, 8], halves).unwrap();
    (writer.to_bytes(), q4)
}

#[test]
fn written_files_read_back() {
    let (bytes, q4) = sample();
    let file = GgufFile::from_bytes("sample.gguf", bytes).unwrap();
    assert_eq!((file.version(), file.alignment()), (3, 64));
    assert_eq!(file.meta("general.architecture").and_then(MetaValue::as_str), Some("llama"));
    assert_eq!(file.meta("test.i64"), Some(&MetaValue::I64(-(1 << 40))));
    assert_eq!(
        file.meta("test.nested"),
        Some(&MetaValue::Array(vec![MetaValue::Array(vec![MetaValue::I32(1)])]))
    );
    assert_eq!(file.metadata().len(), 14);
    let up = file.tensor("blk.0.ffn_up.weight").unwrap();
    assert_eq!(
        (up.dims.clone(), up.ggml_type(), up.matrix_shape()),
        (vec![256, 16], Some(GgmlType::Q4_0), (16, 256))
    );
    assert_eq!(up.file_offset % 64, 0);
    assert_eq!(file.data(up).unwrap(), &q4[..]);
    let weights = to_affine(GgmlType::Q4_0, file.data(up).unwrap(), 16, 256, &up.name).unwrap();
    let want = f32s(&ggml_data("q4_0.f32"));
    assert!(weights.dequantize().iter().zip(&want).all(|(a, b)| a == b));
    let embd = file.tensor("token_embd.weight").unwrap();
    assert_eq!(file.data(embd).unwrap().len(), 128);
    let missing = file.tensor("output.weight").unwrap_err();
    assert!(
        matches!(missing, FormatError::NoSuchTensor { .. })
            && missing.to_string().contains("token_embd.weight")
    );
}

#[test]
fn memory_mapped_files_read_the_same() {
    let (bytes, q4) = sample();
    let dir = std::env::temp_dir().join(format!("tilevm-gguf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sample.gguf");
    let mut writer = GgufWriter::new();
    writer.tensor("w", GgmlType::Q4_0, &[256, 16], q4.clone()).unwrap();
    writer.write_to(&path).unwrap();
    let file = GgufFile::open(&path).unwrap();
    assert_eq!(file.data(file.tensor("w").unwrap()).unwrap(), &q4[..]);
    std::fs::write(&path, &bytes[..100]).unwrap();
    let error = GgufFile::open(&path).unwrap_err().to_string();
    assert!(error.contains("sample.gguf") && error.contains("at byte"), "{error}");
    let error = GgufFile::open(dir.join("absent.gguf")).unwrap_err();
    assert!(matches!(error, FormatError::Io { .. }), "{error}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_truncation_is_an_error_with_an_offset() {
    let (bytes, _) = sample();
    for len in 0..bytes.len() {
        let error = GgufFile::from_bytes("cut.gguf", bytes[..len].to_vec())
            .expect_err(&format!("a file cut to {len} bytes must not parse"));
        let FormatError::Corrupt { offset, .. } = &error else { panic!("{len} bytes: {error}") };
        // The offset is where reading failed, or the start of a tensor's data that is cut off.
        assert!(*offset <= bytes.len() as u64, "{len} bytes: error at {offset}: {error}");
    }
}

#[test]
fn flipped_bytes_never_panic() {
    let (bytes, _) = sample();
    let mut rng = Rng(0x5eed_0001);
    for _ in 0..3000 {
        let mut corrupt = bytes.clone();
        for _ in 0..1 + rng.next() % 4 {
            let at = (rng.next() % corrupt.len() as u64) as usize;
            corrupt[at] = rng.next() as u8;
        }
        // Either a file that parses (and whose tensors' data is then in range) or an error.
        if let Ok(file) = GgufFile::from_bytes("flipped.gguf", corrupt) {
            for tensor in file.tensors() {
                if let Ok(data) = file.data(tensor) {
                    assert_eq!(Some(data.len() as u64), tensor.bytes);
                }
            }
        }
    }
}

fn header(version: u32, tensors: u64, kvs: u64) -> Vec<u8> {
    let mut bytes = b"GGUF".to_vec();
    bytes.extend_from_slice(&version.to_le_bytes());
    bytes.extend_from_slice(&tensors.to_le_bytes());
    bytes.extend_from_slice(&kvs.to_le_bytes());
    bytes
}

fn push_string(bytes: &mut Vec<u8>, s: &str) {
    bytes.extend_from_slice(&(s.len() as u64).to_le_bytes());
    bytes.extend_from_slice(s.as_bytes());
}

#[test]
fn malformed_headers_say_what_is_wrong() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"GGML\x03\0\0\0".to_vec(), "not a GGUF file"),
        (header(1, 0, 0), "version 1 is not supported"),
        (header(3, u64::MAX, 0), "tensor infos cannot fit"),
        (header(3, 0, 1 << 40), "metadata entries cannot fit"),
        (
            {
                let mut b = header(3, 0, 1);
                push_string(&mut b, "general.alignment");
                b.extend_from_slice(&4u32.to_le_bytes());
                b.extend_from_slice(&48u32.to_le_bytes());
                b
            },
            "not a power of two",
        ),
        (
            {
                let mut b = header(3, 0, 1);
                push_string(&mut b, "k");
                b.extend_from_slice(&13u32.to_le_bytes());
                b.extend_from_slice(&[0; 8]);
                b
            },
            "unknown value type 13",
        ),
        (
            {
                let mut b = header(3, 0, 1);
                push_string(&mut b, "k");
                b.extend_from_slice(&9u32.to_le_bytes());
                b.extend_from_slice(&10u32.to_le_bytes());
                b.extend_from_slice(&u64::MAX.to_le_bytes());
                b
            },
            "array elements cannot fit",
        ),
        (
            {
                let mut b = header(3, 1, 0);
                push_string(&mut b, "w");
                b.extend_from_slice(&2u32.to_le_bytes());
                b.extend_from_slice(&32u64.to_le_bytes());
                b.extend_from_slice(&4u64.to_le_bytes());
                b.extend_from_slice(&2u32.to_le_bytes());
                b.extend_from_slice(&0u64.to_le_bytes());
                b
            },
            "run past the end of the file",
        ),
        (
            {
                let mut b = header(3, 1, 0);
                push_string(&mut b, "w");
                b.extend_from_slice(&1u32.to_le_bytes());
                b.extend_from_slice(&33u64.to_le_bytes());
                b.extend_from_slice(&2u32.to_le_bytes());
                b.extend_from_slice(&0u64.to_le_bytes());
                b.resize(256, 0);
                b
            },
            "not whole q4_0 blocks",
        ),
        (
            {
                let mut b = header(3, 1, 0);
                push_string(&mut b, "w");
                b.extend_from_slice(&5u32.to_le_bytes());
                b.resize(100, 0);
                b
            },
            "5 dimensions",
        ),
    ];
    for (bytes, expected) in cases {
        let error = GgufFile::from_bytes("bad.gguf", bytes).unwrap_err().to_string();
        assert!(
            error.contains(expected) && error.starts_with("bad.gguf: at byte"),
            "expected `{expected}` in: {error}"
        );
    }
}

#[test]
fn unknown_tensor_types_are_listed_but_not_read() {
    let mut b = header(3, 1, 0);
    push_string(&mut b, "iq2");
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&256u64.to_le_bytes());
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    let file = GgufFile::from_bytes("iq2.gguf", b).unwrap();
    let tensor = &file.tensors()[0];
    assert_eq!((tensor.type_id, tensor.ggml_type(), tensor.bytes), (16, None, None));
    let error = file.data(tensor).unwrap_err().to_string();
    assert!(error.contains("ggml type 16"), "{error}");
}
