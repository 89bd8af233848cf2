//! `preload`: fills an existing Switchboard SQLite database with the filler of a busy
//! installation (persons, Pages, PSIDs, threads and their old, delivered messages), so
//! that the Send API benchmarks can run again against a large store.
//!
//! It writes the engine's tables directly, one connection, outside any server: stop
//! `switchboard serve` first (the file is locked exclusively while this runs, so a
//! server still holding it makes us stop at once). It never writes outbox rows (the
//! conversations are old and delivered) and never drops or recreates an index: what
//! it leaves behind is a schema-identical store. It refuses a database at another
//! schema version than this build's, because it names the columns of that version.
//!
//! Durability is traded for speed during the load only (`synchronous=OFF`): a crash of
//! the machine mid-load may ruin the file, so preload a copy you can lose.

use anyhow::{bail, ensure, Context};
use clap::Parser;
use rusqlite::{params, Connection, OpenFlags};
use serde_json::json;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Parser)]
struct Args {
    /// The Switchboard database (`switchboard.db` in the data directory), created and
    /// migrated by `switchboard serve`, which must be stopped.
    #[arg(long)]
    db: PathBuf,
    /// (Page, person) threads to add; each filler person talks to every filler Page.
    #[arg(long, default_value_t = 1_000_000)]
    threads: u64,
    /// Messages to add, spread evenly over the threads.
    #[arg(long, default_value_t = 10_000_000)]
    messages: u64,
    /// Filler Pages to add.
    #[arg(long, default_value_t = 10)]
    pages: u64,
    /// Seed of the generator; a second run on the same file mixes in what is already there.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Rows per transaction.
    #[arg(long, default_value_t = 100_000)]
    batch: u64,
    /// SQLite page cache during the load, in MiB. The random `mid` index and the
    /// time-ordered inserts into `messages_by_thread` slow down once they outgrow it.
    #[arg(long, default_value_t = 1024)]
    cache_mb: u64,
    /// Leave the planner without statistics, as Switchboard itself does (it never runs ANALYZE).
    #[arg(long)]
    skip_analyze: bool,
}

/// Messages are spread over this many milliseconds before now (30 days).
const WINDOW_MS: i64 = 30 * 24 * 3600 * 1000;
/// A valid Argon2id PHC string whose digest is random bytes: parsing it works, no
/// password matches it, so filler persons exist but nobody can sign in as them.
const DUMMY_PASSWORD_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$ZmlsbGVyZmlsbGVyZmlsbGVy$2kGhsNxk3eqvWtgwfq3oQl2MJ1CzJUjZ4HqE9lVyRxI";
const PERSON_LOGIN_PREFIX: &str = "filler-";
const PAGE_USERNAME_PREFIX: &str = "filler-page-";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(args.pages > 0 && args.threads > 0 && args.batch > 0, "--pages, --threads and --batch must be positive");
    let started = Instant::now();
    let conn = open(&args.db, args.cache_mb)?;
    let existing = Existing::read(&conn)?;
    let mut rng = Rng::new(args.seed ^ existing.person_offset.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ existing.page_offset.rotate_left(32));
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;

    eprintln!("preload: planning {} threads, {} messages", args.threads, args.messages);
    let plan = Plan::new(&args, now, &mut rng);
    let persons = args.threads.div_ceil(args.pages);
    let total = persons + args.pages + 2 * args.threads + args.messages;
    let mut load = Load::new(&conn, args.batch, total)?;

    let app_id = existing.app_id(&conn, &mut rng)?;
    let person_ids = insert_persons(&mut load, &plan, &args, &existing, &mut rng)?;
    let page_ids = insert_pages(&mut load, &args, &existing, &mut rng)?;
    insert_psids(&mut load, &args, &person_ids, &page_ids, &mut rng)?;
    insert_threads(&mut load, &plan, &args, &person_ids, &page_ids)?;
    insert_messages(&mut load, &plan, &args, &person_ids, &page_ids, &app_id, &mut rng)?;
    let rows = load.finish()?;
    let load_seconds = started.elapsed().as_secs_f64();

    let analyzed = Instant::now();
    if !args.skip_analyze {
        eprintln!("preload: ANALYZE");
        conn.execute_batch("ANALYZE; PRAGMA optimize;")?;
    }
    let analyze_seconds = analyzed.elapsed().as_secs_f64();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    let seconds = started.elapsed().as_secs_f64();
    let db_bytes = file_size(&args.db);
    let wal_bytes = file_size(&wal_path(&args.db));
    drop(conn);
    println!(
        "{}",
        json!({
            "threads": args.threads,
            "messages": args.messages,
            "persons": persons,
            "pages": args.pages,
            "rows": rows,
            "seconds": round2(seconds),
            "load_seconds": round2(load_seconds),
            "analyze_seconds": round2(analyze_seconds),
            "rows_per_second": (rows as f64 / seconds).round(),
            "db_bytes": db_bytes,
            "wal_bytes": wal_bytes,
        })
    );
    Ok(())
}

/// Opens the file for this one writer: exclusive lock, durability off until we close.
fn open(path: &Path, cache_mb: u64) -> anyhow::Result<Connection> {
    ensure!(path.is_file(), "{} is not a file: start `switchboard serve` on its data directory once to create it", path.display());
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(std::time::Duration::from_secs(2))?;
    // EXCLUSIVE before the first access: no shared memory, and a server still holding
    // the file makes the first write fail instead of racing us.
    conn.execute_batch(
        "PRAGMA locking_mode = EXCLUSIVE;
         PRAGMA journal_mode = WAL;
         PRAGMA synchronous = OFF;
         PRAGMA temp_store = MEMORY;",
    )?;
    conn.execute_batch(&format!("PRAGMA cache_size = -{};", cache_mb * 1024))?;
    let version: Option<i64> = conn
        .query_row("SELECT MAX(version) FROM schema_migrations", [], |r| r.get(0))
        .context("no schema_migrations: is this a Switchboard database?")?;
    let expected = switchboard_store_sqlite::SCHEMA_VERSION;
    ensure!(version == Some(expected), "schema version {version:?}, this preload writes version {expected}: run this build's `switchboard serve` once first");
    conn.execute_batch("BEGIN IMMEDIATE; COMMIT;").context("cannot lock the database: is `switchboard serve` still running on it?")?;
    Ok(conn)
}

/// What is in the file already, so filler never clashes with it or a previous run.
struct Existing {
    /// The next free `filler-<n>` login number.
    person_offset: u64,
    /// The next free `filler-page-<n>` username number.
    page_offset: u64,
    page_ids: HashSet<String>,
}

impl Existing {
    fn read(conn: &Connection) -> anyhow::Result<Self> {
        let next = |sql: &str, prefix: &str| -> anyhow::Result<u64> {
            let mut s = conn.prepare(sql)?;
            let mut next = 0;
            for handle in s.query_map([], |r| r.get::<_, String>(0))? {
                if let Some(n) = handle?.strip_prefix(prefix).and_then(|n| n.parse::<u64>().ok()) {
                    next = next.max(n + 1);
                }
            }
            Ok(next)
        };
        // Ranges rather than LIKE, so the unique indexes on login and username answer.
        let person_offset = next("SELECT login FROM persons WHERE login >= 'filler-' AND login < 'filler.'", PERSON_LOGIN_PREFIX)?;
        let page_offset = next("SELECT username FROM pages WHERE username >= 'filler-page-' AND username < 'filler-page.'", PAGE_USERNAME_PREFIX)?;
        let page_ids = conn.prepare("SELECT id FROM pages")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
        Ok(Self { person_offset, page_offset, page_ids })
    }

    /// The app the Pages' outbound messages were sent with: the oldest existing one, or
    /// a filler app (live, no webhooks) when there is none.
    fn app_id(&self, conn: &Connection, rng: &mut Rng) -> anyhow::Result<String> {
        let mut s = conn.prepare("SELECT id FROM apps ORDER BY rowid LIMIT 1")?;
        if let Some(id) = s.query_map([], |r| r.get::<_, String>(0))?.next() {
            return Ok(id?);
        }
        let id = rng.node_id();
        conn.execute(
            "INSERT INTO apps (id, name, mode, secret_generation, require_proof) VALUES (?1, 'Filler bot', 'live', 1, 0)",
            [&id],
        )?;
        Ok(id)
    }
}

/// The shape of every filler thread, decided before writing: message times (in order
/// within each thread), and the thread row's watermarks derived from them.
struct Plan {
    threads: Vec<ThreadPlan>,
    /// Every message as (created_at, thread, index in thread), sorted by time, so
    /// `seq` grows with time as in a store that filled up over the month.
    messages: Vec<(i64, u32, u32)>,
}

#[derive(Clone, Copy, Default)]
struct ThreadPlan {
    first_at: i64,
    last_at: i64,
    last_in_at: Option<i64>,
    last_out_at: i64,
    read_at: i64,
}

impl Plan {
    fn new(args: &Args, now: i64, rng: &mut Rng) -> Self {
        ensure_fits(args.threads);
        let mut threads = Vec::with_capacity(args.threads as usize);
        let mut messages = Vec::with_capacity(args.messages as usize);
        let mut times = Vec::new();
        for t in 0..args.threads {
            // Even spread: thread t gets floor((t+1)M/T) - floor(tM/T) messages.
            let count = ((t as u128 + 1) * args.messages as u128 / args.threads as u128
                - t as u128 * args.messages as u128 / args.threads as u128) as u64;
            ensure_fits(count);
            // A conversation starts somewhere in the window and lasts from a minute to a
            // week (log-uniform), ending before now.
            let start = now - WINDOW_MS + rng.below(WINDOW_MS as u64 - 60_000) as i64;
            let span = (60_000.0 * (10_080.0f64).powf(rng.unit())) as i64;
            let end = (start + span).min(now - 1_000).max(start + count as i64);
            times.clear();
            times.extend((0..count).map(|_| start + rng.below((end - start) as u64 + 1) as i64));
            times.sort_unstable();
            for i in 1..times.len() {
                times[i] = times[i].max(times[i - 1] + 1);
            }
            let mut plan = ThreadPlan { first_at: times.first().copied().unwrap_or(start), last_at: start, ..Default::default() };
            let mut previous_out = 0;
            for (i, &at) in times.iter().enumerate() {
                messages.push((at, t as u32, i as u32));
                plan.last_at = at;
                // The person writes first, then the Page answers: even = in, odd = out.
                if i % 2 == 0 {
                    plan.last_in_at = Some(at);
                } else {
                    previous_out = plan.last_out_at;
                    plan.last_out_at = at;
                }
            }
            // The person's client got every answer; most read the last one, some not yet.
            plan.read_at = if rng.below(100) < 85 { plan.last_out_at } else { previous_out };
            threads.push(plan);
        }
        messages.sort_unstable();
        Self { threads, messages }
    }
}

fn ensure_fits(n: u64) {
    assert!(n <= u32::MAX as u64, "at most {} threads and messages per thread", u32::MAX);
}

/// Thread `t` is between filler person `t / pages` and filler Page `t % pages`.
fn thread_ends(t: u64, pages: u64) -> (usize, usize) {
    ((t / pages) as usize, (t % pages) as usize)
}

fn insert_persons(load: &mut Load, plan: &Plan, args: &Args, existing: &Existing, rng: &mut Rng) -> anyhow::Result<Vec<i64>> {
    load.stage("persons");
    let conn = load.conn;
    let mut insert = conn.prepare("INSERT INTO persons (name, login, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)")?;
    let persons = args.threads.div_ceil(args.pages);
    let mut ids = Vec::with_capacity(persons as usize);
    for p in 0..persons {
        let first_contact = (p * args.pages..((p + 1) * args.pages).min(args.threads))
            .map(|t| plan.threads[t as usize].first_at)
            .min()
            .unwrap_or(0);
        // Signed up an hour to three months before first writing to a Page.
        let created_at = first_contact - 3_600_000 - rng.below(90 * 24 * 3_600_000) as i64;
        let name = format!("{} {}", rng.pick(FIRST_NAMES), rng.pick(LAST_NAMES));
        let login = format!("{PERSON_LOGIN_PREFIX}{}", existing.person_offset + p);
        insert.execute(params![name, login, DUMMY_PASSWORD_HASH, created_at])?;
        ids.push(conn.last_insert_rowid());
        load.row()?;
    }
    Ok(ids)
}

fn insert_pages(load: &mut Load, args: &Args, existing: &Existing, rng: &mut Rng) -> anyhow::Result<Vec<String>> {
    load.stage("pages");
    let conn = load.conn;
    let mut insert = conn.prepare("INSERT INTO pages (id, name, username) VALUES (?1, ?2, ?3)")?;
    let mut ids = Vec::new();
    for k in 0..args.pages {
        let id = loop {
            let id = rng.node_id();
            if !existing.page_ids.contains(&id) && !ids.contains(&id) {
                break id;
            }
        };
        let n = existing.page_offset + k;
        let name = format!("{} {} {n}", rng.pick(PAGE_ADJECTIVES), rng.pick(PAGE_NOUNS));
        insert.execute(params![id, name, format!("{PAGE_USERNAME_PREFIX}{n}")])?;
        ids.push(id);
        load.row()?;
    }
    Ok(ids)
}

fn insert_psids(load: &mut Load, args: &Args, persons: &[i64], pages: &[String], rng: &mut Rng) -> anyhow::Result<()> {
    load.stage("psids");
    // OR IGNORE: the (person, Page) key is new, so nothing changed means the random
    // PSID is taken on that Page already: draw another.
    let conn = load.conn;
    let mut insert = conn.prepare("INSERT OR IGNORE INTO psids (person_id, page_id, psid) VALUES (?1, ?2, ?3)")?;
    for t in 0..args.threads {
        let (person, page) = thread_ends(t, args.pages);
        while insert.execute(params![persons[person], pages[page], rng.node_id()])? == 0 {}
        load.row()?;
    }
    Ok(())
}

fn insert_threads(load: &mut Load, plan: &Plan, args: &Args, persons: &[i64], pages: &[String]) -> anyhow::Result<()> {
    load.stage("threads");
    let conn = load.conn;
    let mut insert = conn.prepare(
        "INSERT INTO threads (page_id, person_id, last_person_at, delivered_watermark, read_watermark, last_message_at, page_seen_watermark)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (t, thread) in plan.threads.iter().enumerate() {
        let (person, page) = thread_ends(t as u64, args.pages);
        insert.execute(params![
            pages[page],
            persons[person],
            thread.last_in_at,
            thread.last_out_at,
            thread.read_at,
            thread.last_at,
            thread.last_in_at.unwrap_or(0)
        ])?;
        load.row()?;
    }
    Ok(())
}

fn insert_messages(
    load: &mut Load,
    plan: &Plan,
    args: &Args,
    persons: &[i64],
    pages: &[String],
    app_id: &str,
    rng: &mut Rng,
) -> anyhow::Result<()> {
    load.stage("messages");
    let conn = load.conn;
    let mut insert = conn.prepare(
        "INSERT INTO messages (mid, page_id, person_id, direction, app_id, text, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let mut text = String::with_capacity(256);
    for &(at, t, i) in &plan.messages {
        let (person, page) = thread_ends(t as u64, args.pages);
        let inbound = i % 2 == 0;
        rng.text(&mut text, if inbound { PERSON_SAYS } else { PAGE_SAYS });
        insert.execute(params![
            rng.mid(at),
            pages[page],
            persons[person],
            if inbound { "in" } else { "out" },
            (!inbound).then_some(app_id),
            text,
            at
        ])?;
        load.row()?;
    }
    Ok(())
}

/// Batches rows into large transactions and reports progress every tenth of the total.
struct Load<'c> {
    conn: &'c Connection,
    batch: u64,
    in_batch: u64,
    done: u64,
    total: u64,
    next_report: u64,
    stage: &'static str,
    started: Instant,
}

impl<'c> Load<'c> {
    fn new(conn: &'c Connection, batch: u64, total: u64) -> anyhow::Result<Self> {
        conn.execute_batch("BEGIN")?;
        Ok(Self { conn, batch, in_batch: 0, done: 0, total, next_report: total / 10, stage: "", started: Instant::now() })
    }

    fn stage(&mut self, stage: &'static str) {
        self.stage = stage;
        eprintln!("preload: {stage} ({:.1} s)", self.started.elapsed().as_secs_f64());
    }

    fn row(&mut self) -> anyhow::Result<()> {
        self.done += 1;
        self.in_batch += 1;
        if self.in_batch == self.batch {
            self.conn.execute_batch("COMMIT; BEGIN")?;
            self.in_batch = 0;
        }
        if self.done >= self.next_report && self.total >= 10 {
            let seconds = self.started.elapsed().as_secs_f64();
            eprintln!(
                "preload: {:>3}% {}/{} rows ({}) in {seconds:.1} s, {:.0} rows/s",
                self.done * 100 / self.total,
                self.done,
                self.total,
                self.stage,
                self.done as f64 / seconds
            );
            self.next_report += self.total / 10;
        }
        Ok(())
    }

    fn finish(self) -> anyhow::Result<u64> {
        self.conn.execute_batch("COMMIT")?;
        if self.done != self.total {
            bail!("wrote {} rows, planned {}", self.done, self.total);
        }
        Ok(self.done)
    }
}

/// SplitMix64: small, fast and reproducible from `--seed`; filler needs no more.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len() as u64) as usize]
    }

    /// 16 decimal digits, the first non-zero: the shape of Switchboard's node ids and PSIDs.
    fn node_id(&mut self) -> String {
        format!("{}{:015}", 1 + self.below(9), self.below(1_000_000_000_000_000))
    }

    /// A message id made at `at`, in the shape and order `new_mid` gives them.
    fn mid(&mut self, at: i64) -> String {
        let mut random = [0u8; 24];
        for (chunk, n) in random.chunks_mut(8).zip(std::iter::repeat_with(|| self.next())) {
            chunk.copy_from_slice(&n.to_le_bytes());
        }
        switchboard_domain::ids::mid_at(at as u64, &random).0
    }

    /// Sentences from `from` until a random length of 20 to 200 characters, cut at a word.
    fn text(&mut self, out: &mut String, from: &[&str]) {
        out.clear();
        let target = 20 + self.below(181) as usize;
        while out.len() < target {
            if !out.is_empty() {
                out.push(' ');
            }
            let sentence = self.pick(from);
            match sentence.split_once('#') {
                Some((before, after)) => {
                    let number = 10_000 + self.below(90_000);
                    out.push_str(&format!("{before}#{number}{after}"));
                }
                None => out.push_str(sentence),
            }
        }
        if out.len() > 200 {
            // A space is one byte, so cutting there keeps whole characters.
            let cut = out.as_bytes()[..=200].iter().rposition(|&b| b == b' ').unwrap_or(0);
            out.truncate(cut);
        }
    }
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn wal_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

const FIRST_NAMES: &[&str] = &[
    "Ada", "Ben", "Chloé", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi", "Lars", "Maya", "Nils", "Olga",
    "Pablo", "Quinn", "Rosa", "Sami", "Tara", "Uma", "Victor", "Wen", "Xavier", "Yara", "Zoe",
];
const LAST_NAMES: &[&str] = &[
    "Abbott", "Becker", "Castro", "Dubois", "Eriksen", "Fischer", "García", "Hansen", "Ivanova", "Jensen", "Kowalski", "Lopez",
    "Müller", "Nakamura", "Okafor", "Petrov", "Rossi", "Schmidt", "Tanaka", "Usman", "Varga", "Weber", "Yilmaz", "Zhang",
];
const PAGE_ADJECTIVES: &[&str] = &["Blue", "Corner", "Golden", "Happy", "Northern", "Quick", "Sunny", "Urban"];
const PAGE_NOUNS: &[&str] = &["Bakery", "Bikes", "Books", "Coffee", "Florist", "Garage", "Pharmacy", "Travel"];
/// What people write to a Page. A `#` is followed by a random order number.
const PERSON_SAYS: &[&str] = &[
    "Hi, is this still available?",
    "Hello! Do you deliver on weekends?",
    "Where is my order #? It was supposed to arrive yesterday.",
    "Thanks a lot, that was quick.",
    "Can I change the delivery address for order #?",
    "What are your opening hours on public holidays?",
    "I'd like to return an item, it arrived damaged.",
    "Do you have this in a larger size?",
    "ok",
    "Great, see you tomorrow then!",
    "Is there a discount if I buy two?",
    "My payment went through twice, can you check order #?",
    "Could someone call me back about the booking?",
    "Perfect, thank you so much for your help 🙂",
    "How long does shipping take to Lyon?",
];
/// What Pages (their bots and agents) answer.
const PAGE_SAYS: &[&str] = &[
    "Hi! Thanks for reaching out, how can we help today?",
    "Your order # has shipped and should arrive within 2 business days.",
    "We're open 9am to 6pm Monday to Saturday.",
    "Sorry about that! We've issued a refund for order #.",
    "Yes, it's in stock. Would you like us to reserve one for you?",
    "You can track your parcel here: https://example.com/track",
    "Thanks, we've updated the delivery address.",
    "An agent will get back to you shortly.",
    "Returns are free within 30 days, just reply with a photo of the item.",
    "Happy to help! Anything else?",
    "We deliver on Saturdays between 10am and 2pm.",
    "Buy two and get 15% off, the discount applies at checkout.",
    "Your booking is confirmed. See you then!",
];
