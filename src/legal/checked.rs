//! A query that the legal filter has read: [`check_terms`] is the only way to a
//! [`CheckedQuery`], so "checked before anything is encoded, searched, stored or logged" is a
//! rule of the types. Example images are checked where they are read (they need the image
//! check's models).

use std::fmt;

use crate::query::{Query, Term};

/// A query every text of which the legal filter allows (see [`check_terms`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedQuery {
    query: Query,
}

impl CheckedQuery {
    /// The query, as parsed.
    pub fn query(&self) -> &Query {
        &self.query
    }

    /// The query's only text, when it is one plain text term.
    pub fn plain_text(&self) -> Option<&str> {
        self.query.plain_text()
    }

    /// The terms added.
    pub fn plus(&self) -> &[Term] {
        &self.query.plus
    }

    /// The terms taken away.
    pub fn minus(&self) -> &[Term] {
        &self.query.minus
    }
}

/// Why the legal filter refused a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The matched term, normalised (`girl` for `G i R l`).
    pub term: String,
    /// Which rule matched.
    pub rule: super::Rule,
    /// What the user is told.
    pub reason: &'static str,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "blocked: '{}' ({}). {}",
            self.term, self.rule, self.reason
        )
    }
}

/// Reads every text term of `query`, and all of them together (so that a phrase split across
/// terms, `ein + Kind`, is read as the phrase it makes): one refused and the query is refused.
pub fn check_terms(query: Query) -> Result<CheckedQuery, Refusal> {
    let texts: Vec<&str> = query.texts().collect();
    for t in &texts {
        refuse(t)?;
    }
    if texts.len() > 1 {
        refuse(&texts.join(" "))?;
    }
    Ok(CheckedQuery { query })
}

fn refuse(text: &str) -> Result<(), Refusal> {
    match super::check_query(text) {
        super::Verdict::Blocked { term, rule } => Err(Refusal {
            term,
            rule,
            reason: super::REASON,
        }),
        super::Verdict::Allowed => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_term_is_checked_and_all_of_them_together() {
        let blocked = |line: &str, not: &[&str]| {
            let not: Vec<String> = not.iter().map(|s| s.to_string()).collect();
            check_terms(Query::parse(line, &not).unwrap()).is_err()
        };
        assert!(blocked("two kids playing", &[]));
        assert!(blocked("beach + kids", &[]));
        assert!(blocked("beach - children", &[]));
        assert!(blocked("beach", &["toddlers"]));
        assert!(blocked("ein + Kind spielt", &[]));
        assert!(!blocked("dog + beach - snow", &["cat"]));
        let r = check_terms(Query::text("g i r l on a swing")).unwrap_err();
        assert_eq!(
            (r.term.as_str(), r.rule),
            ("girl", super::super::Rule::Disguised)
        );
        assert_eq!(
            check_terms(Query::text("dog on grass"))
                .unwrap()
                .plain_text(),
            Some("dog on grass")
        );
    }
}
