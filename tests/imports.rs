//! The shape of the code, read from the sources: no import circle between files of `src/`
//! (a folder's `mod.rs` may use its own files; everything else points one way); nothing below
//! the front ends imports `commands/`, `tui/` or `engine/`; the legal rules (`legal/`) read no
//! files and no cache, and know nothing of indexing; and the legal image check is wired up only
//! inside `engine/`.
//!
//! Paths are read from `crate::`, `super::` and `self::` (use trees with braces included) in
//! the code outside `#[cfg(test)]` modules, and resolved to the longest module that has a file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

struct Crate {
    /// Module → its file.
    files: BTreeMap<Module, PathBuf>,
}

impl Crate {
    fn read(src: &Path) -> Crate {
        let mut files = BTreeMap::new();
        let mut stack = vec![src.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                if p.extension().is_none_or(|x| x != "rs") {
                    continue;
                }
                let rel = p.strip_prefix(src).unwrap().with_extension("");
                let mut m: Module = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if m.last().is_some_and(|l| l == "mod") {
                    m.pop();
                }
                if m == ["lib"] {
                    m.clear();
                }
                if m == ["main"] {
                    continue; // the binary: it uses the library by name, as any user does
                }
                files.insert(m, p);
            }
        }
        Crate { files }
    }

    fn resolve(&self, path: &[String]) -> Module {
        (0..=path.len())
            .rev()
            .map(|k| path[..k].to_vec())
            .find(|m| self.files.contains_key(m))
            .unwrap_or_default()
    }

    /// The modules `m` refers to (not itself, not its own descendants, not the crate root).
    fn uses(&self, m: &Module) -> BTreeSet<Module> {
        let text = code_outside_tests(&std::fs::read_to_string(&self.files[m]).unwrap());
        let mut out = BTreeSet::new();
        for (head, start) in path_starts(&text) {
            // `super` is the parent module, for a folder's `mod.rs` as for a file.
            let base: Module = match head {
                "crate" => Vec::new(),
                "self" => m.clone(),
                _ => m[..m.len().saturating_sub(1)].to_vec(),
            };
            for path in expand(&text[start..]) {
                let mut full = base.clone();
                full.extend(path);
                out.insert(self.resolve(&full));
            }
        }
        out.retain(|r| !r.is_empty() && r != m && !r.starts_with(m.as_slice()));
        out
    }
}

/// The text with comments and `#[cfg(test)] mod … { … }` blocks removed.
fn code_outside_tests(src: &str) -> String {
    let no_comments: String = src
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = String::new();
    let mut rest = no_comments.as_str();
    while let Some(i) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        let Some(open) = after.find('{') else {
            break;
        };
        // Only a module is skipped; an attribute on anything else stays.
        if !after[..open].contains("mod ") {
            out.push_str("#[cfg(test)]");
            rest = &after["#[cfg(test)]".len()..];
            continue;
        }
        let mut depth = 0;
        let mut end = after.len();
        for (k, c) in after[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + k + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Where `crate::`, `super::` and `self::` paths start: (the head, the offset after it).
fn path_starts(text: &str) -> Vec<(&'static str, usize)> {
    let mut out = Vec::new();
    for head in ["crate", "super", "self"] {
        let pat = format!("{head}::");
        let mut from = 0;
        while let Some(i) = text[from..].find(&pat) {
            let at = from + i;
            let before = text[..at].chars().next_back();
            if before.is_none_or(|c| !is_ident(c) && c != ':') {
                out.push((head, at + pat.len()));
            }
            from = at + pat.len();
        }
    }
    out
}

/// The paths a path (or use tree) starting at `text` names: `a::b::C` gives `[a, b, C]`;
/// `a::{b::C, d}` gives `[a, b, C]` and `[a, d]`.
fn expand(text: &str) -> Vec<Vec<String>> {
    let mut segs = Vec::new();
    let mut rest = text;
    loop {
        if let Some(inner) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut end = inner.len();
            for (k, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = k;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let mut out = Vec::new();
            for part in split_top(&inner[..end]) {
                for p in expand(part.trim()) {
                    let mut full = segs.clone();
                    full.extend(p);
                    out.push(full);
                }
            }
            return out;
        }
        let n = rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
        if n == 0 {
            break;
        }
        segs.push(rest[..n].to_string());
        match rest[n..].strip_prefix("::") {
            Some(r) => rest = r,
            None => break,
        }
    }
    vec![segs]
}

/// `a, b::{c, d}, e` split at the commas outside braces.
fn split_top(s: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

/// The strongly connected components of more than one module (Tarjan).
fn circles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct T<'a> {
        g: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        on: BTreeSet<&'a Module>,
        out: Vec<Vec<Module>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a Module) {
        let i = t.index.len();
        t.index.insert(v, i);
        t.low.insert(v, i);
        t.stack.push(v);
        t.on.insert(v);
        for w in t.g.get(v).into_iter().flatten() {
            let Some((w, _)) = t.g.get_key_value(w) else {
                continue;
            };
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = t.stack.pop().unwrap();
                t.on.remove(w);
                comp.push(w.clone());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        g: graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
}

fn name(m: &Module) -> String {
    m.join("::")
}

fn graph(c: &Crate) -> BTreeMap<Module, BTreeSet<Module>> {
    c.files.keys().map(|m| (m.clone(), c.uses(m))).collect()
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_import_circles_and_the_layers_point_one_way() {
    let c = Crate::read(&src());
    assert!(c.files.len() > 40, "read {} files", c.files.len());
    let g = graph(&c);
    let found = circles(&g);
    let shown: Vec<String> = found
        .iter()
        .map(|comp| {
            let names: Vec<String> = comp.iter().map(name).collect();
            let edges: Vec<String> = comp
                .iter()
                .flat_map(|a| {
                    g[a].iter()
                        .filter(|b| comp.contains(b))
                        .map(move |b| format!("{} → {}", name(a), name(b)))
                })
                .collect();
            format!("{names:?}: {}", edges.join(", "))
        })
        .collect();
    assert!(found.is_empty(), "import circles:\n{}", shown.join("\n"));

    let front = ["commands", "tui", "engine"];
    for (m, uses) in &g {
        let Some(top) = m.first() else { continue };
        for u in uses {
            if !front.contains(&top.as_str()) {
                assert!(
                    !front.contains(&u[0].as_str()),
                    "{} (below the front ends) uses {}",
                    name(m),
                    name(u)
                );
            }
            if top == "legal" {
                assert!(
                    !["index", "cache", "store", "library"].contains(&u[0].as_str()),
                    "{} (the legal rules) uses {}",
                    name(m),
                    name(u)
                );
            }
        }
        if top == "legal" {
            let code = code_outside_tests(&std::fs::read_to_string(&c.files[m]).unwrap());
            assert!(!code.contains("std::fs"), "{} reads files", name(m));
        }
    }
}

#[test]
fn the_image_check_is_wired_only_in_the_engine() {
    let c = Crate::read(&src());
    for (m, file) in &c.files {
        let code = code_outside_tests(&std::fs::read_to_string(file).unwrap());
        // Its own module (`legal::check`) may use it; everyone else asks the engine.
        if code.contains("ImageCheck::new(") && *m != ["legal", "check"] {
            assert!(
                m.first().is_some_and(|t| t == "engine"),
                "{} builds the image check",
                name(m)
            );
        }
    }
}

/// The reader itself: a circle and a layer breach written into a small tree are found.
#[test]
fn the_reader_finds_a_circle_and_a_breach() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path();
    std::fs::create_dir_all(s.join("legal")).unwrap();
    std::fs::create_dir_all(s.join("engine")).unwrap();
    std::fs::write(
        s.join("lib.rs"),
        "pub mod a; pub mod b; pub mod legal; pub mod engine;",
    )
    .unwrap();
    std::fs::write(s.join("a.rs"), "use crate::{b::Thing, legal};\n").unwrap();
    std::fs::write(
        s.join("b.rs"),
        "// use crate::legal;\nuse super::a::Other;\n",
    )
    .unwrap();
    std::fs::write(s.join("legal/mod.rs"), "pub mod rules;\n").unwrap();
    std::fs::write(
        s.join("legal/rules.rs"),
        "use crate::engine::Session;\n#[cfg(test)]\nmod tests { use crate::a::X; }\n",
    )
    .unwrap();
    std::fs::write(s.join("engine/mod.rs"), "").unwrap();
    let c = Crate::read(s);
    let g = graph(&c);
    let m = |s: &str| -> Module { s.split("::").map(String::from).collect() };
    assert_eq!(g[&m("a")], [m("b"), m("legal")].into_iter().collect());
    assert_eq!(g[&m("b")], [m("a")].into_iter().collect());
    assert_eq!(g[&m("legal::rules")], [m("engine")].into_iter().collect());
    let found = circles(&g);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].iter().collect::<BTreeSet<_>>(),
        [m("a"), m("b")].iter().collect::<BTreeSet<_>>()
    );
}
