//! Compiles `pause/pause.rs` into a static binary that `pause.rs` embeds in the pause image.
use std::{env, path::PathBuf, process::Command};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    println!("cargo:rerun-if-changed=pause/pause.rs");
    let status = Command::new(rustc)
        .args([
            "--edition",
            "2024",
            "-O",
            "-C",
            "target-feature=+crt-static",
            "-C",
            "panic=abort",
        ])
        .args([
            "-C",
            "strip=symbols",
            "--crate-type",
            "bin",
            "pause/pause.rs",
            "-o",
        ])
        .arg(out.join("pause"))
        .status()
        .expect("run rustc for the pause binary");
    assert!(status.success(), "building the pause binary failed");
}
