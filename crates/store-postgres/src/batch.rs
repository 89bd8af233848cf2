//! Group commit for the Send API's hot path: concurrent `append_message` calls are
//! queued and written together, one transaction and one commit for a whole group,
//! with one multi-row statement per table. Every caller is answered only after the
//! commit. A group that fails (one duplicate `mid`, say) is retried member by member,
//! so that only the bad member fails; a group the database failed (unavailable) is
//! not retried: every member is answered at once that it may retry.
//!
//! The writer runs on a thread of its own, with a connection of its own: on the
//! node's workers a group's round trips waited behind the requests being served
//! (ANALYSIS.md, "The tail on PostgreSQL at half its peak").

use crate::errors::{pg, pool as pool_error};
use crate::BEGIN_GENERIC;
use std::collections::BTreeMap;
use crate::columns::PgRow;
use switchboard_domain::{AppId, Direction, Message, PageId, PersonId};
use switchboard_store::codec::{self, Columns};
use std::time::Instant;
use switchboard_store::{error_chain, timing, Conflict, NewOutboxEvent, StoreError, StoreResult};
use tokio::sync::{mpsc, oneshot};
use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;

/// Members of one group at most.
const MAX_GROUP: usize = 256;
/// Appends waiting before callers are slowed down.
const QUEUE: usize = 4096;

struct Append {
    message: Message,
    events: Vec<NewOutboxEvent>,
    answer: oneshot::Sender<Written>,
}

/// An append's outcome, and when its group began to be written (for the request's
/// steps: what came before was waiting for earlier groups).
struct Written {
    result: StoreResult<()>,
    began: Instant,
}

/// One writer, one group in flight: what arrives while a group is written waits
/// for it and goes in the next. A group's cost in PostgreSQL is mostly the
/// group's (its statements, its commit's fsync), so the larger the groups, the
/// less each message costs; two writers made groups half as large whose commits
/// still waited for each other's WAL flush (ANALYSIS.md, "One group writer, not
/// two": the Send API at 16 connections gained 46 %).
#[derive(Clone)]
pub(crate) struct AppendBatcher {
    writer: mpsc::Sender<Append>,
}

/// The writer's connections: one for its groups (a bad member's retry takes the
/// same one, after its group).
pub(crate) const CONNECTIONS: usize = 1;

impl AppendBatcher {
    /// Starts the writer on a thread of its own, with `pool`'s connection: a
    /// group's round trips then never wait behind the requests queued on the node's
    /// workers. The thread ends when the batcher is dropped.
    pub(crate) fn start(pool: deadpool_postgres::Pool) -> StoreResult<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| crate::errors::internal("the group writer's runtime", e))?;
        let (writer, incoming) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("pg-group-writer".into())
            .spawn(move || runtime.block_on(run(pool, incoming)))
            .map_err(|e| crate::errors::internal("the group writer's thread", e))?;
        Ok(Self { writer })
    }

    pub(crate) async fn append(&self, message: Message, events: Vec<NewOutboxEvent>) -> StoreResult<()> {
        let (answer, answered) = oneshot::channel();
        let submitted = Instant::now();
        self.writer
            .send(Append { message, events, answer })
            .await
            .map_err(|_| StoreError::unavailable("the store is shutting down"))?;
        let written = answered.await.map_err(|_| StoreError::unavailable("the batch writer stopped before answering"))?;
        timing::detail("store.queued", written.began.saturating_duration_since(submitted));
        timing::detail("store.group", written.began.elapsed());
        written.result
    }
}

/// A new thread is owned by the app its first message opens it to; the statement
/// answers each thread's owner, read under its row lock.
/// It also keeps the thread's first message and the Page's first answer, and brings
/// a Done thread back to the inbox when the person writes.
const UPSERT_THREADS: &str = "INSERT INTO threads (page_id, person_id, last_message_at, last_person_at, owner_app_id, owner_since,
        first_message_at, page_answered_at)
     SELECT p, r, l, a, o, CASE WHEN o IS NULL THEN NULL ELSE l END, f, w
     FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::bigint[], $7::bigint[]) AS u(p, r, l, a, o, f, w)
     ON CONFLICT (page_id, person_id) DO UPDATE SET
        last_message_at = GREATEST(threads.last_message_at, excluded.last_message_at),
        last_person_at = GREATEST(threads.last_person_at, excluded.last_person_at),
        first_message_at = COALESCE(threads.first_message_at, excluded.first_message_at),
        page_answered_at = COALESCE(threads.page_answered_at, excluded.page_answered_at),
        folder = CASE WHEN excluded.last_person_at IS NOT NULL AND threads.folder = 'page_done' THEN 'inbox' ELSE threads.folder END
     RETURNING page_id, person_id, owner_app_id, blocked_at";

const INSERT_MESSAGES: &str = "INSERT INTO messages (mid, page_id, person_id, direction, app_id, text, metadata, created_at, attachment,
        quick_replies, reply_to, persona_id)
     SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[],
        $10::text[], $11::text[], $12::text[])";

/// Ids follow the members' order: a thread's events are delivered by id. A thread's
/// first event of the group is its head unless something of it is pending already.
const INSERT_OUTBOX: &str = "INSERT INTO outbox (app_id, page_id, person_id, field, body, created_at, next_attempt_at, is_head)
     SELECT a, p, r, f, b, c, c, h AND (
         SELECT MIN(q.id) FROM outbox q WHERE q.app_id = u.a AND q.page_id = u.p AND q.person_id = u.r AND q.settled_at IS NULL) IS NULL
     FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bytea[], $6::bigint[], $7::bool[])
          WITH ORDINALITY AS u(a, p, r, f, b, c, h, n)
     ORDER BY n";

async fn run(pool: deadpool_postgres::Pool, mut incoming: mpsc::Receiver<Append>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    loop {
        // Take what is queued now.
        let Some(first) = incoming.recv().await else { return };
        group.push(first);
        while group.len() < MAX_GROUP {
            match incoming.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let began = Instant::now();
        let members: Vec<(&Message, &[NewOutboxEvent])> = group.iter().map(|a| (&a.message, a.events.as_slice())).collect();
        match write(&pool, &members).await {
            Ok(()) => {
                for append in group.drain(..) {
                    let _ = append.answer.send(Written { result: Ok(()), began });
                }
            }
            Err(error) if group.len() == 1 => {
                let _ = group.pop().map(|append| append.answer.send(Written { result: Err(error), began }));
            }
            Err(error @ StoreError::Unavailable { .. }) => {
                // The database failed, not a member: retrying each alone would keep
                // the last caller waiting for one connection attempt per member.
                let context = format!("the group holding this message was not written: {}", error_chain(&error));
                let mut members = group.drain(..);
                let _ = members.next().map(|append| append.answer.send(Written { result: Err(error), began }));
                for append in members {
                    let _ = append.answer.send(Written { result: Err(StoreError::unavailable(context.clone())), began });
                }
            }
            Err(_) => {
                // Find the bad member(s): each alone, in its own transaction.
                for append in group.drain(..) {
                    let result = write(&pool, &[(&append.message, append.events.as_slice())]).await;
                    let _ = append.answer.send(Written { result, began });
                }
            }
        }
    }
}

/// Writes the members' messages, thread updates and outbox rows in one transaction
/// of its own, in two round trips: BEGIN goes with the thread upsert, COMMIT with
/// the inserts (when an insert fails, the transaction is aborted and the server
/// answers that COMMIT with a rollback).
async fn write(pool: &deadpool_postgres::Pool, members: &[(&Message, &[NewOutboxEvent])]) -> StoreResult<()> {
    let client = pool.get().await.map_err(pool_error)?;
    let written = write_group(&client, members, Transaction::Own).await;
    if written.is_err() {
        // Refused before its COMMIT (an ownership conflict): the connection goes
        // back to the pool outside any transaction.
        let _ = client.batch_execute("ROLLBACK").await;
    }
    written
}

/// Writes the members' messages, thread updates and outbox rows in the transaction
/// `tx` (a use case that stores a message with another fact brings its own).
pub(crate) async fn write_in(tx: &deadpool_postgres::Transaction<'_>, members: &[(&Message, &[NewOutboxEvent])]) -> StoreResult<()> {
    write_group(tx, members, Transaction::Callers).await
}

/// Whose transaction a group is written in.
#[derive(Clone, Copy, PartialEq)]
enum Transaction {
    /// Its own, begun and committed with the group's statements, pipelined.
    Own,
    /// The caller's, already open and committed by the caller.
    Callers,
}

/// One thread's row in a group: its last message, the person's last message, the
/// app its first message opens it to, its first message, the Page's first.
type ThreadUpsert<'m> = (i64, Option<i64>, Option<&'m str>, i64, Option<i64>);

async fn write_group<C: GenericClient>(client: &C, members: &[(&Message, &[NewOutboxEvent])], transaction: Transaction) -> StoreResult<()> {
    // One row per thread (a row may not be upserted twice in one statement), in a
    // fixed order so that concurrent writers (other nodes, receipts, deliveries)
    // lock threads in the same order.
    let mut threads: BTreeMap<(String, i64), ThreadUpsert> = BTreeMap::new();
    for (message, _) in members {
        let opens_to = message.opens_to.as_ref().map(|a| a.as_str());
        let entry = threads.entry((message.page.0.clone(), message.person.0)).or_insert((message.created_at, None, opens_to, message.created_at, None));
        entry.0 = entry.0.max(message.created_at);
        entry.3 = entry.3.min(message.created_at);
        match message.direction {
            Direction::Inbound => entry.1 = Some(entry.1.map_or(message.created_at, |at: i64| at.max(message.created_at))),
            Direction::Outbound => entry.4 = Some(entry.4.map_or(message.created_at, |at: i64| at.min(message.created_at))),
        }
    }
    let (thread_pages, thread_persons): (Vec<String>, Vec<i64>) = threads.keys().cloned().unzip();
    let thread_last: Vec<i64> = threads.values().map(|v| v.0).collect();
    let thread_person_at: Vec<Option<i64>> = threads.values().map(|v| v.1).collect();
    let thread_opens_to: Vec<Option<&str>> = threads.values().map(|v| v.2).collect();
    let thread_first: Vec<i64> = threads.values().map(|v| v.3).collect();
    let thread_answered: Vec<Option<i64>> = threads.values().map(|v| v.4).collect();

    // The thread rows are locked first, alone: every writer of a thread's outbox
    // events holds that lock, which keeps exactly one head per thread (see
    // `outbox_delivered`) and its owner fixed until the commit.
    let thread_params: [&(dyn ToSql + Sync); 7] =
        [&thread_pages, &thread_persons, &thread_last, &thread_person_at, &thread_opens_to, &thread_first, &thread_answered];
    // Prepared once per connection: afterwards no round trip.
    let upsert_threads = client.prepare_cached(UPSERT_THREADS).await.map_err(pg)?;
    let insert_messages = client.prepare_cached(INSERT_MESSAGES).await.map_err(pg)?;
    let insert_outbox = client.prepare_cached(INSERT_OUTBOX).await.map_err(pg)?;
    // Requests go out in the order `join!` first polls them.
    let begin = async {
        match transaction {
            Transaction::Own => client.batch_execute(BEGIN_GENERIC).await,
            Transaction::Callers => Ok(()),
        }
    };
    let (begun, upserted) = tokio::join!(begin, client.query(&upsert_threads, &thread_params));
    begun.map_err(pg)?;
    let mut owners: BTreeMap<(String, i64), Option<AppId>> = BTreeMap::new();
    for row in upserted.map_err(pg)? {
        let row = PgRow(&row);
        // The person blocked the Page: the thread takes no message either way.
        if row.opt_int("blocked_at")?.is_some() {
            return Err(StoreError::Conflict(Conflict::Blocked));
        }
        owners.insert((row.text("page_id")?, row.int("person_id")?), row.opt_text("owner_app_id")?.map(AppId));
    }
    let owner_of = |page: &PageId, person: PersonId| owners.get(&(page.0.clone(), person.0)).cloned().flatten();
    // The Handover Protocol: an app writes only to a thread it owns (or no one does).
    for (message, _) in members {
        if let (Direction::Outbound, Some(app), Some(owner)) = (message.direction, &message.app, owner_of(&message.page, message.person)) {
            if *app != owner {
                return Err(StoreError::Conflict(Conflict::ThreadOwnedBy(owner)));
            }
        }
    }

    let mids: Vec<&str> = members.iter().map(|(m, _)| m.mid.as_str()).collect();
    let pages: Vec<&str> = members.iter().map(|(m, _)| m.page.as_str()).collect();
    let persons: Vec<i64> = members.iter().map(|(m, _)| m.person.0).collect();
    let directions: Vec<&str> = members.iter().map(|(m, _)| codec::text(m.direction)).collect();
    let apps: Vec<Option<&str>> = members.iter().map(|(m, _)| m.app.as_ref().map(|a| a.as_str())).collect();
    let texts: Vec<Option<&str>> = members.iter().map(|(m, _)| m.text.as_deref()).collect();
    let metadata: Vec<Option<&str>> = members.iter().map(|(m, _)| m.metadata.as_deref()).collect();
    let created: Vec<i64> = members.iter().map(|(m, _)| m.created_at).collect();
    let attachments: Vec<Option<String>> = members.iter().map(|(m, _)| codec::attachment_text(m)).collect();
    let quick_replies: Vec<Option<String>> = members.iter().map(|(m, _)| codec::quick_replies_text(m)).collect();
    let replies_to: Vec<Option<&str>> = members.iter().map(|(m, _)| m.reply_to.as_ref().map(|mid| mid.as_str())).collect();
    let personas: Vec<Option<&str>> = members.iter().map(|(m, _)| m.persona.as_deref()).collect();

    let events: Vec<&NewOutboxEvent> =
        members.iter().flat_map(|(_, events)| events.iter()).filter(|e| e.reaches(owner_of(&e.page, e.person).as_ref())).collect();
    let event_apps: Vec<&str> = events.iter().map(|e| e.app.as_str()).collect();
    let event_pages: Vec<&str> = events.iter().map(|e| e.page.as_str()).collect();
    let event_persons: Vec<i64> = events.iter().map(|e| e.person.0).collect();
    let event_fields: Vec<&str> = events.iter().map(|e| codec::text(e.field)).collect();
    let event_bodies: Vec<&[u8]> = events.iter().map(|e| e.body.as_slice()).collect();
    let event_created: Vec<i64> = events.iter().map(|e| e.created_at).collect();
    // Only a thread's first event in this group may be its head (and only if nothing
    // of the thread is pending already: checked in SQL, under the thread's lock).
    let mut seen = std::collections::HashSet::new();
    let event_first: Vec<bool> = events.iter().map(|e| seen.insert((e.app.as_str(), e.page.as_str(), e.person.0))).collect();

    let message_params: [&(dyn ToSql + Sync); 12] =
        [&mids, &pages, &persons, &directions, &apps, &texts, &metadata, &created, &attachments, &quick_replies, &replies_to, &personas];
    let outbox_params: [&(dyn ToSql + Sync); 7] =
        [&event_apps, &event_pages, &event_persons, &event_fields, &event_bodies, &event_created, &event_first];
    // With the threads locked, the two inserts and the COMMIT are pipelined.
    let commit = async {
        match transaction {
            Transaction::Own => client.batch_execute("COMMIT").await,
            Transaction::Callers => Ok(()),
        }
    };
    // A group whose messages no app is sent (the Send API's, unless an app takes
    // echoes) has no outbox rows: the statement is not sent at all.
    let insert_events = async {
        if events.is_empty() {
            Ok(0)
        } else {
            client.execute(&insert_outbox, &outbox_params).await
        }
    };
    let (messages, outbox, committed) = tokio::join!(client.execute(&insert_messages, &message_params), insert_events, commit);
    // When the messages insert fails (a duplicate mid), the outbox insert fails only
    // because the transaction is aborted: the first error is the one that explains.
    messages.map_err(pg)?;
    outbox.map_err(pg)?;
    committed.map_err(pg)
}
