//! Architecture invariant: the domain crate performs no IO — nothing in its dependency tree is a
//! database driver, an HTTP stack or an async runtime.

use std::process::Command;

#[test]
fn the_core_depends_on_no_io_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["tree", "-p", "otklik-core", "-e", "normal", "--prefix", "none", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8_lossy(&out.stdout);
    let crates: Vec<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(crates.contains(&"otklik-core") && crates.contains(&"serde"), "unexpected tree: {tree}");
    for forbidden in
        ["sqlx", "sqlx-core", "axum", "hyper", "tokio", "reqwest", "tower", "mio", "otklik-store", "otklik-server"]
    {
        assert!(!crates.contains(&forbidden), "otklik-core depends on {forbidden}");
    }
}
