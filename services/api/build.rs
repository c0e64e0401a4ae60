//! Embeds the studio web app (`studio/`, written by hand, no build step) in the crate: writes
//! `$OUT_DIR/studio_files.rs`, a table of `(name, include_bytes!(…))` for every file under
//! `studio/` (hidden files, the node unit tests in `test/` and the npm pins of the vendored
//! library left out), so adding an asset needs no code change.

use std::path::{Path, PathBuf};

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let top = dir == root;
        if name.starts_with('.')
            || name == "node_modules"
            || (top && matches!(name.as_str(), "test" | "package.json" | "package-lock.json"))
        {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push((rel, path));
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    let root = manifest.join("studio");
    println!("cargo:rerun-if-changed=studio");
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    files.sort();
    let mut code = String::from("/// The studio's files: (path under `studio/`, contents).\npub(super) const FILES: &[(&str, &[u8])] = &[\n");
    for (name, path) in files {
        code.push_str(&format!(
            "    ({name:?}, include_bytes!({:?})),\n",
            path.display().to_string()
        ));
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into())).join("studio_files.rs");
    if let Err(e) = std::fs::write(&out, code) {
        panic!("cannot write {}: {e}", out.display());
    }
}
