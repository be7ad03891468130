//! `$(VAR)` expansion with the rules of Kubernetes' forked `expansion` package.
//!
//! - `$(NAME)` is replaced by the mapping of `NAME`; an unknown name stays `$(NAME)`.
//! - `$$` is an escaped `$`: `$$(NAME)` yields `$(NAME)` literally.
//! - A `$` followed by anything else, an unterminated `$(`, or a trailing `$` is copied as is.

/// Expands `input`, asking `mapping` for the value of each `$(NAME)` reference.
pub fn expand(input: &str, mut mapping: impl FnMut(&str) -> String) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let Some(next) = after.chars().next() else {
            // A trailing `$` is kept.
            out.push('$');
            rest = after;
            break;
        };
        match next {
            '$' => {
                out.push('$');
                rest = &after[1..];
            }
            '(' => match after[1..].find(')') {
                Some(close) => {
                    out.push_str(&mapping(&after[1..1 + close]));
                    rest = &after[close + 2..];
                }
                None => {
                    // Incomplete reference: emit `$(` and keep scanning after it.
                    out.push_str("$(");
                    rest = &after[1..];
                }
            },
            other => {
                out.push('$');
                out.push(other);
                rest = &after[other.len_utf8()..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Expands `input` against `lookup`, leaving unknown references as written (`$(NAME)`).
pub fn expand_with(input: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    expand(input, |name| {
        lookup(name).unwrap_or_else(|| format!("$({name})"))
    })
}

/// Expands `input` against `lookup`; names that are unknown or map to an empty value are
/// returned as the error (sorted, deduplicated), as `subPathExpr` requires.
pub fn expand_strict(
    input: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, Vec<String>> {
    let mut missing = std::collections::BTreeSet::new();
    let out = expand(input, |name| match lookup(name) {
        Some(value) if !value.is_empty() => value,
        _ => {
            missing.insert(name.to_string());
            String::new()
        }
    });
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(missing.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, want: &str) {
        let vars = [
            ("VAR_A", "A"),
            ("VAR_B", "B"),
            ("VAR_C", "C"),
            ("VAR_REF", "$(VAR_A)"),
            ("VAR_EMPTY", ""),
        ];
        let lookup = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        assert_eq!(expand_with(input, lookup), want, "input {input:?}");
    }

    #[test]
    fn expansion_table() {
        // Cases follow upstream's expansion tests.
        check("", "");
        check("no refs", "no refs");
        check("$(VAR_A)", "A");
        check("___$(VAR_B)___", "___B___");
        check("$(VAR_A)-$(VAR_A)", "A-A");
        check("$(VAR_A)$(VAR_B)$(VAR_C)", "ABC");
        check("$(VAR_REF)", "$(VAR_A)");
        check("$(VAR_EMPTY)", "");
        check("$(UNKNOWN)", "$(UNKNOWN)");
        check("$$(VAR_A)", "$(VAR_A)");
        check("$$$(VAR_A)", "$A");
        check("$$$$(VAR_A)", "$$(VAR_A)");
        check("$$", "$");
        check("f000-$$VAR_A", "f000-$VAR_A");
        check("foo\\$(VAR_A)bar", "foo\\Abar");
        check("$(VAR_A", "$(VAR_A");
        check("$(", "$(");
        check("$(VAR_A$(VAR_B)", "$(VAR_A$(VAR_B)");
        check("$()", "$()");
        check("$", "$");
        check("foo$", "foo$");
        check("$VAR_A", "$VAR_A");
        check("$é$(VAR_A)", "$éA");
        check("${VAR_A}", "${VAR_A}");
        check("$(VAR_A)$", "A$");
    }

    #[test]
    fn strict_expansion_reports_missing_and_empty() {
        let lookup = |name: &str| match name {
            "POD" => Some("web-0".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        assert_eq!(
            expand_strict("logs/$(POD)", lookup),
            Ok("logs/web-0".to_string())
        );
        assert_eq!(
            expand_strict("$(NOPE)/$(EMPTY)/$(NOPE)", lookup),
            Err(vec!["EMPTY".to_string(), "NOPE".to_string()])
        );
    }
}
