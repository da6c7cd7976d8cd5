//! Link settings of the fuzz targets.
//!
//! libyara 4.5.5 (src/yara/libyara/strutils.c) defines its own `memmem`,
//! and libFuzzer's interceptors (FuzzerInterceptors.cpp, built by
//! libfuzzer-sys 0.4) define another, so the link fails with a duplicate
//! symbol. Allowing multiple definitions keeps the first in link order,
//! which is libyara's and behaves as libc's. libFuzzer then only loses the
//! comparison hints it would have taken from `memmem` calls.
fn main() {
    println!("cargo:rustc-link-arg-bins=-Wl,--allow-multiple-definition");
}
