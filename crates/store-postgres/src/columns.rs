//! How this engine reads a row: [`PgRow`], the codec's [`Columns`] over a
//! `tokio_postgres::Row`, by column name. Every value read anywhere in the engine goes
//! through it, entity rows (handed to the codec's decoders) and ad-hoc scalars (a
//! count, a `RETURNING id`) alike. Nothing here panics: a column the query does not
//! select or of a type the caller did not expect is an internal error with
//! PostgreSQL's as its cause, a `NULL` where a value is required is `Corrupt`.

use switchboard_store::codec::Columns;
use switchboard_store::{StoreError, StoreResult};
use tokio_postgres::types::{FromSqlOwned, Type};
use tokio_postgres::Row;

/// A row, read through the codec.
#[derive(Clone, Copy)]
pub(crate) struct PgRow<'a>(pub(crate) &'a Row);

impl PgRow<'_> {
    fn index(&self, column: &str) -> StoreResult<usize> {
        self.0
            .columns()
            .iter()
            .position(|c| c.name() == column)
            .ok_or_else(|| StoreError::internal(format!("the query selects no column {column}")))
    }

    fn type_of(&self, index: usize) -> &Type {
        self.0.columns()[index].type_()
    }

    /// The value at `index`, `None` for `NULL`; a type mismatch is an error.
    fn at<T: FromSqlOwned>(&self, index: usize, column: &str) -> StoreResult<Option<T>> {
        self.0
            .try_get::<_, Option<T>>(index)
            .map_err(|error| StoreError::Internal { context: format!("cannot read column {column}"), source: Some(Box::new(error)) })
    }
}

fn required<T>(column: &str, value: Option<T>) -> StoreResult<T> {
    value.ok_or_else(|| StoreError::corrupt(column, "NULL"))
}

impl Columns for PgRow<'_> {
    fn text(&self, column: &str) -> StoreResult<String> {
        required(column, self.opt_text(column)?)
    }

    fn opt_text(&self, column: &str) -> StoreResult<Option<String>> {
        self.at(self.index(column)?, column)
    }

    fn int(&self, column: &str) -> StoreResult<i64> {
        required(column, self.opt_int(column)?)
    }

    /// Any integer column: some counters are `INTEGER`, ids and times `BIGINT`.
    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>> {
        let index = self.index(column)?;
        match *self.type_of(index) {
            Type::INT4 => Ok(self.at::<i32>(index, column)?.map(i64::from)),
            Type::INT2 => Ok(self.at::<i16>(index, column)?.map(i64::from)),
            // BIGINT, or the type mismatch reported with PostgreSQL's words.
            _ => self.at::<i64>(index, column),
        }
    }

    fn flag(&self, column: &str) -> StoreResult<bool> {
        required(column, self.at(self.index(column)?, column)?)
    }

    fn bytes(&self, column: &str) -> StoreResult<Vec<u8>> {
        required(column, self.at(self.index(column)?, column)?)
    }

    fn real(&self, column: &str) -> StoreResult<f64> {
        let index = self.index(column)?;
        let value = match *self.type_of(index) {
            Type::FLOAT4 => self.at::<f32>(index, column)?.map(f64::from),
            _ => self.at::<f64>(index, column)?,
        };
        required(column, value)
    }
}
