//! The process's memory allocator: mimalloc, tuned per role.
//!
//! The API server allocates and frees many small JSON values per request; under glibc's
//! malloc a fifth of its CPU went to malloc/free (scheduling benchmark: 547 pods bound/s with
//! glibc, 889 with mimalloc, all else equal). mimalloc's defaults commit arenas eagerly and keep
//! freed pages for a moment, which costs a small, long-lived process such as the node agent a
//! dozen MiB of RSS; [`keep_small`] turns both off for those roles. (Immediate purging costs
//! the server a fifth of its throughput, so it keeps the defaults.)
//!
//! mimalloc reads its options from the environment when the process starts, before `main`;
//! setting them later (`mi_option_set`) does not reach the arena it has already made. So
//! [`keep_small`] sets the environment and re-executes the binary once, with the same
//! arguments.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// What a small process sets: commit arena memory only when used, return freed pages at once.
const SMALL: [(&str, &str); 2] = [
    ("MIMALLOC_ARENA_EAGER_COMMIT", "0"),
    ("MIMALLOC_PURGE_DELAY", "0"),
];

/// Whether the environment lacks one of the [`SMALL`] settings (an operator's own value for
/// one counts as set).
fn needs_settings(env: impl Fn(&str) -> Option<OsString>) -> bool {
    SMALL.iter().any(|(name, _)| env(name).is_none())
}

/// Restarts this process with the small-memory settings unless they are already in place.
/// Call first thing in `main`; returns only if they are in place or the restart failed (the
/// process then runs with mimalloc's defaults).
pub fn keep_small() {
    if !needs_settings(|name| std::env::var_os(name)) {
        return;
    }
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_else(|| OsString::from("gantry"));
    let mut command = std::process::Command::new("/proc/self/exe");
    command.arg0(argv0).args(args);
    for (name, value) in SMALL {
        if std::env::var_os(name).is_none() {
            command.env(name, value);
        }
    }
    let error = command.exec();
    eprintln!("gantry: re-executing with small-memory allocator settings failed: {error}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_needed_until_both_are_set() {
        let cases: [(&[&str], bool); 4] = [
            (&[], true),
            (&["MIMALLOC_PURGE_DELAY"], true),
            (&["MIMALLOC_ARENA_EAGER_COMMIT"], true),
            (
                &["MIMALLOC_ARENA_EAGER_COMMIT", "MIMALLOC_PURGE_DELAY"],
                false,
            ),
        ];
        for (set, want) in cases {
            let env = |name: &str| set.contains(&name).then(|| OsString::from("1"));
            assert_eq!(needs_settings(env), want, "{set:?}");
        }
    }
}
