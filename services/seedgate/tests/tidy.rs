//! Tidy checks that keep ARCHITECTURE.md true, run by every `cargo test`: module headers,
//! file sizes, which crate may depend on which, which crate may use the IO stack, and how many
//! `Result<_, String>` are left. Each check names the files or crates that break it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Longest a `.rs` file under a `src/` folder may be.
const MAX_LINES: usize = 700;

/// Most `Result<_, String>` the tree may hold (issue 12: each left one has a reason).
const MAX_STRING_ERRORS: usize = 8;

/// The layers of the workspace, lowest first. A crate's `[dependencies]` (and build
/// dependencies) may name only workspace crates of a LOWER layer, so edges point one way
/// (`seedgate` → services → `runtime` → `proto`) and services never depend on each other.
/// Cores are the pure libraries (no IO stack) that services and tools share.
/// Dev-dependencies are not held to this: tests may wire a real neighbour (the flow runner's
/// tests run against a SQLite `seedgate-store`), and nothing of a test ships.
const LAYERS: &[(&str, &[&str])] = &[
    ("proto", &["seedgate-proto"]),
    ("cores", &["seedgate-flowlang"]),
    ("runtime", &["seedgate-runtime"]),
    (
        "services",
        &[
            "seedgate-store",
            "seedgate-sessions",
            "seedgate-flows",
            "seedgate-http-channels",
            "seedgate-smpp",
            "seedgate-api",
        ],
    ),
    ("binaries", &["seedgate", "seedgate-loadtests"]),
];

/// External crates only some workspace crates may name in `[dependencies]` (ARCHITECTURE.md's
/// absences; `deny.toml`'s `wrappers` say the same for `cargo deny`).
const ONLY_IN: &[(&str, &[&str])] = &[
    ("lapin", &["seedgate-runtime"]),
    ("redis", &["seedgate-runtime"]),
    ("sqlx", &["seedgate-store"]),
    ("anyhow", &["seedgate", "seedgate-loadtests"]),
    ("clap", &["seedgate", "seedgate-loadtests"]),
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

fn relative(path: &Path) -> String {
    path.strip_prefix(repo_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Every file of the repository, sorted; build output (`target/`, `node_modules/`) and hidden
/// folders left out.
fn all_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read dir") {
            let path = entry.expect("dir entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if !path.is_dir() {
                out.push(path);
            } else if !matches!(name, "target" | "node_modules") && !name.starts_with('.') {
                walk(&path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&repo_root(), &mut out);
    out.sort();
    out
}

/// Every `.rs` file of the repository.
fn rust_files() -> Vec<PathBuf> {
    let out: Vec<_> = all_files()
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    assert!(
        out.len() > 50,
        "the walk found only {} .rs files: wrong root?",
        out.len()
    );
    out
}

/// The `.rs` files inside a `src/` folder: the code that ships.
fn source_files() -> Vec<PathBuf> {
    rust_files()
        .into_iter()
        .filter(|p| p.components().any(|c| c.as_os_str() == "src"))
        .collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn report(what: &str, offenders: &[String]) {
    assert!(
        offenders.is_empty(),
        "{what} ({}):\n  {}\n",
        offenders.len(),
        offenders.join("\n  ")
    );
}

#[test]
fn every_source_file_starts_with_a_module_doc() {
    let mut offenders = Vec::new();
    for path in source_files() {
        let text = read(&path);
        // Inner attributes and plain comments may come first; the first other line is the doc.
        let first = text.lines().map(str::trim).find(|l| {
            !(l.is_empty() || l.starts_with("#![") || (l.starts_with("//") && !l.starts_with("//!")))
        });
        if !first.is_some_and(|l| l.starts_with("//!")) {
            offenders.push(relative(&path));
        }
    }
    report(
        "source files without a `//!` line saying what the module is for",
        &offenders,
    );
}

#[test]
fn no_source_file_is_over_700_lines() {
    let mut offenders: Vec<String> = source_files()
        .into_iter()
        .filter_map(|path| {
            let lines = read(&path).lines().count();
            (lines > MAX_LINES).then(|| format!("{}: {lines} lines", relative(&path)))
        })
        .collect();
    offenders.sort();
    report(
        &format!("source files over {MAX_LINES} lines (split them by concern)"),
        &offenders,
    );
}

/// A line without its string literals and its comment (good enough for one-line literals).
fn code_of(line: &str) -> String {
    let (mut code, mut in_string, mut chars) = (String::new(), false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match c {
            '\\' if in_string => {
                chars.next();
            }
            '"' => in_string = !in_string,
            '\'' if !in_string && chars.peek() == Some(&'"') => {
                chars.next(); // the char literal '"'
            }
            '/' if !in_string && chars.peek() == Some(&'/') => break,
            _ if !in_string => code.push(c),
            _ => {}
        }
    }
    code
}

/// Where `Result<…, String>` is written: positions of `Result<` whose last of two generic
/// arguments is `String`, outside comments.
fn string_errors(text: &str) -> Vec<usize> {
    let mut lines = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = code_of(line);
        let mut rest = code.as_str();
        while let Some(at) = rest.find("Result<") {
            let before = rest[..at].chars().next_back();
            let after = &rest[at + "Result<".len()..];
            rest = after;
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let (mut depth, mut args, mut current) = (1usize, Vec::new(), String::new());
            for c in after.chars() {
                match c {
                    '<' | '(' | '[' => depth += 1,
                    '>' | ')' | ']' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
                if depth == 1 && c == ',' {
                    args.push(std::mem::take(&mut current));
                } else {
                    current.push(c);
                }
            }
            args.push(current);
            if args.len() == 2 && matches!(args[1].trim(), "String" | "std::string::String") {
                lines.push(n + 1);
            }
        }
    }
    lines
}

#[test]
fn string_errors_are_counted() {
    assert_eq!(string_errors("fn f() -> Result<(), String> {"), vec![1]);
    assert_eq!(
        string_errors("fn f() -> Result<Vec<(u8, u16)>, String>;"),
        vec![1]
    );
    assert!(string_errors("fn f() -> io::Result<String> {}\ntype R = Result<u8, Error>;").is_empty());
    assert!(string_errors("// fn f() -> Result<(), String>\nMyResult<u8, String>").is_empty());
    assert!(string_errors("let s = \"Result<(), String>\"; // Result<(), String>").is_empty());
    assert_eq!(
        string_errors("let q = '\"'; fn f() -> Result<(), String>"),
        vec![1]
    );
}

#[test]
fn at_most_8_result_string_are_left() {
    let mut offenders = Vec::new();
    for path in rust_files() {
        for line in string_errors(&read(&path)) {
            offenders.push(format!("{}:{line}", relative(&path)));
        }
    }
    assert!(
        offenders.len() <= MAX_STRING_ERRORS,
        "{} `Result<_, String>` in the tree, at most {MAX_STRING_ERRORS} may stay (use a typed \
         error, thiserror in libraries):\n  {}\n",
        offenders.len(),
        offenders.join("\n  ")
    );
}

#[derive(Debug)]
struct Dependency {
    name: String,
    /// `None` for `[dependencies]`, `Some("dev")`, `Some("build")`.
    kind: Option<String>,
}

/// The workspace's crates and what each Cargo.toml declares, from `cargo metadata --no-deps`.
fn workspace() -> BTreeMap<String, Vec<Dependency>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(repo_root())
        .output()
        .expect("run cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).expect("metadata JSON");
    let mut crates = BTreeMap::new();
    for package in metadata["packages"].as_array().expect("packages") {
        let dependencies = package["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .map(|d| Dependency {
                name: d["name"].as_str().expect("name").to_owned(),
                kind: d["kind"].as_str().map(str::to_owned),
            })
            .collect();
        crates.insert(package["name"].as_str().expect("name").to_owned(), dependencies);
    }
    crates
}

fn layer_of(name: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, crates)| crates.contains(&name))
}

#[test]
fn workspace_dependencies_point_one_way() {
    let crates = workspace();
    assert!(
        crates.contains_key("seedgate-proto"),
        "cargo metadata listed {:?}",
        crates.keys()
    );
    let mut offenders = Vec::new();
    for (name, dependencies) in &crates {
        let Some(layer) = layer_of(name) else {
            offenders.push(format!(
                "{name}: a crate in no layer; add it to LAYERS in {} and to ARCHITECTURE.md's codemap",
                file!()
            ));
            continue;
        };
        for dependency in dependencies {
            if dependency.kind.as_deref() == Some("dev") || !crates.contains_key(&dependency.name) {
                continue;
            }
            match layer_of(&dependency.name) {
                Some(below) if below < layer => {}
                Some(other) => offenders.push(format!(
                    "{name} ({}) depends on {} ({}) in [dependencies]",
                    LAYERS[layer].0, dependency.name, LAYERS[other].0,
                )),
                None => {} // reported above as a crate in no layer
            }
        }
    }
    let order = LAYERS
        .iter()
        .rev()
        .map(|(layer, _)| *layer)
        .collect::<Vec<_>>()
        .join(" → ");
    report(
        &format!("workspace dependencies must point down ({order}); services never depend on each other"),
        &offenders,
    );
}

#[test]
fn only_runtime_uses_the_broker_and_session_store_clients_and_only_store_uses_sqlx() {
    let crates = workspace();
    let mut offenders = Vec::new();
    for (name, dependencies) in &crates {
        for dependency in dependencies.iter().filter(|d| d.kind.as_deref() != Some("dev")) {
            if let Some((_, allowed)) = ONLY_IN.iter().find(|(dep, _)| *dep == dependency.name) {
                if !allowed.contains(&name.as_str()) {
                    offenders.push(format!(
                        "{name} depends on {} (only {} may; go through its API)",
                        dependency.name,
                        allowed.join(", ")
                    ));
                }
            }
        }
    }
    report("crates using a dependency reserved to another crate", &offenders);
}

/// The folders and files the codemap of ARCHITECTURE.md names (its first code block: a name
/// at the start of a line, two spaces of indent per level, a description after it).
fn codemap_paths(architecture: &str) -> Vec<String> {
    let block = architecture
        .split("## Codemap")
        .nth(1)
        .and_then(|rest| rest.split("```").nth(1));
    let mut stack: Vec<String> = Vec::new();
    let mut paths = Vec::new();
    for line in block.expect("a ``` block under ## Codemap").lines() {
        let indent = line.len() - line.trim_start().len();
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        // Continuation lines of a description are indented to the description's column.
        if indent % 2 != 0 || indent > 2 * stack.len() || !(name.ends_with('/') || name.contains('.')) {
            continue;
        }
        stack.truncate(indent / 2);
        let path = format!("{}{name}", stack.concat());
        if name.ends_with('/') {
            stack.push(name.to_owned());
        }
        paths.push(path.trim_end_matches('/').to_owned());
    }
    paths
}

#[test]
fn architecture_md_names_files_tests_and_metrics_that_exist() {
    let root = repo_root();
    let architecture = read(&root.join("ARCHITECTURE.md"));
    let files: Vec<String> = all_files().iter().map(|p| relative(p)).collect();
    let sources: Vec<(String, String)> = rust_files().iter().map(|p| (relative(p), read(p))).collect();
    let mut offenders = Vec::new();

    let codemap = codemap_paths(&architecture);
    assert!(codemap.len() > 10, "the codemap parser found only {codemap:?}");
    for path in codemap {
        if !root.join(&path).exists() {
            offenders.push(format!("codemap: {path} does not exist"));
        }
    }

    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let names_word = |text: &str, word: &str, prefix: bool| {
        text.match_indices(word).any(|(at, _)| {
            let before = text[..at].chars().next_back();
            let after = text[at + word.len()..].chars().next();
            !before.is_some_and(is_word) && (prefix || !after.is_some_and(is_word))
        })
    };
    for quoted in architecture.split('`').skip(1).step_by(2) {
        if let Some((path, test)) = quoted.split_once("::").filter(|(p, _)| p.ends_with(".rs")) {
            // `path.rs::test_name` (a trailing … abbreviates the name)
            let (name, prefix) = match test.strip_suffix('…') {
                Some(start) => (start, true),
                None => (test, false),
            };
            let found = sources.iter().any(|(file, text)| {
                (file == path || file.ends_with(&format!("/{path}")))
                    && names_word(text, &format!("fn {name}"), prefix)
            });
            if !found {
                offenders.push(format!("`{quoted}`: no such test in a file named {path}"));
            }
        } else if quoted.ends_with(".rs") && !quoted.contains(' ') {
            if !files
                .iter()
                .any(|f| f == quoted || f.ends_with(&format!("/{quoted}")))
            {
                offenders.push(format!("`{quoted}`: no such file"));
            }
        } else if quoted.contains('/')
            && !quoted.starts_with('/')
            && quoted
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-./".contains(c))
        {
            // a path from the root (`.ci/deny`), or a folder anywhere (`esme/`)
            let folder = format!("{}/", quoted.trim_end_matches('/'));
            if !root.join(quoted).exists()
                && !files
                    .iter()
                    .any(|f| f.starts_with(&folder) || f.contains(&format!("/{folder}")))
            {
                offenders.push(format!("`{quoted}`: no such file or folder"));
            }
        } else {
            // Test, metric and key names: snake_case of four words or more, labels left off.
            let name = quoted.split('{').next().unwrap_or_default();
            let snake = name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if snake
                && name.split('_').filter(|w| !w.is_empty()).count() >= 4
                && !sources.iter().any(|(_, text)| names_word(text, name, false))
            {
                offenders.push(format!("`{quoted}`: named in no .rs file"));
            }
        }
    }
    report(
        "ARCHITECTURE.md names what is not there (keep it true)",
        &offenders,
    );
}
