//! Rows as the store's codec reads them, and the few helpers that run a statement
//! and hand its rows to a codec decoder. [`SqlRow`] is the codec's [`Columns`] over a
//! `rusqlite::Row`, by column name: a column the statement does not have is an
//! internal error, a value of another type (or a NULL where a value must be) is
//! `Corrupt`, and nothing panics. No aggregate reads a column by position.

use crate::engine::sql_error;
use rusqlite::types::ValueRef;
use rusqlite::{CachedStatement, Connection, Params, Row, Statement};
use switchboard_store::codec::Columns;
use switchboard_store::{StoreError, StoreResult};

/// A rusqlite result as the store's, through the engine's one error mapping.
pub(crate) fn q<T>(result: rusqlite::Result<T>) -> StoreResult<T> {
    result.map_err(sql_error)
}

/// Prepares a statement used now and then (not kept in the connection's cache).
pub(crate) fn prepare<'c>(c: &'c Connection, sql: &str) -> StoreResult<Statement<'c>> {
    q(c.prepare(sql))
}

/// Prepares a statement of a frequent call, kept in the connection's cache.
pub(crate) fn cached<'c>(c: &'c Connection, sql: &str) -> StoreResult<CachedStatement<'c>> {
    q(c.prepare_cached(sql))
}

/// One row of a statement, read by column name.
pub(crate) struct SqlRow<'r, 's>(&'r Row<'s>);

impl SqlRow<'_, '_> {
    fn value(&self, column: &str) -> StoreResult<ValueRef<'_>> {
        q(self.0.get_ref(column))
    }
}

/// A stored value the column should not hold, as `Corrupt` shows it.
fn corrupt(column: &str, value: ValueRef<'_>) -> StoreError {
    let shown = match value {
        ValueRef::Null => "NULL".to_string(),
        ValueRef::Integer(integer) => integer.to_string(),
        ValueRef::Real(real) => real.to_string(),
        ValueRef::Text(text) => String::from_utf8_lossy(text).chars().take(80).collect(),
        ValueRef::Blob(blob) => format!("<{} bytes>", blob.len()),
    };
    StoreError::corrupt(column, shown)
}

impl Columns for SqlRow<'_, '_> {
    fn text(&self, column: &str) -> StoreResult<String> {
        self.opt_text(column)?.ok_or_else(|| corrupt(column, ValueRef::Null))
    }

    fn opt_text(&self, column: &str) -> StoreResult<Option<String>> {
        match self.value(column)? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(text) => std::str::from_utf8(text).map(|text| Some(text.to_owned())).map_err(|_| corrupt(column, ValueRef::Text(text))),
            other => Err(corrupt(column, other)),
        }
    }

    fn int(&self, column: &str) -> StoreResult<i64> {
        self.opt_int(column)?.ok_or_else(|| corrupt(column, ValueRef::Null))
    }

    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>> {
        match self.value(column)? {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(integer) => Ok(Some(integer)),
            other => Err(corrupt(column, other)),
        }
    }

    fn flag(&self, column: &str) -> StoreResult<bool> {
        Ok(self.int(column)? != 0)
    }

    fn bytes(&self, column: &str) -> StoreResult<Vec<u8>> {
        match self.value(column)? {
            ValueRef::Blob(blob) => Ok(blob.to_vec()),
            other => Err(corrupt(column, other)),
        }
    }

    fn real(&self, column: &str) -> StoreResult<f64> {
        match self.value(column)? {
            ValueRef::Real(real) => Ok(real),
            // A REAL column may hand back an integral value as an integer.
            ValueRef::Integer(integer) => Ok(integer as f64),
            other => Err(corrupt(column, other)),
        }
    }
}

/// Runs a prepared statement and decodes its rows.
pub(crate) trait Query {
    /// The first row, if any.
    fn optional<T>(&mut self, params: impl Params, decode: impl FnOnce(&SqlRow<'_, '_>) -> StoreResult<T>) -> StoreResult<Option<T>>;

    /// The first row, which must exist.
    fn one<T>(&mut self, params: impl Params, decode: impl FnOnce(&SqlRow<'_, '_>) -> StoreResult<T>) -> StoreResult<T> {
        self.optional(params, decode)?.ok_or_else(|| sql_error(rusqlite::Error::QueryReturnedNoRows))
    }

    /// Every row, in the statement's order.
    fn all<T>(&mut self, params: impl Params, decode: impl FnMut(&SqlRow<'_, '_>) -> StoreResult<T>) -> StoreResult<Vec<T>>;
}

impl Query for Statement<'_> {
    fn optional<T>(&mut self, params: impl Params, decode: impl FnOnce(&SqlRow<'_, '_>) -> StoreResult<T>) -> StoreResult<Option<T>> {
        let mut rows = q(self.query(params))?;
        match q(rows.next())? {
            Some(row) => decode(&SqlRow(row)).map(Some),
            None => Ok(None),
        }
    }

    fn all<T>(&mut self, params: impl Params, mut decode: impl FnMut(&SqlRow<'_, '_>) -> StoreResult<T>) -> StoreResult<Vec<T>> {
        let mut rows = q(self.query(params))?;
        let mut all = Vec::new();
        while let Some(row) = q(rows.next())? {
            all.push(decode(&SqlRow(row))?);
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<T>(select: &str, decode: impl FnOnce(&SqlRow<'_, '_>) -> StoreResult<T>) -> StoreResult<T> {
        let c = Connection::open_in_memory().unwrap();
        let mut statement = prepare(&c, select)?;
        statement.one([], decode)
    }

    #[test]
    fn values_read_by_name_and_type() {
        assert_eq!(read("SELECT 'a' AS t, 7 AS i, NULL AS n, 1.5 AS r, x'0102' AS b", |r| Ok((r.text("t")?, r.int("i")?, r.opt_int("n")?, r.real("r")?, r.bytes("b")?))).unwrap(), ("a".into(), 7, None, 1.5, vec![1, 2]));
        assert!(read("SELECT 0 AS f", |r| r.flag("f")).map(|f| !f).unwrap());
        assert_eq!(read("SELECT 3 AS r", |r| r.real("r")).unwrap(), 3.0);
    }

    #[test]
    fn a_value_of_another_type_is_corrupt_not_a_panic() {
        let corrupt = |result: StoreResult<_>, expected: &str| matches!(result, Err(StoreError::Corrupt { column, value }) if column == "x" && value == expected);
        assert!(corrupt(read("SELECT NULL AS x", |r| r.text("x")).map(drop), "NULL"));
        assert!(corrupt(read("SELECT 'many' AS x", |r| r.int("x")).map(drop), "many"));
        assert!(corrupt(read("SELECT 5 AS x", |r| r.opt_text("x")).map(drop), "5"));
        assert!(corrupt(read("SELECT 'body' AS x", |r| r.bytes("x")).map(drop), "body"));
        assert!(corrupt(read("SELECT x'00' AS x", |r| r.real("x")).map(drop), "<1 bytes>"));
        assert!(corrupt(read("SELECT -1 AS x", |r| r.total("x")).map(drop), "-1"));
    }

    #[test]
    fn a_column_the_statement_lacks_is_internal() {
        assert!(matches!(read("SELECT 1 AS x", |r| r.int("y")), Err(StoreError::Internal { source: Some(_), .. })));
        assert!(matches!(read("SELECT 1 AS x WHERE 0", |r| r.int("x")), Err(StoreError::Internal { .. })), "no row where one must be");
    }
}
