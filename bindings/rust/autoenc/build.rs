//! Gives this crate's tests, examples and doctests the rpath to libautoenc that
//! autoenc-sys chose (a build tree, or a prefix outside the system's folders).
//! Link arguments apply only to the package that prints them, hence this script.
use std::env;

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_AUTOENC_RPATH");
    if let Ok(dir) = env::var("DEP_AUTOENC_RPATH") {
        if env::var("CARGO_CFG_TARGET_FAMILY").as_deref() == Ok("unix") {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        }
    }
    // For the tests that compile C programs against the same library.
    for (from, to) in [
        ("DEP_AUTOENC_LIB_DIR", "AUTOENC_TEST_LIB_DIR"),
        ("DEP_AUTOENC_INCLUDE", "AUTOENC_TEST_INCLUDE_DIR"),
    ] {
        println!("cargo:rerun-if-env-changed={from}");
        if let Ok(value) = env::var(from) {
            println!("cargo:rustc-env={to}={value}");
        }
    }
}
