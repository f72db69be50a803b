//! The repository's chores behind `cargo xtask`, as a library so that the
//! end-to-end tests share its code instead of copying it.

pub mod bench;
pub mod builder_image;
pub mod rename;
pub mod test;

/// The cargo that runs us (`$CARGO`), else `cargo` from PATH.
pub fn cargo() -> std::path::PathBuf {
    std::env::var_os("CARGO").map_or_else(|| "cargo".into(), Into::into)
}

/// The repository's root (the folder holding the Dockerfile).
pub fn project_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ sits in the workspace root")
        .to_path_buf()
}

#[cfg(test)]
mod tests {
    /// The `[profile.release]` settings of a manifest, comments dropped.
    fn release_profile(manifest: &str) -> Vec<String> {
        manifest
            .lines()
            .skip_while(|line| line.trim() != "[profile.release]")
            .skip(1)
            .take_while(|line| !line.trim_start().starts_with('['))
            .filter_map(|line| line.split('#').next())
            .map(|setting| setting.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|setting| !setting.is_empty())
            .collect()
    }

    #[test]
    fn the_bare_peer_is_built_with_the_service_profile() {
        let read = |path: &str| std::fs::read_to_string(super::project_root().join(path)).unwrap();
        let service = release_profile(&read("Cargo.toml"));
        assert!(service.contains(&"lto = \"fat\"".to_owned()), "{service:?}");
        assert_eq!(release_profile(&read("xtask/Cargo.toml")), service);
    }
}
