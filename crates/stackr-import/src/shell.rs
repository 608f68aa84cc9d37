//! Splitting a command string into words as compose does (`command: npm run dev` is three
//! words): whitespace separates words, single quotes keep everything, double quotes keep
//! everything but `\"` and `\\`, a backslash outside quotes escapes the next character. No
//! shell runs, so `&&` or `|` are words like any other.

/// Why a command string cannot be split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitError {
    UnclosedQuote(char),
}

/// Splits `text` into words.
pub fn split(text: &str) -> Result<Vec<String>, SplitError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err(SplitError::UnclosedQuote('\'')),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(n @ ('"' | '\\' | '$' | '`')) => cur.push(n),
                            Some(n) => {
                                cur.push('\\');
                                cur.push(n);
                            }
                            None => return Err(SplitError::UnclosedQuote('"')),
                        },
                        Some(c) => cur.push(c),
                        None => return Err(SplitError::UnclosedQuote('"')),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_compose() {
        let ok = |s: &str| split(s).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(ok("npm run dev"), ["npm", "run", "dev"]);
        assert_eq!(
            ok(r#"sh -c 'echo "a b" && sleep 1'"#),
            ["sh", "-c", r#"echo "a b" && sleep 1"#]
        );
        assert_eq!(
            ok(r#"echo "x \"y\"" z\ w ''"#),
            ["echo", "x \"y\"", "z w", ""]
        );
        assert_eq!(split("echo 'oops"), Err(SplitError::UnclosedQuote('\'')));
    }
}
