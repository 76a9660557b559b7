//! SQL text that PostgreSQL prepares once per connection and then reuses.
//!
//! `diesel::sql_query` sends its text as an unnamed statement every time, so
//! PostgreSQL parses, analyses and plans it on every call: for the contact
//! list's page query that was half of the server's work per page (profiled
//! under `wrk`). A `Prepared` query goes through diesel's statement cache
//! instead, keyed by its text, and is planned once per connection when
//! PostgreSQL finds the generic plan as good as the custom ones.
//!
//! Use it only for statements whose best plan does not hang on the values
//! bound: never for a search word's `LIKE`, whose plan depends on whether
//! the word is rare (see `contact_list::steer`); those stay unnamed and are
//! planned with their values each time.

use chrono::{DateTime, Utc};
use diesel::{
    PgConnection, QueryResult, RunQueryDsl,
    pg::Pg,
    query_builder::{AstPass, Query, QueryFragment, QueryId},
    sql_types::{BigInt, Text, Timestamptz, Untyped},
};

/// A value bound to one of the statement's `$n`, in order.
#[derive(Clone, Debug)]
pub enum Value {
    Text(String),
    Int(i64),
    Time(DateTime<Utc>),
}

/// A statement in SQL with its values; load it like `sql_query`'s.
#[derive(Clone, Debug)]
pub struct Prepared {
    sql: String,
    values: Vec<Value>,
}

impl Prepared {
    pub fn new(sql: impl Into<String>, values: Vec<Value>) -> Self {
        Prepared {
            sql: sql.into(),
            values,
        }
    }
}

impl Prepared {
    fn push_value<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>, n: usize) -> QueryResult<()> {
        match self.values.get(n.wrapping_sub(1)) {
            Some(Value::Text(s)) => out.push_bind_param::<Text, _>(s),
            Some(Value::Int(i)) => out.push_bind_param::<BigInt, _>(i),
            Some(Value::Time(t)) => out.push_bind_param::<Timestamptz, _>(t),
            None => Err(diesel::result::Error::QueryBuilderError(
                format!("${n} has no value in {}", self.sql).into(),
            )),
        }
    }
}

impl QueryFragment<Pg> for Prepared {
    /// Diesel writes its own placeholders as values are pushed, in order:
    /// each `$n` of the text is replaced by a push of value `n` (one used
    /// twice is bound twice). The text holds no `$` but its placeholders.
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let mut rest = self.sql.as_str();
        while let Some(at) = rest.find('$') {
            out.push_sql(&rest[..at]);
            let after = &rest[at + 1..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            let n = after[..digits].parse::<usize>().map_err(|_| {
                diesel::result::Error::QueryBuilderError(
                    format!("a `$` that is no placeholder in {}", self.sql).into(),
                )
            })?;
            self.push_value(&mut out, n)?;
            rest = &after[digits..];
        }
        out.push_sql(rest);
        Ok(())
    }
}

// No static id: diesel then caches the statement by its text (and the
// types bound), which is what makes it a named, reused statement.
impl QueryId for Prepared {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Prepared {
    type SqlType = Untyped;
}

impl RunQueryDsl<PgConnection> for Prepared {}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(q: &Prepared) -> String {
        diesel::debug_query::<Pg, _>(q).to_string()
    }

    #[test]
    fn each_placeholder_is_bound_in_the_order_it_appears() {
        let values = (1..=10).map(Value::Int).collect();
        let q = Prepared::new("SELECT $10, $2 WHERE x = $2 AND y = $1", values);
        let text = sql(&q);
        assert!(
            text.starts_with("SELECT $1, $2 WHERE x = $3 AND y = $4 -- binds: [10, 2, 2, 1]"),
            "{text}"
        );
        let none = Prepared::new("SELECT 1", vec![]);
        assert!(
            sql(&none).starts_with("SELECT 1 -- binds: []"),
            "{}",
            sql(&none)
        );
    }

    #[test]
    fn a_placeholder_without_its_value_is_an_error() {
        use diesel::query_builder::QueryBuilder;
        let build = |q: &Prepared| {
            let mut b = diesel::pg::PgQueryBuilder::default();
            q.to_sql(&mut b, &Pg).map(|()| b.finish())
        };
        assert!(build(&Prepared::new("SELECT $2", vec![Value::Int(1)])).is_err());
        assert!(build(&Prepared::new("SELECT '$'", vec![])).is_err());
        assert!(build(&Prepared::new("SELECT $1", vec![Value::Int(1)])).is_ok());
    }
}
