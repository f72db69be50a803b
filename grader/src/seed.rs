//! The lab's seed file `seed-<login>.json`: `{"login", "token", "prefix"}`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// A student's identity, as the lab hands it out.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Seed {
    pub login: String,
    pub token: String,
    pub prefix: String,
}

/// How many characters of the token make the image tag.
pub const PREFIX_LEN: usize = 8;
/// The longest login: it names files and a Docker repository.
pub const LOGIN_MAX: usize = 64;

impl Seed {
    /// Reads and checks a seed file; errors name the file and the field.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read seed file {}", path.display()))?;
        let seed: Seed = serde_json::from_str(&text).with_context(|| {
            format!(
                "seed file {} is not {{\"login\",\"token\",\"prefix\"}} JSON",
                path.display()
            )
        })?;
        seed.validated()
            .with_context(|| format!("seed file {}", path.display()))
    }

    /// A seed from `--login`/`--token` (the prefix is derived).
    pub fn from_parts(login: &str, token: &str) -> Result<Self> {
        let prefix = token.chars().take(PREFIX_LEN).collect();
        Seed {
            login: login.to_owned(),
            token: token.to_owned(),
            prefix,
        }
        .validated()
    }

    fn validated(self) -> Result<Self> {
        let login_ok = !self.login.is_empty()
            && self
                .login
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
        if !login_ok {
            bail!(
                "field \"login\" = {:?}: expected lowercase letters, digits, '.', '_' or '-' (it names a Docker repository)",
                self.login
            );
        }
        // It names the grade's files too: `<login>.json` in the output folder.
        if self.login.chars().count() > LOGIN_MAX || self.login.contains("..") {
            bail!(
                "field \"login\" = {:?}: expected at most {LOGIN_MAX} characters and no \"..\" (it names the grade's files)",
                self.login
            );
        }
        if self.token.chars().count() < PREFIX_LEN {
            bail!(
                "field \"token\" = {:?}: expected at least {PREFIX_LEN} characters",
                self.token
            );
        }
        let expected: String = self.token.chars().take(PREFIX_LEN).collect();
        if self.prefix != expected {
            bail!(
                "field \"prefix\" = {:?}: expected the token's first {PREFIX_LEN} characters, {expected:?}",
                self.prefix
            );
        }
        Ok(self)
    }

    /// The image name the lab requires: `<login>/image-lab:<prefix>`.
    pub fn image_name(&self) -> String {
        format!("{}/image-lab:{}", self.login, self.prefix)
    }

    /// The expected `/proof` with `secret`.
    pub fn proof(&self, secret: &str) -> String {
        lab_proof(secret, &self.login, &self.token)
    }
}

/// The lab's proof, computed here and not by the graded service: hex
/// HMAC-SHA256(secret, "login:token").
pub fn lab_proof(secret: &str, login: &str, token: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{login}:{token}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_matches_the_lab_vector() {
        let seed = Seed::from_parts("alice", "0123456789abcdef").unwrap();
        assert_eq!(seed.prefix, "01234567");
        assert_eq!(seed.image_name(), "alice/image-lab:01234567");
        assert_eq!(
            seed.proof("s3"),
            "3ec43586429c87841ae9422802220968ea7c97c457a68f9878a869b689d43ed3"
        );
    }

    /// The login names files: nothing that is not a plain name gets in.
    #[test]
    fn a_login_that_is_not_a_plain_name_is_refused() {
        let token = "0123456789abcdef";
        let long = "a".repeat(LOGIN_MAX + 1);
        for login in [
            "",
            "..",
            "a..b",
            "a/b",
            "a\\b",
            "a\nb",
            "a\u{1b}b",
            long.as_str(),
        ] {
            let error = Seed::from_parts(login, token).unwrap_err().to_string();
            assert!(error.starts_with("field \"login\""), "{login:?}: {error}");
        }
        assert!(Seed::from_parts(&"a".repeat(LOGIN_MAX), token).is_ok());
    }

    #[test]
    fn bad_fields_are_named() {
        let bad = |json: &str| {
            let path =
                std::env::temp_dir().join(format!("seed-test-{}.json", toolkit::unique_name("s")));
            std::fs::write(&path, json).unwrap();
            let error = format!("{:#}", Seed::from_file(&path).unwrap_err());
            std::fs::remove_file(&path).unwrap();
            error
        };
        assert!(
            bad(r#"{"login":"Alice","token":"0123456789","prefix":"01234567"}"#)
                .contains("\"login\"")
        );
        assert!(bad(r#"{"login":"alice","token":"0123","prefix":"0123"}"#).contains("\"token\""));
        assert!(
            bad(r#"{"login":"alice","token":"0123456789","prefix":"x"}"#).contains("\"prefix\"")
        );
        assert!(bad(r#"{"login":"alice","token":"0123456789"}"#).contains("prefix"));
        assert!(bad("not json").contains("not"));
    }
}
