//! The module engines' homes (`crates/modules/*`, `docs/modules.md`): each
//! finds its pack in the bundled rules, migrates its tables idempotently
//! under its own name, and depends on nothing but the shared crates.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use tenet_runtime::load::Rules;
use tenet_runtime::pack::{PackError, PackHandle};
use tenet_store::{Migration, Store};

struct Module {
    name: &'static str,
    pack: &'static str,
    find: fn(&Rules) -> Result<PackHandle<'_>, PackError>,
    migrations: &'static [Migration],
}

macro_rules! module {
    ($krate:ident) => {
        Module {
            name: $krate::MODULE,
            pack: $krate::PACK,
            find: $krate::pack,
            migrations: $krate::store::MIGRATIONS,
        }
    };
}

fn modules() -> Vec<Module> {
    vec![
        module!(tenet_control_plane),
        module!(tenet_safety_workflows),
        module!(tenet_tenant_benchmark),
        module!(tenet_autoconfig),
        module!(tenet_meta_monitor),
        module!(tenet_dark_inventory),
        module!(tenet_rtx_export),
    ]
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn every_module_finds_its_bundled_pack_and_migrates_its_own_tables() {
    let rules = tenet_runtime::load::load_bundled().unwrap();
    for m in modules() {
        let handle = (m.find)(&rules).unwrap_or_else(|e| panic!("{}: {e}", m.name));
        assert_eq!(handle.name(), m.pack);
        assert!(
            !handle.compiled().blocks.is_empty(),
            "{}: an empty pack",
            m.name
        );
        assert!(
            root().join("rules").join(m.name).is_dir(),
            "{}: no rules/{} folder",
            m.name,
            m.name
        );
        assert!(
            m.migrations.iter().all(|x| x.module == m.name),
            "{}: a migration under another module's name",
            m.name
        );
        let mut store = Store::memory().unwrap();
        store.migrate(m.migrations).unwrap();
        store.migrate(m.migrations).unwrap();
    }
}

#[test]
fn every_module_has_the_same_files_and_imports_no_other_module() {
    let names: Vec<&str> = modules().iter().map(|m| m.name).collect();
    let dir = root().join("crates/modules");
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut want: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    want.sort();
    assert_eq!(
        found, want,
        "a folder under crates/modules that is not a module here"
    );
    // What a module may depend on among tenet's crates.
    let allowed = ["tenet-runtime", "tenet-store", "tenet-notify", "tenet-dsl"];
    for name in &names {
        for file in ["lib.rs", "model.rs", "engine.rs", "store.rs"] {
            assert!(
                dir.join(name).join("src").join(file).is_file(),
                "{name}: no src/{file}"
            );
        }
        let manifest = std::fs::read_to_string(dir.join(name).join("Cargo.toml")).unwrap();
        for line in manifest.lines() {
            let dep = line.split(['.', ' ', '=']).next().unwrap_or("").trim();
            if dep.starts_with("tenet-") && dep != format!("tenet-{name}") {
                assert!(
                    allowed.contains(&dep),
                    "{name} depends on `{dep}`: a module depends on the shared crates only ({})",
                    allowed.join(", ")
                );
            }
        }
    }
}
