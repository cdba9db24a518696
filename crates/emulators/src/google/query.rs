//! The `query` parameter of `users.list`, as "Search for users" documents
//! it: clauses separated by spaces (an implicit AND), each `field:value`
//! (contains; `value*` is a prefix), `field=value` (exact) or a bare value
//! (compared with givenName, familyName and email). Values may be quoted
//! with single quotes (`\'` and `\\` escape inside). Fields: `email`
//! (primary address and aliases), `givenName`, `familyName`, `name`,
//! `externalId`, `isAdmin`, `isSuspended`; any other is refused, as Google
//! refuses a field it does not know.

use super::GoogleUser;

/// One clause.
#[derive(Debug, PartialEq)]
pub(crate) struct Clause {
    field: Option<String>,
    exact: bool,
    prefix: bool,
    value: String,
}

/// Splits `query` into clauses.
///
/// # Errors
/// An unknown field or an unterminated quote, in words.
pub(crate) fn parse(query: &str) -> Result<Vec<Clause>, String> {
    let mut clauses = Vec::new();
    let mut chars = query.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        // field (up to ':' or '='), unless the clause is a bare value
        let mut head = String::new();
        let mut op = None;
        let mut value = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            if op.is_none() && (c == ':' || c == '=') {
                op = Some(c);
                chars.next();
                break;
            }
            if c == '\'' {
                break;
            }
            head.push(c);
            chars.next();
        }
        let (field, mut exact) = match op {
            Some(o) => (Some(head), o == '='),
            None => {
                value = head;
                (None, false)
            }
        };
        if chars.peek() == Some(&'\'') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    '\'' => {
                        closed = true;
                        break;
                    }
                    _ => value.push(c),
                }
            }
            if !closed {
                return Err("Invalid Input: unterminated quote".to_owned());
            }
        }
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            value.push(c);
            chars.next();
        }
        let prefix = value.ends_with('*');
        if prefix {
            value.pop();
            exact = false;
        }
        if let Some(f) = &field {
            if !matches!(
                f.as_str(),
                "email"
                    | "givenName"
                    | "familyName"
                    | "name"
                    | "externalId"
                    | "isAdmin"
                    | "isSuspended"
            ) {
                return Err(format!("Invalid Input: {f}"));
            }
        }
        clauses.push(Clause {
            field,
            exact,
            prefix,
            value,
        });
    }
    Ok(clauses)
}

fn text_matches(c: &Clause, candidate: &str) -> bool {
    let (v, cand) = (c.value.to_lowercase(), candidate.to_lowercase());
    if c.exact {
        cand == v
    } else if c.prefix {
        cand.starts_with(&v) || cand.split([' ', '.', '@']).any(|w| w.starts_with(&v))
    } else {
        cand.contains(&v)
    }
}

/// Whether `user` satisfies every clause.
pub(crate) fn matches(clauses: &[Clause], user: &GoogleUser) -> bool {
    clauses.iter().all(|c| {
        let emails = || std::iter::once(&user.primary_email).chain(user.aliases.iter());
        match c.field.as_deref() {
            None => {
                text_matches(c, &user.given_name)
                    || text_matches(c, &user.family_name)
                    || emails().any(|e| text_matches(c, e))
            }
            Some("email") => emails().any(|e| text_matches(c, e)),
            Some("givenName") => text_matches(c, &user.given_name),
            Some("familyName") => text_matches(c, &user.family_name),
            Some("name") => text_matches(c, &user.full_name()),
            Some("externalId") => user
                .employee_id
                .as_deref()
                .is_some_and(|e| text_matches(c, e)),
            Some("isAdmin") => c.value.eq_ignore_ascii_case(&user.is_admin.to_string()),
            Some("isSuspended") => c.value.eq_ignore_ascii_case(&user.suspended.to_string()),
            Some(_) => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_fields_quotes_and_prefixes() {
        let u = GoogleUser::new("1", "jane.doe@example.test")
            .with_employee_id("E 7")
            .with_alias("jd@example.test");
        let q = |s: &str| matches(&parse(s).expect("parses"), &u);
        assert!(q("email:jane*"));
        assert!(q("email=jd@example.test"), "aliases count");
        assert!(q("externalId='E 7'"));
        assert!(!q("externalId='E 8'"));
        assert!(q("givenName:Ja* familyName=doe"));
        assert!(!q("givenName:Ja* familyName=smith"), "an implicit AND");
        assert!(q("jan*"), "a bare value compares names and addresses");
        assert!(q("name:'Jane Doe'"));
        assert!(parse("orgTitle:x").is_err_and(|e| e.contains("orgTitle")));
        assert!(parse("email:'open").is_err());
        assert!(!q("externalId='it\\'s'"));
    }
}
