//! Finds libautoenc and links it dynamically; nothing is compiled here.
//!
//! In this order:
//! 1. `AUTOENC_LIB_DIR`: the folder holding `libautoenc.so`, e.g. a CMake build
//!    tree's `src/` folder. The test, example and binary targets of this package
//!    get an rpath to it, and dependents can add the same one from
//!    `DEP_AUTOENC_RPATH` (the `autoenc` crate does). The header is looked for in
//!    `AUTOENC_INCLUDE_DIR`, else next to the library (`../include`), else in the
//!    source tree this crate sits in.
//! 2. `pkg-config autoenc` (the program named by `PKG_CONFIG`, else `pkg-config`),
//!    which finds an installed prefix (`PKG_CONFIG_PATH` for a prefix of your own).
//!    A library outside the system's folders gets an rpath as in 1.
//!
//! Metadata for dependents (`links = "autoenc"`): `DEP_AUTOENC_LIB_DIR`,
//! `DEP_AUTOENC_INCLUDE` (when the header was found) and `DEP_AUTOENC_RPATH`
//! (when an rpath is wanted).
use std::env;
use std::path::{Path, PathBuf};
use std::process::{self, Command};

/// The oldest library these declarations may be linked against.
const MIN_VERSION: (u32, u32) = (0, 3);

struct Found {
    lib_dir: PathBuf,
    include_dir: Option<PathBuf>,
    rpath: bool,
}

fn main() {
    for var in [
        "AUTOENC_LIB_DIR",
        "AUTOENC_INCLUDE_DIR",
        "PKG_CONFIG",
        "PKG_CONFIG_PATH",
        "PKG_CONFIG_LIBDIR",
        "PKG_CONFIG_SYSROOT_DIR",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=build.rs");

    let found = match env::var_os("AUTOENC_LIB_DIR") {
        Some(dir) if !dir.is_empty() => from_lib_dir(Path::new(&dir)),
        _ => from_pkg_config(),
    };

    let lib_dir = found.lib_dir.display().to_string();
    println!("cargo:rustc-link-search=native={lib_dir}");
    println!("cargo:rustc-link-lib=dylib=autoenc");
    println!("cargo:lib_dir={lib_dir}");
    // For this package's own tests (the ABI check compiles a C program).
    println!("cargo:rustc-env=AUTOENC_SYS_LIB_DIR={lib_dir}");
    if found.rpath && env::var("CARGO_CFG_TARGET_FAMILY").as_deref() == Ok("unix") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
        println!("cargo:rpath={lib_dir}");
    }
    if let Some(include_dir) = &found.include_dir {
        let include_dir = include_dir.display();
        println!("cargo:include={include_dir}");
        println!("cargo:rustc-env=AUTOENC_SYS_INCLUDE_DIR={include_dir}");
        println!("cargo:rerun-if-changed={include_dir}/autoenc.h");
    }
}

fn fail(message: &str) -> ! {
    eprintln!("\nautoenc-sys: {message}\n");
    for line in [
        "autoenc-sys links libautoenc dynamically and finds it in one of two ways:",
        "- an installed library: `pkg-config autoenc` must succeed (install libautoenc-dev, or",
        "  set PKG_CONFIG_PATH to <prefix>/lib/pkgconfig of the prefix you installed into);",
        "- a build tree: set AUTOENC_LIB_DIR to the folder holding libautoenc.so (a CMake",
        "  build's src/ folder, e.g. AUTOENC_LIB_DIR=$PWD/build/src) and, if the header is",
        "  not next to it, AUTOENC_INCLUDE_DIR to the folder holding autoenc.h.",
    ] {
        eprintln!("{line}");
    }
    process::exit(1);
}

fn absolute(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

fn has_library(dir: &Path) -> bool {
    ["libautoenc.so", "libautoenc.dylib", "autoenc.lib", "libautoenc.a"]
        .iter()
        .any(|name| dir.join(name).exists())
}

fn has_header(dir: &Path) -> bool {
    dir.join("autoenc.h").is_file()
}

fn from_lib_dir(dir: &Path) -> Found {
    if !dir.is_dir() {
        fail(&format!("AUTOENC_LIB_DIR={} is not a folder", dir.display()));
    }
    let lib_dir = absolute(dir);
    if !has_library(&lib_dir) {
        fail(&format!(
            "AUTOENC_LIB_DIR={} holds no libautoenc.so (build it first: \
             cmake --build <build> --target autoenc)",
            dir.display()
        ));
    }
    let include_dir = match env::var_os("AUTOENC_INCLUDE_DIR") {
        Some(inc) if !inc.is_empty() => {
            let inc = absolute(Path::new(&inc));
            if !has_header(&inc) {
                fail(&format!("AUTOENC_INCLUDE_DIR={} holds no autoenc.h", inc.display()));
            }
            Some(inc)
        }
        _ => {
            // An installed prefix (lib/ next to include/), else the source tree
            // holding this crate (bindings/rust/autoenc-sys -> include/).
            let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
            [lib_dir.join("../include"), manifest.join("../../../include")]
                .iter()
                .map(|p| absolute(p))
                .find(|p| has_header(p))
        }
    };
    Found {
        lib_dir,
        include_dir,
        rpath: true,
    }
}

fn pkg_config(program: &str, args: &[&str]) -> Result<String, String> {
    let output = Command::new(program)
        .args(args)
        .arg("autoenc")
        .output()
        .map_err(|e| format!("could not run `{program}`: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!(
            "`{program} {} autoenc` failed: {}",
            args.join(" "),
            stderr.trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

fn parse_version(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.split('.');
    let major = parts.next()?.trim().parse().ok()?;
    let minor = parts.next()?.trim().parse().ok()?;
    Some((major, minor))
}

fn is_system_dir(dir: &Path) -> bool {
    let system = ["/lib", "/lib64", "/usr/lib", "/usr/lib64"];
    system.iter().any(|s| dir == Path::new(s))
        || dir.parent().map_or(false, |parent| {
            parent == Path::new("/lib") || parent == Path::new("/usr/lib")
        })
}

fn from_pkg_config() -> Found {
    let program = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_string());
    let version = pkg_config(&program, &["--modversion"])
        .unwrap_or_else(|e| fail(&format!("libautoenc was not found: AUTOENC_LIB_DIR is not set and {e}")));
    match parse_version(&version) {
        Some((major, minor)) if major == MIN_VERSION.0 && minor >= MIN_VERSION.1 => {}
        _ => fail(&format!(
            "pkg-config found libautoenc {version}; these declarations need {}.{} or a later {}.x",
            MIN_VERSION.0, MIN_VERSION.1, MIN_VERSION.0
        )),
    }
    let lib_dir = pkg_config(&program, &["--variable=libdir"]).unwrap_or_else(|e| fail(&e));
    let include_dir = pkg_config(&program, &["--variable=includedir"]).unwrap_or_else(|e| fail(&e));
    let lib_dir = absolute(Path::new(&lib_dir));
    if !has_library(&lib_dir) {
        fail(&format!(
            "pkg-config names {} as libautoenc's folder, but it holds no libautoenc.so",
            lib_dir.display()
        ));
    }
    let include_dir = absolute(Path::new(&include_dir));
    Found {
        rpath: !is_system_dir(&lib_dir),
        include_dir: if has_header(&include_dir) {
            Some(include_dir)
        } else {
            None
        },
        lib_dir,
    }
}
