//! The reference demo in Rust: train the Fashion-MNIST autoencoder of
//! `examples/train_fashion_mnist.c` with the same settings and report the
//! test-set error and the training speed.
//!
//!   784-512-256-64-256-512-784, ReLU in every hidden layer and the latent
//!   layer, sigmoid output, binary cross-entropy, Adam (lr 1e-3), batches of
//!   128, 10% of the training rows held out for validation, early stopping
//!   after 3 epochs without an improvement of 1e-4, best weights restored.
//!
//! ```text
//! cargo run --release --example fashion_mnist -- [--epochs N] [--batch N] [--seed N]
//!     [--data DIR] [--train-rows N] [--test-rows N]
//! ```
//!
//! No crates: the gzip'ed IDX files are read by the small inflate
//! implementation at the end of this file (RFC 1951 and 1952, checked
//! against the gzip trailer's CRC-32 and length).
use autoenc::{Activation, Loss, MatrixRef, Model, Optimizer, Param, Progress};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process;
use std::time::Instant;

const DEFAULT_EPOCHS: u64 = 20;
const DEFAULT_BATCH: usize = 128;
const VALIDATION_FRACTION: f64 = 0.1;
const PATIENCE: u64 = 3;
const DEFAULT_DIR: &str = "/usr/share/datasets/fashion-mnist";
const PIXELS: usize = 784;

struct Options {
    epochs: u64,
    batch: usize,
    seed: u64,
    data_dir: PathBuf,
    train_rows: Option<usize>,
    test_rows: Option<usize>,
}

fn usage() -> ! {
    println!(
        "usage: fashion_mnist [--epochs N] [--batch N] [--seed N] [--data DIR]\n\
         \x20                    [--train-rows N] [--test-rows N]\n\
         \x20 --epochs N      most epochs; early stopping may end sooner [{DEFAULT_EPOCHS}]\n\
         \x20 --batch N       rows per optimizer step [{DEFAULT_BATCH}]\n\
         \x20 --seed N        seed of the weights, split and shuffling [0]\n\
         \x20 --data DIR      Fashion-MNIST folder [$FASHION_MNIST_DIR or {DEFAULT_DIR}]\n\
         \x20 --train-rows N  use only the first N training images [all 60000]\n\
         \x20 --test-rows N   use only the first N test images [all 10000]"
    );
    process::exit(0);
}

fn fail(message: &str) -> ! {
    eprintln!("fashion_mnist: {message}");
    process::exit(1);
}

fn parse_options() -> Options {
    let mut opt = Options {
        epochs: DEFAULT_EPOCHS,
        batch: DEFAULT_BATCH,
        seed: 0,
        data_dir: std::env::var_os("FASHION_MNIST_DIR")
            .filter(|d| !d.is_empty())
            .map_or_else(|| PathBuf::from(DEFAULT_DIR), PathBuf::from),
        train_rows: None,
        test_rows: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        if flag == "--help" || flag == "-h" {
            usage();
        }
        let value = match args.get(i + 1) {
            Some(value) => value,
            None => fail(&format!("{flag} needs a value (try --help)")),
        };
        let count = |min: u64| -> u64 {
            match value.parse::<u64>() {
                Ok(n) if n >= min => n,
                _ => fail(&format!("{flag} needs an integer >= {min}")),
            }
        };
        match flag {
            "--epochs" => opt.epochs = count(1),
            "--batch" => opt.batch = count(1) as usize,
            "--seed" => opt.seed = count(0),
            "--train-rows" => opt.train_rows = Some(count(20) as usize),
            "--test-rows" => opt.test_rows = Some(count(1) as usize),
            "--data" => opt.data_dir = PathBuf::from(value),
            _ => fail(&format!("unknown option '{flag}' (try --help)")),
        }
        i += 2;
    }
    opt
}

/// The images of one IDX file, scaled to [0, 1] as the C demo's reader does.
fn load_images(dir: &Path, name: &str, max_rows: Option<usize>) -> Result<(Vec<f32>, usize), String> {
    let path = dir.join(name);
    let gz = std::fs::read(&path).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            " (install dataset-fashion-mnist or set FASHION_MNIST_DIR)"
        } else {
            ""
        };
        format!("cannot open {}: {e}{hint}", path.display())
    })?;
    // The header (16 bytes) and, with a row limit, only as many rows as needed.
    let limit = max_rows.map(|rows| 16 + rows * PIXELS);
    let bytes = gunzip(&gz, limit).map_err(|e| format!("{}: {e}", path.display()))?;
    let be32 = |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    if bytes.len() < 16 || be32(0) != 0x0803 || be32(8) != 28 || be32(12) != 28 {
        return Err(format!("{}: not an IDX file of 28x28 images", path.display()));
    }
    let count = be32(4) as usize;
    let n_rows = max_rows.map_or(count, |m| m.min(count));
    if bytes.len() < 16 + n_rows * PIXELS {
        return Err(format!("{}: file is truncated", path.display()));
    }
    let pixels = bytes[16..16 + n_rows * PIXELS]
        .iter()
        .map(|&b| f32::from(b) / 255.0)
        .collect();
    Ok((pixels, n_rows))
}

fn stdout_is_terminal() -> bool {
    extern "C" {
        fn isatty(fd: std::os::raw::c_int) -> std::os::raw::c_int;
    }
    // SAFETY: isatty only inspects the descriptor.
    unsafe { isatty(1) == 1 }
}

fn main() {
    let opt = parse_options();
    let start = Instant::now();
    let (train, n_train) =
        load_images(&opt.data_dir, "train-images-idx3-ubyte.gz", opt.train_rows).unwrap_or_else(|e| fail(&e));
    let (test, n_test) =
        load_images(&opt.data_dir, "t10k-images-idx3-ubyte.gz", opt.test_rows).unwrap_or_else(|e| fail(&e));

    let tty = stdout_is_terminal();
    let mut model = Model::builder(&[PIXELS, 512, 256, 64])
        .seed(opt.seed)
        .hidden(Activation::Relu)
        .latent(Activation::Relu)
        .output(Activation::Sigmoid)
        .loss(Loss::Bce)
        .optimizer(Optimizer::adam(1e-3))
        .epochs(opt.epochs)
        .batch_size(opt.batch)
        .param(Param::ValidationFraction, VALIDATION_FRACTION)
        .param(Param::Patience, PATIENCE as f64)
        .param(Param::MinDelta, 1e-4)
        .param(Param::RestoreBest, 1.0)
        .param(Param::ProgressEveryBatch, if tty { 1.0 } else { 0.0 })
        .build()
        .unwrap_or_else(|e| fail(&e.to_string()));

    println!(
        "libautoenc {} (Rust): Fashion-MNIST autoencoder 784-512-256-64-256-512-784\n\
         {} parameters, ReLU inside, sigmoid output, BCE loss, Adam (lr 1e-3)\n\
         training on {n_train} images ({:.0}% held out for validation), batch {}, \
         at most {} epochs, early stopping after {PATIENCE} without improvement\n",
        autoenc::version_string(),
        model.param_count(),
        100.0 * VALIDATION_FRACTION,
        opt.batch,
        opt.epochs,
    );

    // fit holds out round(fraction * rows) rows for validation.
    let train_rows_per_epoch = n_train - (VALIDATION_FRACTION * n_train as f64).round() as usize;
    let (mut last_epoch_s, mut last_draw_s) = (0.0, 0.0);
    let on_progress = |p: &Progress| {
        if !p.epoch_end {
            // Lightweight: redraw at most ten times a second, only on a terminal.
            if tty && p.seconds - last_draw_s >= 0.1 {
                last_draw_s = p.seconds;
                print!(
                    "\r  epoch {:3}  batch {:5}/{}  loss {:.4}",
                    p.epoch, p.batch, p.batches, p.train_loss
                );
                use std::io::Write;
                std::io::stdout().flush().ok();
            }
            return ControlFlow::Continue(());
        }
        let epoch_s = p.seconds - last_epoch_s;
        last_epoch_s = p.seconds;
        println!(
            "{}epoch {:3}/{}  train {:.5}  val {:.5}  {:6.1} s  {:7.0} samples/s",
            if tty { "\r\x1b[K" } else { "" },
            p.epoch,
            p.epochs,
            p.train_loss,
            p.val_loss.unwrap_or(f64::NAN),
            p.seconds,
            if epoch_s > 0.0 {
                train_rows_per_epoch as f64 / epoch_s
            } else {
                0.0
            }
        );
        ControlFlow::Continue(())
    };
    let x = MatrixRef::new(&train, PIXELS).unwrap_or_else(|e| fail(&e.to_string()));
    let report = model
        .fit_with_progress(x, on_progress)
        .unwrap_or_else(|e| fail(&format!("training failed: {e}")));
    println!(
        "{} after {} epochs (best: epoch {}, val loss {:.5}{}), {:.1} s",
        if report.stop_reason == autoenc::StopReason::Early {
            "stopped early"
        } else {
            "finished"
        },
        report.epochs_run,
        report.best_epoch.unwrap_or(0),
        report.best_loss.unwrap_or(f64::NAN),
        if report.restored_best { ", weights restored" } else { "" },
        report.seconds
    );

    // Test-set quality: the model's MSE and BCE, against always predicting the
    // mean training image.
    let recon = model
        .reconstruct(&test, PIXELS)
        .unwrap_or_else(|e| fail(&e.to_string()));
    let test_bce = model
        .loss(MatrixRef::new(&test, PIXELS).unwrap())
        .unwrap_or_else(|e| fail(&e.to_string()));
    let mut mean_image = vec![0f32; PIXELS];
    for row in train.chunks_exact(PIXELS) {
        for (m, &v) in mean_image.iter_mut().zip(row) {
            *m += v / n_train as f32;
        }
    }
    let (mut mse, mut mean_mse, mut mean_bce) = (0f64, 0f64, 0f64);
    for (row, recon_row) in test.chunks_exact(PIXELS).zip(recon.chunks_exact(PIXELS)) {
        for j in 0..PIXELS {
            let x = f64::from(row[j]);
            let p = f64::from(mean_image[j]).clamp(1e-7, 1.0 - 1e-7);
            mse += (f64::from(recon_row[j]) - x).powi(2);
            mean_mse += (p - x).powi(2);
            mean_bce -= x * p.ln() + (1.0 - x) * (1.0 - p).ln();
        }
    }
    let n_values = (n_test * PIXELS) as f64;
    println!(
        "\nTest set ({n_test} images)          MSE       BCE\n  \
         autoencoder                {:.5}   {:.5}\n  \
         mean training image        {:.5}   {:.5}\n\
         Training speed: {:.0} samples/s; whole demo: {:.1} s",
        mse / n_values,
        test_bce,
        mean_mse / n_values,
        mean_bce / n_values,
        report.samples_per_second,
        start.elapsed().as_secs_f64()
    );
}

// ------------------------------------------------------------------------------------
// gzip (RFC 1952) and inflate (RFC 1951), after zlib's puff.c: canonical Huffman codes
// decoded bit by bit, which is simple and fast enough for 47 MB.

/// Decompresses a gzip member. With `limit`, stops once that many bytes are out
/// (the trailer is then not checked); otherwise checks the CRC-32 and length.
fn gunzip(gz: &[u8], limit: Option<usize>) -> Result<Vec<u8>, String> {
    if gz.len() < 18 || gz[0] != 0x1f || gz[1] != 0x8b || gz[2] != 8 {
        return Err("not a gzip file".to_string());
    }
    let flags = gz[3];
    let mut at = 10;
    if flags & 4 != 0 {
        // FEXTRA
        let xlen = usize::from(gz[at]) | usize::from(gz[at + 1]) << 8;
        at += 2 + xlen;
    }
    for flag in [8u8, 16] {
        // FNAME, FCOMMENT: zero-terminated
        if flags & flag != 0 {
            while at < gz.len() && gz[at] != 0 {
                at += 1;
            }
            at += 1;
        }
    }
    if flags & 2 != 0 {
        at += 2; // FHCRC
    }
    if at >= gz.len() {
        return Err("truncated gzip header".to_string());
    }
    let mut inflater = Inflater {
        input: gz,
        pos: at,
        bit_buf: 0,
        bit_count: 0,
        out: Vec::with_capacity(limit.unwrap_or(gz.len() * 4)),
        limit: limit.unwrap_or(usize::MAX),
    };
    inflater.inflate()?;
    let mut out = inflater.out;
    if let Some(limit) = limit {
        if out.len() >= limit {
            out.truncate(limit);
            return Ok(out);
        }
    }
    let end = inflater.pos;
    if end + 8 > gz.len() {
        return Err("truncated gzip trailer".to_string());
    }
    let le32 = |at: usize| u32::from_le_bytes([gz[at], gz[at + 1], gz[at + 2], gz[at + 3]]);
    if le32(end) != crc32(&out) || le32(end + 4) != out.len() as u32 {
        return Err("gzip CRC or length mismatch".to_string());
    }
    Ok(out)
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut table = [0u32; 256];
    for (n, entry) in table.iter_mut().enumerate() {
        let mut c = n as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
        }
        *entry = c;
    }
    !bytes.iter().fold(!0u32, |crc, &b| {
        table[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8)
    })
}

/// A canonical Huffman code: how many codes of each length, and the symbols in code order.
struct Huffman {
    counts: [u16; 16],
    symbols: Vec<u16>,
}

impl Huffman {
    fn new(lengths: &[u8]) -> Result<Huffman, String> {
        let mut counts = [0u16; 16];
        for &len in lengths {
            counts[usize::from(len)] += 1;
        }
        let mut left = 1i32;
        for &count in &counts[1..] {
            left = left * 2 - i32::from(count);
            if left < 0 {
                return Err("over-subscribed Huffman code".to_string());
            }
        }
        let mut offsets = [0u16; 16];
        for len in 1..15 {
            offsets[len + 1] = offsets[len] + counts[len];
        }
        let mut symbols = vec![0u16; lengths.len()];
        for (symbol, &len) in lengths.iter().enumerate() {
            if len != 0 {
                symbols[usize::from(offsets[usize::from(len)])] = symbol as u16;
                offsets[usize::from(len)] += 1;
            }
        }
        counts[0] = 0;
        Ok(Huffman { counts, symbols })
    }
}

struct Inflater<'a> {
    input: &'a [u8],
    pos: usize,
    bit_buf: u32,
    bit_count: u32,
    out: Vec<u8>,
    limit: usize,
}

const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
];
const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
    8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
];

impl Inflater<'_> {
    fn bits(&mut self, n: u32) -> Result<u32, String> {
        while self.bit_count < n {
            let byte = *self.input.get(self.pos).ok_or("truncated deflate stream")?;
            self.pos += 1;
            self.bit_buf |= u32::from(byte) << self.bit_count;
            self.bit_count += 8;
        }
        let value = self.bit_buf & ((1u32 << n) - 1);
        self.bit_buf >>= n;
        self.bit_count -= n;
        Ok(value)
    }

    fn decode(&mut self, h: &Huffman) -> Result<u16, String> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= self.bits(1)? as i32;
            let count = i32::from(h.counts[len]);
            if code - count < first {
                return Ok(h.symbols[(index + (code - first)) as usize]);
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err("invalid Huffman code".to_string())
    }

    fn inflate(&mut self) -> Result<(), String> {
        loop {
            let last = self.bits(1)? == 1;
            match self.bits(2)? {
                0 => self.stored()?,
                1 => {
                    let mut lengths = [0u8; 288];
                    lengths[..144].fill(8);
                    lengths[144..256].fill(9);
                    lengths[256..280].fill(7);
                    lengths[280..].fill(8);
                    let lit = Huffman::new(&lengths)?;
                    let dist = Huffman::new(&[5u8; 30])?;
                    self.codes(&lit, &dist)?;
                }
                2 => {
                    let (lit, dist) = self.dynamic_tables()?;
                    self.codes(&lit, &dist)?;
                }
                _ => return Err("invalid deflate block type".to_string()),
            }
            if last || self.out.len() >= self.limit {
                return Ok(());
            }
        }
    }

    fn stored(&mut self) -> Result<(), String> {
        self.bit_buf = 0;
        self.bit_count = 0;
        let header = self.input.get(self.pos..self.pos + 4).ok_or("truncated stored block")?;
        let len = usize::from(header[0]) | usize::from(header[1]) << 8;
        let nlen = usize::from(header[2]) | usize::from(header[3]) << 8;
        if len != !nlen & 0xffff {
            return Err("stored block length mismatch".to_string());
        }
        self.pos += 4;
        let block = self
            .input
            .get(self.pos..self.pos + len)
            .ok_or("truncated stored block")?;
        self.out.extend_from_slice(block);
        self.pos += len;
        Ok(())
    }

    fn dynamic_tables(&mut self) -> Result<(Huffman, Huffman), String> {
        const ORDER: [usize; 19] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
        let n_lit = self.bits(5)? as usize + 257;
        let n_dist = self.bits(5)? as usize + 1;
        let n_code = self.bits(4)? as usize + 4;
        if n_lit > 286 || n_dist > 30 {
            return Err("bad dynamic block counts".to_string());
        }
        let mut code_lengths = [0u8; 19];
        for &index in &ORDER[..n_code] {
            code_lengths[index] = self.bits(3)? as u8;
        }
        let code = Huffman::new(&code_lengths)?;
        let mut lengths = vec![0u8; n_lit + n_dist];
        let mut i = 0;
        while i < lengths.len() {
            let symbol = self.decode(&code)?;
            let (value, repeat) = match symbol {
                0..=15 => (symbol as u8, 1),
                16 => {
                    let previous = *lengths[..i].last().ok_or("repeat with no previous length")?;
                    (previous, 3 + self.bits(2)? as usize)
                }
                17 => (0, 3 + self.bits(3)? as usize),
                _ => (0, 11 + self.bits(7)? as usize),
            };
            if i + repeat > lengths.len() {
                return Err("too many code lengths".to_string());
            }
            lengths[i..i + repeat].fill(value);
            i += repeat;
        }
        Ok((Huffman::new(&lengths[..n_lit])?, Huffman::new(&lengths[n_lit..])?))
    }

    fn codes(&mut self, lit: &Huffman, dist: &Huffman) -> Result<(), String> {
        loop {
            let symbol = usize::from(self.decode(lit)?);
            if symbol < 256 {
                self.out.push(symbol as u8);
            } else if symbol == 256 {
                return Ok(());
            } else {
                let index = symbol - 257;
                if index >= 29 {
                    return Err("invalid length symbol".to_string());
                }
                let len = usize::from(LENGTH_BASE[index]) + self.bits(u32::from(LENGTH_EXTRA[index]))? as usize;
                let d = usize::from(self.decode(dist)?);
                if d >= 30 {
                    return Err("invalid distance symbol".to_string());
                }
                let distance = usize::from(DIST_BASE[d]) + self.bits(u32::from(DIST_EXTRA[d]))? as usize;
                if distance > self.out.len() {
                    return Err("distance too far back".to_string());
                }
                let from = self.out.len() - distance;
                for k in 0..len {
                    let byte = self.out[from + k];
                    self.out.push(byte);
                }
                if self.out.len() >= self.limit {
                    return Ok(());
                }
            }
        }
    }
}
