//! Paths a campaign names relative to its own file, joined without `.`
//! components and, where that names the same place, without `..` ones:
//! `run examples/lab.toml` with `out = "../slowlane-out/x"` prints and uses
//! `slowlane-out/x`, not `examples/../slowlane-out/x`.

use std::path::{Component, Path, PathBuf};

/// `dir.join(rel)`, tidied. `a/b/..` becomes `a` unless `a/b` is a symbolic
/// link (its `..` is the parent of the link's target, so it is kept); a
/// component that does not exist yet is a plain folder-to-be.
pub fn join_tidy(dir: &Path, rel: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in dir.join(rel).components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) if !is_symlink(&out) => {
                    out.pop();
                }
                // `/..` is `/`.
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(".."),
            },
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

fn is_symlink(p: &Path) -> bool {
    p.symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(dir: &str, rel: &str) -> PathBuf {
        join_tidy(Path::new(dir), Path::new(rel))
    }

    #[test]
    fn dots_go_where_they_name_the_same_place() {
        assert_eq!(
            t("examples", "../slowlane-out/x"),
            Path::new("slowlane-out/x")
        );
        assert_eq!(t("./examples", "./out"), Path::new("examples/out"));
        assert_eq!(t("", "out"), Path::new("out"));
        assert_eq!(t("a", ".."), Path::new("."));
        assert_eq!(t("a", "../../x"), Path::new("../x"));
        assert_eq!(t("../a", "../b"), Path::new("../b"));
        assert_eq!(t("/etc/x", "../../../y"), Path::new("/y"));
        assert_eq!(t("/a", "/abs/./b"), Path::new("/abs/b"));
    }

    #[test]
    fn a_symlinked_folder_keeps_its_dotdot() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("deep/real");
        std::fs::create_dir_all(&real).unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        // link/.. is deep/, not d/: lexical removal would point elsewhere.
        let got = join_tidy(&link, Path::new("../out"));
        assert_eq!(got, link.join("../out"));
        let plain = join_tidy(&real, Path::new("../out"));
        assert_eq!(plain, d.path().join("deep/out"));
    }
}
