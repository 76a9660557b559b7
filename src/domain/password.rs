//! Password rules and argon2id hashing.

use argon2::{
    Algorithm, Argon2, Block, Params, Version,
    password_hash::{Output, ParamsString, PasswordHash, SaltString, rand_core::OsRng},
};

use std::sync::Mutex;

pub const MIN_LEN: usize = 10;
pub const MAX_LEN: usize = 128;

/// A password that meets the length rules; never logged or displayed.
pub struct NewPassword(String);

impl NewPassword {
    pub fn parse(raw: &str, confirm: &str) -> Result<NewPassword, String> {
        let len = raw.chars().count();
        if len < MIN_LEN {
            return Err(format!("must be at least {MIN_LEN} characters"));
        }
        if len > MAX_LEN {
            return Err(format!("must be at most {MAX_LEN} characters"));
        }
        if raw != confirm {
            return Err("does not match its confirmation".into());
        }
        Ok(NewPassword(raw.to_string()))
    }

    pub fn hash(&self) -> Result<String, String> {
        hash_password(&self.0)
    }
}

/// argon2id with OWASP's parameters: 19 MiB of memory, 2 passes, 1 lane.
fn params() -> Params {
    Params::new(19 * 1024, 2, 1, None).unwrap_or_default()
}

/// Argon2 working memory (19 MiB a hash) kept for the next hash. Allocated
/// afresh for every hash, the freed blocks stayed in whichever of glibc's
/// arenas they came from, and a burst of sign-ins left hundreds of MB behind
/// (measured). Kept here, there are never more buffers than hashes that ran
/// at once (two: see `hashing`), and they go back to the system when nobody
/// has signed in for a while.
struct Spare(Mutex<Vec<Vec<Block>>>);

static SPARE: Spare = Spare::new();

impl Spare {
    const fn new() -> Spare {
        Spare(Mutex::new(Vec::new()))
    }

    /// Runs `hash` in `blocks` blocks of memory, taken from the spare ones
    /// when there are some, and keeps them for the next hash.
    fn with_memory<T>(&self, blocks: usize, hash: impl FnOnce(&mut [Block]) -> T) -> T {
        let spare = self.0.lock().ok().and_then(|mut spare| spare.pop());
        let mut memory = spare.unwrap_or_default();
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        let out = hash(&mut memory[..blocks]);
        if let Ok(mut spare) = self.0.lock() {
            spare.push(memory);
        }
        out
    }

    /// Frees the memory kept; whether there was any.
    fn release(&self) -> bool {
        let freed = match self.0.lock() {
            Ok(mut spare) => std::mem::take(&mut *spare),
            Err(_) => return false,
        };
        !freed.is_empty()
    }

    /// Blocks of memory kept now.
    #[cfg(test)]
    fn held(&self) -> usize {
        self.0
            .lock()
            .map(|spare| spare.iter().map(Vec::len).sum())
            .unwrap_or(0)
    }
}

/// Frees the argon2 memory kept between hashes; whether there was any.
pub fn release_memory() -> bool {
    SPARE.release()
}

/// Runs argon2 for `password` and `salt` into `out`, in kept memory.
fn argon2_into(
    argon: &Argon2<'_>,
    blocks: usize,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    SPARE.with_memory(blocks, |memory| {
        argon.hash_password_into_with_memory(password, salt, out, memory)
    })
}

pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    let params = params();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut salt_bytes = [0u8; 64];
    let salt_raw = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(|e| format!("hashing failed: {e}"))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_into(
        &argon,
        params.block_count(),
        password.as_bytes(),
        salt_raw,
        &mut out,
    )
    .map_err(|e| format!("hashing failed: {e}"))?;
    let output = Output::new(&out).map_err(|e| format!("hashing failed: {e}"))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| format!("hashing failed: {e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(expected), Some(salt)) = (parsed.hash, parsed.salt) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .ok()
        .flatten()
        .unwrap_or_default();
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_raw) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let argon = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    if argon2_into(
        &argon,
        params.block_count(),
        password.as_bytes(),
        salt_raw,
        &mut out,
    )
    .is_err()
    {
        return false;
    }
    // `Output`'s comparison takes the same time wherever the bytes differ.
    Output::new(&out).is_ok_and(|computed| computed == expected)
}

/// Verifies against a fixed hash so that an unknown email costs as much time as a
/// wrong password and cannot be told apart by timing.
pub fn burn_verification_time(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let hash = DUMMY.get_or_init(|| hash_password("not-a-real-password").unwrap_or_default());
    let _ = verify_password(password, hash);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_with_argon2id_and_owasp_parameters() {
        let hash = hash_password("correct horse battery").expect("hash");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse battery!", &hash));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn verifies_hashes_made_by_the_argon2_crate_itself() {
        use argon2::password_hash::PasswordHasher;
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
            .hash_password(b"tr0ub4dor&3", &salt)
            .expect("hash")
            .to_string();
        assert!(verify_password("tr0ub4dor&3", &theirs));
        assert!(!verify_password("tr0ub4dor&4", &theirs));
        // Other parameters, as an older hash may carry.
        let older = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x10,
            Params::new(1024, 3, 2, Some(24)).expect("params"),
        )
        .hash_password(b"old", &salt)
        .expect("hash")
        .to_string();
        assert!(verify_password("old", &older));
        assert!(!verify_password("new", &older));
        let ours = hash_password("tr0ub4dor&3").expect("hash");
        assert!(
            argon2::PasswordVerifier::verify_password(
                &Argon2::default(),
                b"tr0ub4dor&3",
                &PasswordHash::new(&ours).expect("parse")
            )
            .is_ok(),
            "the crate verifies ours"
        );
    }

    #[test]
    fn length_and_confirmation_rules() {
        assert!(NewPassword::parse("short", "short").is_err());
        assert!(NewPassword::parse("long enough!", "long enough?").is_err());
        assert!(NewPassword::parse(&"x".repeat(129), &"x".repeat(129)).is_err());
        assert!(NewPassword::parse("long enough!", "long enough!").is_ok());
    }

    #[test]
    fn kept_memory_is_used_again_and_freed_on_release() {
        let spare = Spare::new();
        let first = spare.with_memory(8, |m| m.as_ptr() as usize);
        assert_eq!(spare.held(), 8, "kept after the hash");
        let second = spare.with_memory(8, |m| m.as_ptr() as usize);
        assert_eq!(first, second, "the same memory again");
        assert_eq!(spare.held(), 8, "one buffer for hashes one after another");
        assert!(spare.release());
        assert_eq!(spare.held(), 0);
        assert!(!spare.release(), "nothing left to free");
    }
}
