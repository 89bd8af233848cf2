//! `switchboard migrate-data`: copies a whole installation from its SQLite file into
//! an empty PostgreSQL database, for an installation outgrowing one node.
//!
//! Built for size and for crashes. Both stores are first opened the normal way, so
//! that both are migrated to this build's schema; then the source is read with
//! rusqlite directly (a read-only connection, one snapshot, row by row) while a
//! second connection holds SQLite's write lock, so that nothing can be written
//! behind the copy. Rows cross to the async side in small batches through a bounded
//! channel (memory stays flat whatever the size) and reach PostgreSQL through
//! `COPY ... FROM STDIN (FORMAT binary)`, each value converted to the type the
//! PostgreSQL catalog gives its column. The whole copy is one PostgreSQL transaction:
//! a run that fails or dies part-way leaves the target empty, and is simply run
//! again. Tables, columns and the order foreign keys need come from the two
//! catalogs, not from a list here, so a new migration needs no change here; a table,
//! a column or a pairing of types that only one side has is refused, never guessed
//! (PostgreSQL's generated columns aside: PostgreSQL computes them, whether or not
//! SQLite keeps a copy).
//! Rows are copied as they are: this module must not interpret them.

use anyhow::{bail, ensure, Context};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::error::Error;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use switchboard_store_postgres::{PostgresConfig, PostgresStore};
use switchboard_store_sqlite::SqliteStore;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::NoTls;

/// The table that records which migrations ran; each side keeps its own.
const MIGRATIONS_TABLE: &str = "schema_migrations";
/// Rows per batch sent from the SQLite reader, and bytes a batch holds at most
/// (a few outbox bodies may be large): with the channel's depth, the bound on the
/// memory in flight.
const BATCH_ROWS: usize = 1024;
const BATCH_BYTES: usize = 4 << 20;
const BATCHES_IN_FLIGHT: usize = 4;
/// How long the source's write lock is waited for: a node writes in short group
/// transactions, so a lock held longer than this is a writer that is not stopping.
const WRITE_LOCK_WAIT: Duration = Duration::from_secs(2);

pub struct Options {
    /// The source SQLite file; it must exist.
    pub source: PathBuf,
    /// `postgres://user:password@host:port/database`
    pub target: String,
    /// A schema to create and fill instead of the connection's default.
    pub schema: Option<String>,
    pub connect_timeout: Duration,
    /// For the crash test only: after copying this table, say so on stdout and wait
    /// to be killed, with the transaction open.
    pub stall_after: Option<String>,
}

/// What was copied, table by table, once verified and committed.
pub struct Report {
    /// (table, rows) in the order they were copied.
    pub tables: Vec<(String, u64)>,
    /// (table.column, the value its sequence was set to).
    pub sequences: Vec<(String, i64)>,
    pub schema_version: i64,
    pub elapsed: Duration,
}

/// Copies every table but the migrations' bookkeeping; refuses a target with any row.
pub async fn run(options: &Options) -> anyhow::Result<Report> {
    let started = Instant::now();
    ensure!(options.source.is_file(), "there is no SQLite store at {}", options.source.display());
    if let Some(schema) = &options.schema {
        ensure!(
            schema.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
                && schema.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                && schema.len() <= 63,
            "--schema {schema:?}: use lowercase letters, digits and _ (at most 63)"
        );
    }
    // A node caught writing is refused before anything else is tried.
    let probe = options.source.clone();
    drop(tokio::task::spawn_blocking(move || write_lock(&probe)).await??);
    // Both stores at this build's schema version, migrated the way nodes do it.
    drop(SqliteStore::open(&options.source).with_context(|| format!("cannot open the SQLite store at {}", options.source.display()))?);
    let config = PostgresConfig {
        url: options.target.clone(),
        pool_size: 1,
        statement_timeout_ms: 60_000,
        connect_timeout_ms: options.connect_timeout.as_millis() as u64,
        schema: options.schema.clone(),
    };
    drop(PostgresStore::connect(config).await.context("cannot open the PostgreSQL store")?);

    let source_path = options.source.clone();
    let source = tokio::task::spawn_blocking(move || Source::open(source_path)).await??;

    let mut target: tokio_postgres::Config = options.target.parse().context("the --to URL")?;
    // The copy may take long: no statement timeout on this session.
    let mut session = "-c statement_timeout=0 -c idle_in_transaction_session_timeout=0".to_string();
    if let Some(schema) = &options.schema {
        session.push_str(&format!(" -c search_path={schema}"));
    }
    target.options(&session).connect_timeout(options.connect_timeout);
    let (mut client, connection) = target.connect(NoTls).await.context("cannot connect to PostgreSQL")?;
    let connection = tokio::spawn(connection);
    let tx = client.transaction().await?;
    let catalog = TargetCatalog::read(&tx).await?;
    let plan = plan(&source.catalog, &catalog)?;

    // Nothing else writes the target until this transaction ends; a second run
    // waits here, then finds the rows of the first.
    tx.batch_execute(&format!("LOCK TABLE {} IN EXCLUSIVE MODE", plan.iter().map(|t| ident(&t.name)).collect::<Vec<_>>().join(", "))).await?;
    let mut occupied = Vec::new();
    for table in &plan {
        if tx.query_one(&format!("SELECT EXISTS (SELECT 1 FROM {}) AS any", ident(&table.name)), &[]).await?.try_get::<_, bool>("any")? {
            occupied.push(table.name.as_str());
        }
    }
    ensure!(
        occupied.is_empty(),
        "the target {} is not empty ({} hold rows): migrate-data copies into an empty database only, \
         so that a failed run can simply be run again. Give a new database, or a new --schema",
        target_name(&options.schema),
        occupied.join(", ")
    );

    let source_counts = source.catalog.counts.clone();
    let source_sequences = source.catalog.sequences.clone();
    let (rows_out, mut rows_in) = tokio::sync::mpsc::channel(BATCHES_IN_FLIGHT);
    let order: Vec<Table> = plan.clone();
    let reader = tokio::task::spawn_blocking(move || source.stream(&order, rows_out));

    let mut copied = Vec::new();
    for table in &plan {
        let table_started = Instant::now();
        let rows = copy_table(&tx, table, &mut rows_in, source_counts[&table.name]).await?;
        eprintln!("copied {} ({rows} rows, {:.2} s)", table.name, table_started.elapsed().as_secs_f64());
        copied.push((table.name.clone(), rows));
        if options.stall_after.as_deref() == Some(table.name.as_str()) {
            println!("stalling after {} with the transaction open", table.name);
            std::future::pending::<()>().await;
        }
    }
    reader.await?;

    let sequences = set_sequences(&tx, &catalog, &source_sequences).await?;
    let mut mismatches = Vec::new();
    for (table, rows) in &copied {
        let count: i64 = tx.query_one(&format!("SELECT count(*) AS n FROM {}", ident(table)), &[]).await?.try_get("n")?;
        let expected = source_counts[table];
        if count as u64 != expected || *rows != expected {
            mismatches.push(format!("{table}: SQLite {expected}, PostgreSQL {count}"));
        }
    }
    ensure!(mismatches.is_empty(), "row counts differ, nothing was committed: {}", mismatches.join("; "));
    tx.commit().await.context("committing the copy")?;
    drop(client);
    let _ = connection.await;
    Ok(Report { tables: copied, sequences, schema_version: catalog.version, elapsed: started.elapsed() })
}

/// One table's rows from the reader into a binary `COPY`; answers how many.
async fn copy_table(
    tx: &tokio_postgres::Transaction<'_>,
    table: &Table,
    rows_in: &mut tokio::sync::mpsc::Receiver<anyhow::Result<Batch>>,
    expected: u64,
) -> anyhow::Result<u64> {
    let columns = table.columns.iter().map(|c| ident(&c.name)).collect::<Vec<_>>().join(", ");
    let sink = tx.copy_in(&format!("COPY {} ({columns}) FROM STDIN (FORMAT binary)", ident(&table.name))).await?;
    let types: Vec<Type> = table.columns.iter().map(|c| c.pg_type.clone()).collect();
    let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &types));
    let mut written = 0u64;
    let streamed = loop {
        match rows_in.recv().await {
            Some(Ok(Batch::Rows(rows))) => {
                for row in &rows {
                    writer.as_mut().write_raw(row.iter()).await.with_context(|| format!("copying {}", table.name))?;
                    written += 1;
                    if written.is_multiple_of(1_000_000) {
                        eprintln!("  {}: {written} of {expected} rows", table.name);
                    }
                }
            }
            Some(Ok(Batch::End(rows))) => break rows,
            Some(Err(error)) => return Err(error),
            // The reader sends its failures; it only vanishes by panicking.
            None => bail!("the SQLite reader stopped while reading {}", table.name),
        }
    };
    let in_copy = writer.as_mut().finish().await.with_context(|| format!("copying {}", table.name))?;
    ensure!(streamed == written && in_copy == written, "{}: read {streamed} rows, wrote {written}, PostgreSQL took {in_copy}", table.name);
    Ok(written)
}

fn target_name(schema: &Option<String>) -> String {
    schema.as_ref().map(|s| format!("schema {s:?}")).unwrap_or_else(|| "database".into())
}

/// A quoted SQL identifier (the same spelling in both engines).
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// What the source holds, read in its snapshot.
struct SourceCatalog {
    version: i64,
    /// Table → (column, declared type), in declaration order.
    tables: BTreeMap<String, Vec<(String, String)>>,
    counts: HashMap<String, u64>,
    /// SQLite's AUTOINCREMENT counters (`sqlite_sequence`): an id once given out is
    /// never given again, even if its row is gone.
    sequences: HashMap<String, i64>,
}

/// The SQLite side: a read-only connection in one read transaction, and a second
/// connection holding the write lock for as long as they are read.
struct Source {
    reader: Connection,
    _write_lock: Connection,
    catalog: SourceCatalog,
}

impl Source {
    fn open(path: PathBuf) -> anyhow::Result<Self> {
        let write_lock = write_lock(&path)?;
        let reader = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        reader.execute_batch("BEGIN")?;
        let version: i64 = reader.query_row(&format!("SELECT COALESCE(MAX(version), 0) FROM {MIGRATIONS_TABLE}"), [], |r| r.get(0))?;
        let names: Vec<String> = reader
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut tables = BTreeMap::new();
        let mut counts = HashMap::new();
        for name in names.into_iter().filter(|n| n != MIGRATIONS_TABLE) {
            let columns: Vec<(String, String)> = reader
                .prepare("SELECT name, type FROM pragma_table_info(?1) ORDER BY cid")?
                .query_map([&name], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            let count: i64 = reader.query_row(&format!("SELECT count(*) FROM {}", ident(&name)), [], |r| r.get(0))?;
            counts.insert(name.clone(), count as u64);
            tables.insert(name, columns);
        }
        let has_sequences: bool = reader.query_row("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence')", [], |r| r.get(0))?;
        let mut sequences = HashMap::new();
        if has_sequences {
            let mut statement = reader.prepare("SELECT name, seq FROM sqlite_sequence")?;
            for row in statement.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
                let (table, seq) = row?;
                sequences.insert(table, seq);
            }
        }
        let catalog = SourceCatalog { version, tables, counts, sequences };
        Ok(Self { reader, _write_lock: write_lock, catalog })
    }

    /// Sends every table's rows in `order`, each table closed by its count, or the
    /// failure that stopped it. Stops when the receiver is gone (the copy failed).
    /// The write lock goes with `self` once everything is read.
    fn stream(self, order: &[Table], out: tokio::sync::mpsc::Sender<anyhow::Result<Batch>>) {
        for table in order {
            let columns = table.columns.iter().map(|c| ident(&c.name)).collect::<Vec<_>>().join(", ");
            let read = (|| -> anyhow::Result<bool> {
                let mut statement = self.reader.prepare(&format!("SELECT {columns} FROM {}", ident(&table.name)))?;
                let mut rows = statement.query([])?;
                let (mut batch, mut bytes, mut count) = (Vec::with_capacity(BATCH_ROWS), 0usize, 0u64);
                while let Some(row) = rows.next()? {
                    count += 1;
                    let mut cells = Vec::with_capacity(table.columns.len());
                    for (i, column) in table.columns.iter().enumerate() {
                        let cell = Cell::convert(row.get_ref(i)?, column.target)
                            .map_err(|why| anyhow::anyhow!("{}.{} (row {count}): {why}", table.name, column.name))?;
                        bytes += cell.size();
                        cells.push(cell);
                    }
                    batch.push(cells);
                    if batch.len() >= BATCH_ROWS || bytes >= BATCH_BYTES {
                        if out.blocking_send(Ok(Batch::Rows(std::mem::take(&mut batch)))).is_err() {
                            return Ok(false);
                        }
                        bytes = 0;
                    }
                }
                if !batch.is_empty() && out.blocking_send(Ok(Batch::Rows(batch))).is_err() {
                    return Ok(false);
                }
                Ok(out.blocking_send(Ok(Batch::End(count))).is_ok())
            })();
            match read {
                Ok(true) => {}
                Ok(false) => return,
                Err(error) => {
                    let _ = out.blocking_send(Err(error));
                    return;
                }
            }
        }
    }
}

/// A connection holding SQLite's write lock (it writes nothing; closing it lets go),
/// or the refusal of a store that is being written to.
fn write_lock(path: &std::path::Path) -> anyhow::Result<Connection> {
    let connection = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    connection.busy_timeout(WRITE_LOCK_WAIT)?;
    connection.execute_batch("BEGIN IMMEDIATE").map_err(|error| match error.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            anyhow::anyhow!("{} is being written to: stop every node that uses it, then run migrate-data again", path.display())
        }
        _ => anyhow::Error::new(error).context("cannot lock the SQLite store"),
    })?;
    Ok(connection)
}

enum Batch {
    Rows(Vec<Vec<Cell>>),
    /// The table is done: this many rows were sent.
    End(u64),
}

/// What the target holds: its tables' columns with their types, the order foreign
/// keys impose, and the columns a sequence fills.
struct TargetCatalog {
    version: i64,
    /// Table → (column, type), in the table's column order; generated columns left out.
    tables: BTreeMap<String, Vec<(String, Type)>>,
    /// (table, column) that PostgreSQL generates: SQLite may keep them as plain
    /// columns (its triggers compute them), and they are not copied.
    generated: BTreeSet<(String, String)>,
    /// (table, the table it references)
    references: Vec<(String, String)>,
    /// (table, column, sequence)
    serials: Vec<(String, String, String)>,
}

impl TargetCatalog {
    async fn read(tx: &tokio_postgres::Transaction<'_>) -> anyhow::Result<Self> {
        let version: i64 = tx.query_one(&format!("SELECT COALESCE(MAX(version), 0)::bigint AS v FROM {MIGRATIONS_TABLE}"), &[]).await?.try_get("v")?;
        let names = tx
            .query(
                "SELECT table_name::text AS name FROM information_schema.tables
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name::text <> $1",
                &[&MIGRATIONS_TABLE],
            )
            .await?;
        let mut tables = BTreeMap::new();
        for row in names {
            let name: String = row.try_get("name")?;
            let columns = tx
                .query(
                    // A generated column is PostgreSQL's own to compute (and to
                    // refuse in a COPY): neither copied nor looked for in the source.
                    "SELECT column_name::text AS name FROM information_schema.columns
                     WHERE table_schema = current_schema() AND table_name::text = $1 AND is_generated = 'NEVER'
                     ORDER BY ordinal_position",
                    &[&name],
                )
                .await?
                .iter()
                .map(|r| r.try_get::<_, String>("name"))
                .collect::<Result<Vec<_>, _>>()?;
            // The types exactly as the COPY will be told them.
            let list = columns.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ");
            let statement = tx.prepare(&format!("SELECT {list} FROM {}", ident(&name))).await?;
            let typed = statement.columns().iter().map(|c| (c.name().to_string(), c.type_().clone())).collect();
            tables.insert(name, typed);
        }
        let references = tx
            .query(
                "SELECT child.relname::text AS child, parent.relname::text AS parent
                 FROM pg_constraint c
                 JOIN pg_class child ON child.oid = c.conrelid
                 JOIN pg_class parent ON parent.oid = c.confrelid
                 JOIN pg_namespace n ON n.oid = c.connamespace
                 WHERE c.contype = 'f' AND n.nspname = current_schema()",
                &[],
            )
            .await?
            .iter()
            .map(|r| Ok((r.try_get("child")?, r.try_get("parent")?)))
            .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
        let serials = tx
            .query(
                "SELECT table_name::text AS t, column_name::text AS c,
                        pg_get_serial_sequence(format('%I.%I', table_schema, table_name), column_name) AS s
                 FROM information_schema.columns
                 WHERE table_schema = current_schema()
                   AND pg_get_serial_sequence(format('%I.%I', table_schema, table_name), column_name) IS NOT NULL",
                &[],
            )
            .await?
            .iter()
            .map(|r| Ok((r.try_get("t")?, r.try_get("c")?, r.try_get("s")?)))
            .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
        let generated = tx
            .query(
                "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns
                 WHERE table_schema = current_schema() AND is_generated <> 'NEVER'",
                &[],
            )
            .await?
            .iter()
            .map(|r| Ok((r.try_get("t")?, r.try_get("c")?)))
            .collect::<Result<_, tokio_postgres::Error>>()?;
        Ok(Self { version, tables, generated, references, serials })
    }
}

#[derive(Clone)]
struct Table {
    name: String,
    /// In the target's column order.
    columns: Vec<Column>,
}

#[derive(Clone)]
struct Column {
    name: String,
    pg_type: Type,
    target: Target,
}

/// The tables to copy, parents before the tables that reference them, each column
/// paired with its type on both sides. Refuses any difference between the schemas.
fn plan(source: &SourceCatalog, target: &TargetCatalog) -> anyhow::Result<Vec<Table>> {
    ensure!(
        source.version == target.version,
        "the SQLite store is at schema version {} and PostgreSQL at {}: both must be at this build's latest",
        source.version,
        target.version
    );
    let (here, there): (BTreeSet<&String>, BTreeSet<&String>) = (source.tables.keys().collect(), target.tables.keys().collect());
    ensure!(
        here == there,
        "the schemas hold different tables: only in SQLite {:?}, only in PostgreSQL {:?}",
        here.difference(&there).collect::<Vec<_>>(),
        there.difference(&here).collect::<Vec<_>>()
    );
    let mut tables = BTreeMap::new();
    for (name, pg_columns) in &target.tables {
        let declared: HashMap<&str, &str> = source.tables[name]
            .iter()
            .filter(|(c, _)| !target.generated.contains(&(name.clone(), c.clone())))
            .map(|(c, t)| (c.as_str(), t.as_str()))
            .collect();
        ensure!(
            declared.len() == pg_columns.len() && pg_columns.iter().all(|(c, _)| declared.contains_key(c.as_str())),
            "table {name} has columns {:?} in SQLite and {:?} in PostgreSQL",
            source.tables[name].iter().map(|(c, _)| c).collect::<Vec<_>>(),
            pg_columns.iter().map(|(c, _)| c).collect::<Vec<_>>()
        );
        let mut columns = Vec::new();
        for (column, pg_type) in pg_columns {
            let target = Target::pair(declared[column.as_str()], pg_type)
                .with_context(|| format!("column {name}.{column}: SQLite {} to PostgreSQL {pg_type}", declared[column.as_str()]))?;
            columns.push(Column { name: column.clone(), pg_type: pg_type.clone(), target });
        }
        tables.insert(name.clone(), Table { name: name.clone(), columns });
    }
    // Parents first (Kahn's algorithm, by name among the ready ones).
    let mut parents: BTreeMap<&str, BTreeSet<&str>> = tables.keys().map(|t| (t.as_str(), BTreeSet::new())).collect();
    for (child, parent) in &target.references {
        if let Some(set) = parents.get_mut(child.as_str()) {
            if tables.contains_key(parent) {
                set.insert(parent.as_str());
            }
        }
    }
    let mut order = Vec::new();
    while !parents.is_empty() {
        let Some(ready) = parents.iter().find(|(_, p)| p.is_empty()).map(|(t, _)| *t) else {
            bail!("the foreign keys between {:?} form a cycle", parents.keys().collect::<Vec<_>>());
        };
        parents.remove(ready);
        for set in parents.values_mut() {
            set.remove(ready);
        }
        order.push(tables[ready].clone());
    }
    Ok(order)
}

/// Moves every sequence past the highest id copied (and past SQLite's own counter
/// for the table), so that new rows never reuse an id.
async fn set_sequences(tx: &tokio_postgres::Transaction<'_>, target: &TargetCatalog, counters: &HashMap<String, i64>) -> anyhow::Result<Vec<(String, i64)>> {
    let mut set = Vec::new();
    for (table, column, sequence) in &target.serials {
        let max: Option<i64> = tx.query_one(&format!("SELECT MAX({})::bigint AS m FROM {}", ident(column), ident(table)), &[]).await?.try_get("m")?;
        let Some(value) = max.into_iter().chain(counters.get(table).copied()).max().filter(|v| *v > 0) else { continue };
        tx.execute("SELECT setval(CAST($1::text AS regclass), $2)", &[sequence, &value]).await?;
        set.push((format!("{table}.{column}"), value));
    }
    Ok(set)
}

/// The PostgreSQL type a column's values are written as.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Target {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Text,
    Json,
    Jsonb,
    Bytea,
}

impl Target {
    /// The conversion from a column SQLite declares as `declared` (by SQLite's
    /// affinity rules) to one of type `pg`; a pairing not listed is refused.
    fn pair(declared: &str, pg: &Type) -> anyhow::Result<Target> {
        let declared = declared.to_ascii_uppercase();
        let affinity = if declared.contains("INT") {
            "INTEGER"
        } else if ["CHAR", "CLOB", "TEXT"].iter().any(|t| declared.contains(t)) {
            "TEXT"
        } else if declared.contains("BLOB") || declared.is_empty() {
            "BLOB"
        } else if ["REAL", "FLOA", "DOUB"].iter().any(|t| declared.contains(t)) {
            "REAL"
        } else {
            "NUMERIC"
        };
        let target = match pg {
            t if *t == Type::BOOL => Target::Bool,
            t if *t == Type::INT2 => Target::Int2,
            t if *t == Type::INT4 => Target::Int4,
            t if *t == Type::INT8 => Target::Int8,
            t if *t == Type::FLOAT4 => Target::Float4,
            t if *t == Type::FLOAT8 => Target::Float8,
            t if [Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::NAME].contains(t) => Target::Text,
            t if *t == Type::JSON => Target::Json,
            t if *t == Type::JSONB => Target::Jsonb,
            t if *t == Type::BYTEA => Target::Bytea,
            other => bail!("no conversion to PostgreSQL's {other}"),
        };
        let fits = match affinity {
            "INTEGER" => matches!(target, Target::Bool | Target::Int2 | Target::Int4 | Target::Int8),
            "TEXT" => matches!(target, Target::Text | Target::Json | Target::Jsonb),
            "BLOB" => target == Target::Bytea,
            "REAL" => matches!(target, Target::Float4 | Target::Float8),
            _ => false,
        };
        ensure!(fits, "no conversion from SQLite's {affinity} affinity to {target:?}");
        Ok(target)
    }
}

/// One value on its way to PostgreSQL, already in the type of its column.
#[derive(Debug)]
enum Cell {
    Null,
    Bool(bool),
    Int2(i16),
    Int4(i32),
    Int8(i64),
    Float4(f32),
    Float8(f64),
    /// Checked UTF-8 without NUL, written as text (json and text alike).
    Text(Vec<u8>),
    Jsonb(Vec<u8>),
    Bytes(Vec<u8>),
}

impl Cell {
    fn convert(value: ValueRef<'_>, target: Target) -> Result<Cell, String> {
        let text = |bytes: &[u8]| -> Result<Vec<u8>, String> {
            std::str::from_utf8(bytes).map_err(|_| "text that is not UTF-8".to_string())?;
            if bytes.contains(&0) {
                return Err("text holding a NUL character, which PostgreSQL cannot store".into());
            }
            Ok(bytes.to_vec())
        };
        let out_of_range = |i: i64| format!("{i} does not fit PostgreSQL's {target:?}");
        Ok(match (value, target) {
            (ValueRef::Null, _) => Cell::Null,
            // As the store's codec reads a flag.
            (ValueRef::Integer(i), Target::Bool) => Cell::Bool(i != 0),
            (ValueRef::Integer(i), Target::Int2) => Cell::Int2(i16::try_from(i).map_err(|_| out_of_range(i))?),
            (ValueRef::Integer(i), Target::Int4) => Cell::Int4(i32::try_from(i).map_err(|_| out_of_range(i))?),
            (ValueRef::Integer(i), Target::Int8) => Cell::Int8(i),
            // A REAL column may hand back an integral value as an integer.
            (ValueRef::Integer(i), Target::Float4) => Cell::Float4(i as f32),
            (ValueRef::Integer(i), Target::Float8) => Cell::Float8(i as f64),
            (ValueRef::Real(f), Target::Float4) => Cell::Float4(f as f32),
            (ValueRef::Real(f), Target::Float8) => Cell::Float8(f),
            (ValueRef::Text(t), Target::Text | Target::Json) => Cell::Text(text(t)?),
            (ValueRef::Text(t), Target::Jsonb) => Cell::Jsonb(text(t)?),
            (ValueRef::Blob(b) | ValueRef::Text(b), Target::Bytea) => Cell::Bytes(b.to_vec()),
            (other, target) => return Err(format!("a {:?} value where {target:?} is expected", other.data_type())),
        })
    }

    /// Roughly the bytes it holds.
    fn size(&self) -> usize {
        match self {
            Cell::Text(b) | Cell::Jsonb(b) | Cell::Bytes(b) => b.len() + 24,
            _ => 16,
        }
    }
}

impl ToSql for Cell {
    /// PostgreSQL's binary format of each type.
    fn to_sql(&self, _: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        use bytes::BufMut;
        match self {
            Cell::Null => return Ok(IsNull::Yes),
            Cell::Bool(v) => out.put_u8(u8::from(*v)),
            Cell::Int2(v) => out.put_i16(*v),
            Cell::Int4(v) => out.put_i32(*v),
            Cell::Int8(v) => out.put_i64(*v),
            Cell::Float4(v) => out.put_f32(*v),
            Cell::Float8(v) => out.put_f64(*v),
            Cell::Text(v) | Cell::Bytes(v) => out.put_slice(v),
            Cell::Jsonb(v) => {
                out.put_u8(1); // jsonb's binary format version
                out.put_slice(v);
            }
        }
        Ok(IsNull::No)
    }

    /// Every cell was made for its column's type (`Target::pair`).
    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_sqlite_affinities_with_postgres_types() {
        assert_eq!(Target::pair("INTEGER", &Type::BOOL).unwrap(), Target::Bool);
        assert_eq!(Target::pair("INTEGER", &Type::INT8).unwrap(), Target::Int8);
        assert_eq!(Target::pair("TEXT", &Type::JSONB).unwrap(), Target::Jsonb);
        assert_eq!(Target::pair("BLOB", &Type::BYTEA).unwrap(), Target::Bytea);
        assert_eq!(Target::pair("REAL", &Type::FLOAT8).unwrap(), Target::Float8);
        assert!(Target::pair("TEXT", &Type::INT8).is_err());
        assert!(Target::pair("INTEGER", &Type::TIMESTAMPTZ).is_err());
    }

    #[test]
    fn converts_values_or_says_why_not() {
        assert!(matches!(Cell::convert(ValueRef::Integer(2), Target::Bool), Ok(Cell::Bool(true))));
        assert!(matches!(Cell::convert(ValueRef::Null, Target::Int4), Ok(Cell::Null)));
        assert!(Cell::convert(ValueRef::Integer(1 << 40), Target::Int4).is_err());
        assert!(Cell::convert(ValueRef::Text(b"a\0b"), Target::Text).is_err());
        assert!(Cell::convert(ValueRef::Text(&[0xff]), Target::Text).is_err());
        assert!(Cell::convert(ValueRef::Text(b"x"), Target::Int8).is_err());
        assert!(matches!(Cell::convert(ValueRef::Integer(3), Target::Float8), Ok(Cell::Float8(f)) if f == 3.0));
    }
}
