//! Rebuilds the crate when embedded rules or migrations change: the
//! `include_dir!` macro cannot tell cargo which files it read.

fn main() {
    println!("cargo:rerun-if-changed=signatures");
    println!("cargo:rerun-if-changed=migrations");
}
