//! Keeps the declarations of `src/lib.rs` from drifting away from the header.
//!
//! The test reads `autoenc.h` (from the folder the build script found), writes a
//! C program that prints every enum value and `#define` constant, the size and
//! signedness of every enum type, and the size, alignment and field offsets of
//! every struct, compiles it with the C compiler (`$CC`, else `cc`) against the
//! header and the library, runs it, and compares every line with the Rust side.
//! It also maps each function and callback type of the header to the Rust
//! signature it must have and compares it with `src/lib.rs`, and checks that
//! every symbol of `tests/abi/exported-symbols.txt` is declared.
use autoenc_sys::*;
use std::collections::{BTreeMap, BTreeSet};
use std::mem::{align_of, size_of, MaybeUninit};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::ptr::addr_of;

// ------------------------------------------------------------------ the Rust side

macro_rules! constants {
    ($($name:ident),* $(,)?) => {
        &[$((stringify!($name), $name as i64)),*]
    };
}

/// Every constant of `src/lib.rs`; a constant missing here fails the test.
const CONSTANTS: &[(&str, i64)] = constants![
    AE_VERSION_MAJOR,
    AE_VERSION_MINOR,
    AE_VERSION_PATCH,
    AE_VERSION_NUMBER,
    AE_MAX_LAYERS,
    AE_MAX_LAYER_WIDTH,
    AE_OK,
    AE_ERR_INVALID_ARGUMENT,
    AE_ERR_OUT_OF_MEMORY,
    AE_ERR_SIZE_OVERFLOW,
    AE_ERR_NON_FINITE_INPUT,
    AE_ERR_INPUT_RANGE,
    AE_ERR_STATE,
    AE_ERR_CANCELLED,
    AE_ERR_DIVERGED,
    AE_ERR_IO,
    AE_ERR_FORMAT,
    AE_ERR_CHECKSUM,
    AE_ERR_VERSION,
    AE_ERR_BUFFER_TOO_SMALL,
    AE_ERR_NON_FINITE_RESULT,
    AE_ERR_BUSY,
    AE_ERR_PEER,
    AE_ARCH_PLAIN,
    AE_ARCH_TIED_WEIGHTS,
    AE_ARCH_VARIATIONAL,
    AE_ACT_LINEAR,
    AE_ACT_RELU,
    AE_ACT_LEAKY_RELU,
    AE_ACT_ELU,
    AE_ACT_SIGMOID,
    AE_ACT_TANH,
    AE_ACT_SOFTPLUS,
    AE_LOSS_MSE,
    AE_LOSS_BCE,
    AE_OPT_SGD,
    AE_OPT_ADAM,
    AE_OPT_ADAMW,
    AE_NOISE_NONE,
    AE_NOISE_GAUSSIAN,
    AE_NOISE_MASKING,
    AE_NOISE_SALT_AND_PEPPER,
    AE_SCALING_NONE,
    AE_SCALING_MINMAX,
    AE_SCALING_STANDARDIZE,
    AE_PARAM_SEED,
    AE_PARAM_HIDDEN_ACTIVATION,
    AE_PARAM_LATENT_ACTIVATION,
    AE_PARAM_OUTPUT_ACTIVATION,
    AE_PARAM_LOSS,
    AE_PARAM_LEAKY_SLOPE,
    AE_PARAM_ELU_ALPHA,
    AE_PARAM_OPTIMIZER,
    AE_PARAM_LEARNING_RATE,
    AE_PARAM_MOMENTUM,
    AE_PARAM_NESTEROV,
    AE_PARAM_ADAM_BETA1,
    AE_PARAM_ADAM_BETA2,
    AE_PARAM_ADAM_EPSILON,
    AE_PARAM_WEIGHT_DECAY,
    AE_PARAM_CLIP_NORM,
    AE_PARAM_EPOCHS,
    AE_PARAM_BATCH_SIZE,
    AE_PARAM_SHUFFLE,
    AE_PARAM_VALIDATION_FRACTION,
    AE_PARAM_PATIENCE,
    AE_PARAM_MIN_DELTA,
    AE_PARAM_RESTORE_BEST,
    AE_PARAM_PROGRESS_EVERY_BATCH,
    AE_PARAM_DIVERGENCE_FACTOR,
    AE_PARAM_SHUFFLE_BUFFER,
    AE_PARAM_THREADS,
    AE_PARAM_NOISE,
    AE_PARAM_NOISE_LEVEL,
    AE_PARAM_SCALING,
    AE_PARAM_SCALING_MIN_SCALE,
    AE_PARAM_SPARSITY_WEIGHT,
    AE_PARAM_SPARSITY_TARGET,
    AE_PARAM_SPARSITY_LAYER,
    AE_PARAM_ACTIVITY_L1,
    AE_PARAM_CONTRACTIVE_WEIGHT,
    AE_PARAM_DROPOUT_INPUT,
    AE_PARAM_DROPOUT_HIDDEN,
    AE_PARAM_KL_WEIGHT,
    AE_PARAM_KL_WARMUP_EPOCHS,
    AE_PARAM_KIND_REAL,
    AE_PARAM_KIND_INTEGER,
    AE_PARAM_KIND_BOOLEAN,
    AE_PARAM_KIND_ENUM,
    AE_STOP_COMPLETED,
    AE_STOP_EARLY,
    AE_STOP_CANCELLED,
    AE_STOP_DIVERGED,
    AE_STOP_FAILED,
    AE_REDUCE_SUM,
    AE_REDUCE_MAX,
    AE_SAVE_DEFAULT,
    AE_SAVE_OPTIMIZER_STATE,
];

macro_rules! enum_types {
    ($($name:ident),* $(,)?) => {
        &[$((stringify!($name), size_of::<$name>(), $name::MIN != 0)),*]
    };
}

/// Every enum type: (name, size, signed).
const ENUM_TYPES: &[(&str, usize, bool)] = enum_types![
    ae_status,
    ae_architecture_flags,
    ae_activation,
    ae_loss,
    ae_optimizer,
    ae_noise,
    ae_scaling,
    ae_param,
    ae_param_kind,
    ae_stop_reason,
    ae_reduce_op,
    ae_save_flags,
];

fn field_size<T>(_: *const T) -> usize {
    size_of::<T>()
}

macro_rules! struct_layout {
    ($name:ident { $($field:ident),* $(,)? }) => {{
        let value = MaybeUninit::<$name>::uninit();
        let base = value.as_ptr();
        // addr_of! on a field of an uninitialised value only computes an address.
        let fields: Vec<(&str, usize, usize)> = vec![$({
            let field = unsafe { addr_of!((*base).$field) };
            (stringify!($field), field as usize - base as usize, field_size(field))
        }),*];
        (stringify!($name), size_of::<$name>(), align_of::<$name>(), fields)
    }};
}

type Layout = (&'static str, usize, usize, Vec<(&'static str, usize, usize)>);

fn struct_layouts() -> Vec<Layout> {
    vec![
        struct_layout!(ae_layer_description {
            size,
            n_in,
            n_out,
            activation,
            tied,
            weights_layer,
            weight_offset,
            weight_count,
            bias_offset,
            bias_count,
        }),
        struct_layout!(ae_param_description {
            size,
            name,
            kind,
            min_open,
            max_open,
            reserved,
            default_value,
            min_value,
            max_value,
        }),
        struct_layout!(ae_fit_report {
            size,
            epochs_run,
            steps_run,
            best_epoch,
            stop_reason,
            restored_best,
            final_train_loss,
            final_val_loss,
            best_loss,
            seconds,
            samples_per_second,
            final_kl,
            final_elbo,
        }),
        struct_layout!(ae_progress {
            size,
            epoch,
            epochs,
            batch,
            batches,
            epoch_end,
            train_loss,
            val_loss,
            seconds,
        }),
        struct_layout!(ae_data_source {
            size,
            user_data,
            read,
            rewind,
        }),
        struct_layout!(ae_train_hooks {
            size,
            participant,
            participants,
            user_data,
            reduce,
            gradient_ready,
            gradient_wait,
        }),
    ]
}

macro_rules! functions {
    ($($name:ident),* $(,)?) => {
        vec![$((stringify!($name), $name as *const () as usize)),*]
    };
}

/// The address of every declared function: referencing them makes the test
/// binary link each symbol, so a declared name the library lacks fails to link.
fn function_addresses() -> Vec<(&'static str, usize)> {
    functions![
        ae_version_number,
        ae_version_string,
        ae_max_layers,
        ae_max_layer_width,
        ae_status_str,
        ae_last_error,
        ae_model_create,
        ae_model_create_ex,
        ae_model_architecture,
        ae_model_free,
        ae_model_clone,
        ae_model_reset,
        ae_model_last_error,
        ae_model_input_dim,
        ae_model_latent_dim,
        ae_model_layer_count,
        ae_model_encoder_layer_count,
        ae_model_param_count,
        ae_model_layer_info,
        ae_model_describe_layer,
        ae_model_set_param,
        ae_model_get_param,
        ae_param_bounds,
        ae_param_name,
        ae_param_describe,
        ae_param_count,
        ae_param_at,
        ae_param_value_name,
        ae_activation_name,
        ae_model_set_progress,
        ae_model_fit,
        ae_model_fit_validated,
        ae_model_fit_source,
        ae_model_train_batch,
        ae_model_gradient,
        ae_model_set_train_hooks,
        ae_model_encode,
        ae_model_decode,
        ae_model_reconstruct,
        ae_model_score,
        ae_model_loss,
        ae_model_encode_distribution,
        ae_model_sample,
        ae_model_interpolate,
        ae_model_feature_errors,
        ae_model_fit_threshold,
        ae_model_set_threshold,
        ae_model_get_threshold,
        ae_model_detect,
        ae_model_fit_scaling,
        ae_model_get_scaling,
        ae_model_set_scaling,
        ae_model_pretrain,
        ae_model_export_encoder,
        ae_model_copy_layers,
        ae_model_save,
        ae_model_load,
        ae_model_save_size,
        ae_model_save_to_memory,
        ae_model_load_from_memory,
        ae_set_allocator,
        ae_model_get_weights,
        ae_model_set_weights,
        ae_model_get_bias,
        ae_model_set_bias,
        ae_model_get_params,
        ae_model_set_params,
        ae_model_get_optimizer_state,
        ae_model_set_optimizer_state,
    ]
}

// ------------------------------------------------------------------ reading the header

fn include_dir() -> PathBuf {
    match option_env!("AUTOENC_SYS_INCLUDE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => panic!(
            "the build script found no autoenc.h: set AUTOENC_INCLUDE_DIR to the folder \
             holding it (the ABI check compiles a C program against it)"
        ),
    }
}

fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

/// The header without comments, with each preprocessor line kept as one line.
fn header_code() -> String {
    let path = include_dir().join("autoenc.h");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut out = String::new();
    let mut rest = text.as_str();
    loop {
        let block = rest.find("/*");
        let line = rest.find("//");
        let start = match (block, line) {
            (Some(b), Some(l)) => b.min(l),
            (Some(b), None) => b,
            (None, Some(l)) => l,
            (None, None) => break,
        };
        out.push_str(&rest[..start]);
        if rest[start..].starts_with("/*") {
            let end = rest[start..].find("*/").expect("unterminated comment") + start + 2;
            out.push(' ');
            rest = &rest[end..];
        } else {
            let end = rest[start..].find('\n').map_or(rest.len(), |e| e + start);
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    out
}

struct Header {
    /// `#define AE_...` constants with a value, and every enum value.
    constants: Vec<String>,
    /// Enum type names.
    enums: Vec<String>,
    /// Struct names and their field names.
    structs: Vec<(String, Vec<String>)>,
    /// Function names and their Rust signatures.
    functions: BTreeMap<String, String>,
    /// Callback typedef names and their Rust types.
    callbacks: BTreeMap<String, String>,
}

fn identifiers(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|s| !s.is_empty())
        .collect()
}

/// Everything between a `{` at `open` and its matching `}`.
fn braced(code: &str, open: usize) -> (&str, usize) {
    let mut depth = 0;
    for (i, c) in code[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return (&code[open + 1..open + i], open + i + 1);
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced braces in the header");
}

/// The Rust spelling of a C type such as `const size_t *` or `ae_model **`.
fn rust_type(c_type: &str) -> String {
    let stars = c_type.matches('*').count();
    let words: Vec<&str> = identifiers(c_type);
    let is_const = words.first() == Some(&"const");
    let base: Vec<&str> = words.into_iter().filter(|w| *w != "const").collect();
    let base = match base.join(" ").as_str() {
        "void" => "c_void".to_string(),
        "int" => "c_int".to_string(),
        "unsigned" | "unsigned int" => "c_uint".to_string(),
        "char" => "c_char".to_string(),
        "size_t" => "usize".to_string(),
        "float" => "f32".to_string(),
        "double" => "f64".to_string(),
        "uint8_t" => "u8".to_string(),
        "int32_t" => "i32".to_string(),
        "uint32_t" => "u32".to_string(),
        "uint64_t" => "u64".to_string(),
        name if name.starts_with("ae_") => name.to_string(),
        other => panic!("the ABI check does not know the C type `{other}`: teach rust_type()"),
    };
    let mut out = String::new();
    for level in 0..stars {
        // `const T *`: only the innermost pointer points to const.
        out.push_str(if level + 1 == stars && is_const {
            "*const "
        } else {
            "*mut "
        });
    }
    out.push_str(&base);
    out
}

/// `(params)` and a return type in C to `fn(types) -> ret` in Rust.
fn rust_signature(params: &str, ret: &str) -> String {
    let params = params.trim();
    let mut types = Vec::new();
    if params != "void" && !params.is_empty() {
        for param in params.split(',') {
            let param = param.trim();
            // Drop the parameter's name: the last identifier.
            let name_start = param
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(0, |i| i + 1);
            types.push(rust_type(&param[..name_start]));
        }
    }
    let ret = ret.trim();
    let ret = if ret == "void" {
        String::new()
    } else {
        format!(" -> {}", rust_type(ret))
    };
    format!("fn({}){}", types.join(", "), ret)
}

fn parse_header() -> Header {
    let code = header_code();
    let mut constants = Vec::new();
    let mut body = String::new();
    for line in code.lines() {
        let trimmed = line.trim_start();
        if let Some(define) = trimmed.strip_prefix("#") {
            // `#define AE_NAME <number or parenthesised expression>`; not AE_API.
            let mut words = define.split_whitespace();
            if let (Some("define"), Some(name), Some(value)) = (words.next(), words.next(), words.next()) {
                let numeric = value.starts_with(|c: char| c.is_ascii_digit() || c == '(');
                if name.starts_with("AE_") && numeric {
                    constants.push(name.to_string());
                }
            }
            continue;
        }
        body.push_str(line);
        body.push('\n');
    }
    let code = body.split_whitespace().collect::<Vec<_>>().join(" ");

    let mut enums = Vec::new();
    let mut structs = Vec::new();
    let mut callbacks = BTreeMap::new();
    let mut at = 0;
    while let Some(found) = code[at..].find("typedef ") {
        let start = at + found;
        let rest = &code[start..];
        if rest.starts_with("typedef enum ") || rest.starts_with("typedef struct ") {
            let open = match code[start..].find(['{', ';']) {
                Some(i) if code.as_bytes()[start + i] == b'{' => start + i,
                // `typedef struct ae_model ae_model;`: opaque.
                _ => {
                    at = start + 8;
                    continue;
                }
            };
            let (inside, after) = braced(&code, open);
            let end = after + code[after..].find(';').unwrap();
            let name = identifiers(&code[after..end]).last().unwrap().to_string();
            if rest.starts_with("typedef enum ") {
                for item in inside.split(',') {
                    if let Some(id) = identifiers(item).first() {
                        constants.push(id.to_string());
                    }
                }
                enums.push(name);
            } else {
                let mut fields = Vec::new();
                for decl in inside.split(';').map(str::trim).filter(|d| !d.is_empty()) {
                    let field = match decl.find("(*") {
                        Some(p) => {
                            // A function pointer: `RET (*name)(PARAMS)`.
                            let field = identifiers(&decl[p..])[0];
                            let params = &decl[p..];
                            let params = &params[params.find(')').unwrap() + 1..];
                            let params = &params[params.find('(').unwrap() + 1..params.rfind(')').unwrap()];
                            let sig = rust_signature(params, &decl[..p]);
                            callbacks.insert(format!("{name}.{field}"), format!("Option<unsafe extern \"C\" {sig}>"));
                            field
                        }
                        None => *identifiers(decl).last().unwrap(),
                    };
                    fields.push(field.to_string());
                }
                structs.push((name, fields));
            }
            at = end;
        } else {
            at = start + 8;
        }
    }

    // typedef RET (*NAME)(PARAMS);
    for piece in code.split(';') {
        let piece = piece.trim();
        if let Some(rest) = piece.strip_prefix("typedef ") {
            if let (Some(open), false) = (rest.find("(*"), rest.starts_with("enum") || rest.starts_with("struct")) {
                let ret = &rest[..open];
                let close = open + rest[open..].find(')').unwrap();
                let name = rest[open + 2..close].trim().to_string();
                let params = &rest[close + 1..];
                let params = &params[params.find('(').unwrap() + 1..params.rfind(')').unwrap()];
                let sig = rust_signature(params, ret);
                callbacks.insert(name, format!("Option<unsafe extern \"C\" {sig}>"));
            }
        }
    }

    // AE_API RET NAME(PARAMS);
    let mut functions = BTreeMap::new();
    for piece in code.split(';') {
        if let Some(at) = piece.find("AE_API ") {
            let decl = &piece[at + 7..];
            let open = decl.find('(').unwrap();
            let head = &decl[..open];
            let name_start = head.rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap() + 1;
            let name = head[name_start..].to_string();
            let params = &decl[open + 1..decl.rfind(')').unwrap()];
            functions.insert(name, rust_signature(params, &head[..name_start]));
        }
    }
    Header {
        constants,
        enums,
        structs,
        functions,
        callbacks,
    }
}

// ------------------------------------------------------------------ reading src/lib.rs

fn rust_source() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs");
    let text = std::fs::read_to_string(path).unwrap();
    // Drop comments (line comments and doc comments: lib.rs has no block comments).
    text.lines()
        .map(|line| match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `pub fn name(a: T, b: U) -> R;` in the extern block, as `fn(T, U) -> R`.
fn rust_functions(source: &str) -> BTreeMap<String, String> {
    let flat = source.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = BTreeMap::new();
    for piece in flat.split(';') {
        if let Some(at) = piece.find("pub fn ") {
            let decl = &piece[at + 7..];
            let open = decl.find('(').unwrap();
            let name = decl[..open].trim().to_string();
            let close = decl.rfind(')').unwrap();
            let types: Vec<String> = decl[open + 1..close]
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| p[p.find(':').unwrap() + 1..].trim().to_string())
                .collect();
            let ret = decl[close + 1..].trim();
            let ret = if ret.is_empty() {
                String::new()
            } else {
                format!(" {ret}")
            };
            out.insert(name, format!("fn({}){}", types.join(", "), ret));
        }
    }
    out
}

/// `Option<unsafe extern "C" fn(a: T) -> R>` without the parameter names, or
/// `None` for a type that is not a callback.
fn callback_type(value: &str) -> Option<String> {
    let inner = value.trim().strip_prefix("Option<")?.strip_suffix('>')?;
    // rustfmt may break a long type as `Option< ... ,>`.
    let inner = inner.trim().trim_end_matches(',').trim();
    let open = inner.find("fn(")? + 3;
    let close = open + inner[open..].find(')')?;
    let types: Vec<String> = inner[open..close]
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| p[p.find(':').unwrap() + 1..].trim().to_string())
        .collect();
    let ret = inner[close + 1..].trim();
    let ret = if ret.is_empty() {
        String::new()
    } else {
        format!(" {ret}")
    };
    Some(format!("Option<{}({}){}>", &inner[..open - 1], types.join(", "), ret))
}

/// Callback types: `pub type name = Option<...>;` as `name`, and callback
/// fields of structs as `struct.field`.
fn rust_callbacks(source: &str) -> BTreeMap<String, String> {
    let flat = source.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = BTreeMap::new();
    for piece in flat.split(';') {
        if let Some(at) = piece.find("pub type ") {
            let decl = &piece[at + 9..];
            let eq = decl.find('=').unwrap();
            if let Some(ty) = callback_type(&decl[eq + 1..]) {
                out.insert(decl[..eq].trim().to_string(), ty);
            }
        }
    }
    let mut at = 0;
    while let Some(found) = flat[at..].find("pub struct ") {
        let start = at + found + 11;
        let name = identifiers(&flat[start..])[0].to_string();
        at = start;
        let open = match flat[start..].find(['{', ';']) {
            Some(i) if flat.as_bytes()[start + i] == b'{' => start + i,
            _ => continue,
        };
        let (body, _) = braced(&flat, open);
        // Split at commas outside <...> and (...); `->` is no bracket.
        let body = body.replace("->", "~~");
        let mut depth = 0i32;
        let mut field = String::new();
        for c in body.chars().chain(std::iter::once(',')) {
            match c {
                '<' | '(' => depth += 1,
                '>' | ')' => depth -= 1,
                _ => {}
            }
            if c == ',' && depth == 0 {
                let decl = field.trim().replace("~~", "->");
                if let Some(rest) = decl.strip_prefix("pub ") {
                    let colon = rest.find(':').unwrap();
                    if let Some(ty) = callback_type(&rest[colon + 1..]) {
                        out.insert(format!("{name}.{}", rest[..colon].trim()), ty);
                    }
                }
                field.clear();
            } else {
                field.push(c);
            }
        }
    }
    out
}

fn rust_constant_names(source: &str) -> BTreeSet<String> {
    source
        .lines()
        .filter_map(|line| line.trim().strip_prefix("pub const "))
        .filter(|rest| !rest.starts_with("fn "))
        .map(|rest| rest[..rest.find(':').unwrap()].trim().to_string())
        .collect()
}

// ------------------------------------------------------------------ the C side

/// A folder of this process's own, removed when dropped, also when a check panics.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

fn c_values(header: &Header) -> BTreeMap<String, String> {
    let dir = TempDir::new("autoenc-sys-abi");
    let dir = &dir.0;
    let mut program =
        String::from("#include <autoenc.h>\n#include <stddef.h>\n#include <stdio.h>\n\nint main(void)\n{\n");
    for name in &header.constants {
        program.push_str(&format!("    printf(\"const {name} %lld\\n\", (long long)({name}));\n"));
    }
    for name in &header.enums {
        program.push_str(&format!(
            "    printf(\"enum {name} %zu %d\\n\", sizeof({name}), (int)(({name})-1 < 0));\n"
        ));
    }
    for (name, fields) in &header.structs {
        program.push_str(&format!(
            "    printf(\"struct {name} %zu %zu\\n\", sizeof({name}), _Alignof({name}));\n"
        ));
        for field in fields {
            program.push_str(&format!(
                "    printf(\"field {name}.{field} %zu %zu\\n\", offsetof({name}, {field}), \
                 sizeof(((const {name} *)0)->{field}));\n"
            ));
        }
    }
    // Take every function's address, so that the program links each symbol.
    program.push_str("    const void *volatile fns[] = {\n");
    for name in header.functions.keys() {
        program.push_str(&format!("        (const void *)(size_t){name},\n"));
    }
    program.push_str("    };\n    printf(\"count functions %zu\\n\", sizeof fns / sizeof fns[0]);\n");
    program.push_str("    return 0;\n}\n");
    let source = dir.join("abi_values.c");
    std::fs::write(&source, program).unwrap();

    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let exe = dir.join("abi_values");
    let lib_dir = env!("AUTOENC_SYS_LIB_DIR");
    let output = Command::new(&cc)
        .arg("-std=c11")
        .arg("-I")
        .arg(include_dir())
        .arg(&source)
        .arg("-o")
        .arg(&exe)
        .arg(format!("-L{lib_dir}"))
        .arg(format!("-Wl,-rpath,{lib_dir}"))
        .arg("-lautoenc")
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}` (set CC): {e}"));
    assert!(
        output.status.success(),
        "compiling the ABI program failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = Command::new(&exe).output().unwrap();
    assert!(output.status.success());
    let mut values = BTreeMap::new();
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        let mut words = line.splitn(3, ' ');
        let kind = words.next().unwrap();
        let name = words.next().unwrap();
        let rest = words.next().unwrap_or("");
        values.insert(format!("{kind} {name}"), rest.to_string());
    }
    values
}

// ------------------------------------------------------------------ the checks

#[test]
fn constants_enums_and_structs_match_the_header() {
    let header = parse_header();
    let c = c_values(&header);
    let mut errors = Vec::new();

    let rust: BTreeMap<&str, i64> = CONSTANTS.iter().copied().collect();
    for name in &header.constants {
        let c_value = &c[&format!("const {name}")];
        match rust.get(name.as_str()) {
            None => errors.push(format!("{name} = {c_value} is not declared in Rust")),
            Some(v) if v.to_string() != *c_value => errors.push(format!("{name}: C says {c_value}, Rust says {v}")),
            _ => {}
        }
    }
    for name in rust.keys() {
        if !header.constants.iter().any(|c| c == name) {
            errors.push(format!("{name} is declared in Rust but not in the header"));
        }
    }
    for name in rust_constant_names(&rust_source()) {
        if !rust.contains_key(name.as_str()) {
            errors.push(format!("{name} of src/lib.rs is missing from this test's list"));
        }
    }

    for name in &header.enums {
        let c_value = &c[&format!("enum {name}")];
        match ENUM_TYPES.iter().find(|e| e.0 == name) {
            None => errors.push(format!("enum type {name} is not declared in Rust")),
            Some((_, size, signed)) => {
                let rust_value = format!("{size} {}", *signed as i32);
                if rust_value != *c_value {
                    errors.push(format!(
                        "enum {name} (size, signed): C says {c_value}, Rust says {rust_value}"
                    ));
                }
            }
        }
    }
    if ENUM_TYPES.len() != header.enums.len() {
        errors.push(format!(
            "Rust declares {} enum types, the header {}",
            ENUM_TYPES.len(),
            header.enums.len()
        ));
    }

    let layouts = struct_layouts();
    for (name, fields) in &header.structs {
        let layout = match layouts.iter().find(|l| l.0 == name) {
            Some(layout) => layout,
            None => {
                errors.push(format!("struct {name} is not declared in Rust"));
                continue;
            }
        };
        let c_value = &c[&format!("struct {name}")];
        let rust_value = format!("{} {}", layout.1, layout.2);
        if rust_value != *c_value {
            errors.push(format!("struct {name} (size, align): C {c_value}, Rust {rust_value}"));
        }
        let rust_fields: Vec<&str> = layout.3.iter().map(|f| f.0).collect();
        if rust_fields != *fields {
            errors.push(format!("struct {name} fields: C {fields:?}, Rust {rust_fields:?}"));
        }
        for (field, offset, size) in &layout.3 {
            let key = format!("field {name}.{field}");
            let rust_value = format!("{offset} {size}");
            match c.get(&key) {
                Some(c_value) if *c_value == rust_value => {}
                other => errors.push(format!("{key} (offset, size): C {other:?}, Rust {rust_value}")),
            }
        }
    }
    if layouts.len() != header.structs.len() {
        errors.push(format!(
            "Rust declares {} structs, the header {}",
            layouts.len(),
            header.structs.len()
        ));
    }
    assert_eq!(c["count functions"], header.functions.len().to_string());
    assert!(
        errors.is_empty(),
        "the Rust declarations drifted:\n  {}",
        errors.join("\n  ")
    );
}

#[test]
fn every_function_has_the_header_signature() {
    let header = parse_header();
    let source = rust_source();
    let rust = rust_functions(&source);
    let mut errors = Vec::new();
    for (name, signature) in &header.functions {
        match rust.get(name) {
            None => errors.push(format!("{name} is not declared: `{signature}`")),
            Some(rust_sig) if rust_sig != signature => {
                errors.push(format!("{name}: header `{signature}`, Rust `{rust_sig}`"))
            }
            _ => {}
        }
    }
    for name in rust.keys() {
        if !header.functions.contains_key(name) {
            errors.push(format!("{name} is declared in Rust but not in the header"));
        }
    }
    let linked: BTreeSet<&str> = function_addresses().iter().map(|f| f.0).collect();
    assert!(function_addresses().iter().all(|f| f.1 != 0));
    for name in rust.keys() {
        if !linked.contains(name.as_str()) {
            errors.push(format!("{name} is missing from this test's list of addresses"));
        }
    }
    let callbacks = rust_callbacks(&source);
    for (name, signature) in &header.callbacks {
        match callbacks.get(name) {
            Some(rust_sig) if rust_sig == signature => {}
            other => errors.push(format!("callback {name}: header `{signature}`, Rust `{other:?}`")),
        }
    }
    for name in callbacks.keys() {
        if !header.callbacks.contains_key(name) {
            errors.push(format!("callback {name} is declared in Rust but not in the header"));
        }
    }
    assert!(
        errors.is_empty(),
        "the Rust declarations drifted:\n  {}",
        errors.join("\n  ")
    );
}

#[test]
fn every_exported_symbol_is_declared() {
    let path = source_root().join("tests/abi/exported-symbols.txt");
    let list = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let declared: BTreeSet<&str> = function_addresses().iter().map(|f| f.0).collect();
    let missing: Vec<&str> = list
        .lines()
        .map(str::trim)
        .filter(|name| !name.is_empty() && !declared.contains(name))
        .collect();
    assert!(missing.is_empty(), "exported but not declared in Rust: {missing:?}");
}

#[test]
fn the_linked_library_is_the_header_version() {
    let version = unsafe { ae_version_number() };
    assert_eq!(
        version / 100,
        AE_VERSION_NUMBER / 100,
        "library {version}, header {AE_VERSION_NUMBER}"
    );
    let text = unsafe { std::ffi::CStr::from_ptr(ae_version_string()) };
    assert!(text.to_str().unwrap().starts_with(&format!("{AE_VERSION_MAJOR}.")));
    assert_eq!(unsafe { ae_max_layers() }, AE_MAX_LAYERS);
    assert_eq!(unsafe { ae_max_layer_width() }, AE_MAX_LAYER_WIDTH);
}
