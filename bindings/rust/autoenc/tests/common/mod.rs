//! Small deterministic data shared by the tests.
#![allow(dead_code)]

/// `n_rows x n_cols` values in [0, 1], the same in C: `((37 i + 11 j) % 101) / 100`.
pub fn data(n_rows: usize, n_cols: usize) -> Vec<f32> {
    let mut x = Vec::with_capacity(n_rows * n_cols);
    for i in 0..n_rows {
        for j in 0..n_cols {
            x.push(((37 * i + 11 * j) % 101) as f32 / 100.0);
        }
    }
    x
}

/// A temporary path unique to this process and `name`.
pub fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("autoenc-rs-{}-{name}", std::process::id()))
}

/// CRC-32C (Castagnoli), as the model file format uses.
pub fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
