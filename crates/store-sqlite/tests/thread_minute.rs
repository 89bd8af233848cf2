//! The minute of each thread's last message (`threads.active_minute`, the key of a
//! Page's thread index) is kept by the schema's triggers, not by the statements
//! that move a thread on: whichever way a thread is created or moved on, it stays
//! `last_message_at / 60000`, the value PostgreSQL computes for the same column.

use switchboard_domain::*;
use switchboard_store::*;
use switchboard_store_sqlite::SqliteStore;

const MINUTE: Millis = 60_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_way_a_thread_is_written_keeps_its_minute() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.db");
    let store = SqliteStore::open(&path).unwrap();
    let page = PageId("100".into());
    store.create_page(Page { id: page.clone(), name: "Shop".into(), username: "shop".into() }, None).await.unwrap();
    let mut persons = Vec::new();
    for name in ["ann", "bob", "cy"] {
        let new = NewPerson { name: name.into(), login: name.into(), password_hash: "$argon2id$x".into(), created_at: 1 };
        persons.push(store.create_person(new).await.unwrap().id);
    }
    let [ann, bob, cy] = persons[..] else { unreachable!() };
    let message = |mid: &str, person, at| Message::new(Mid(mid.into()), page.clone(), person, Direction::Inbound, None, at);

    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    let minutes = || -> Vec<(i64, Option<i64>)> {
        let mut statement = conn.prepare("SELECT person_id, active_minute FROM threads ORDER BY person_id").unwrap();
        statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap()
    };

    // Created: by a first message, by a receipt before any message, by another
    // program's statement.
    store.append_message(message("a1", ann, MINUTE + 1_000), vec![]).await.unwrap();
    store.advance_receipt(&page, bob, Receipt::Delivered, 5 * MINUTE, vec![]).await.unwrap();
    conn.execute("INSERT INTO threads (page_id, person_id, last_message_at) VALUES ('100', ?1, ?2)", rusqlite::params![cy.0, 7 * MINUTE + 1]).unwrap();
    assert_eq!(minutes(), vec![(ann.0, Some(1)), (bob.0, Some(5)), (cy.0, Some(7))], "created");

    // Moved on: by a next message (two minutes on, then within that minute), by the
    // first message of a thread a receipt created (the upsert's update), by another
    // program's statement.
    store.append_message(message("a2", ann, 3 * MINUTE + 5), vec![]).await.unwrap();
    store.append_message(message("a3", ann, 3 * MINUTE + 59_999), vec![]).await.unwrap();
    store.append_message(message("b1", bob, 6 * MINUTE + 1), vec![]).await.unwrap();
    conn.execute("UPDATE threads SET last_message_at = ?2 WHERE person_id = ?1", rusqlite::params![cy.0, 9 * MINUTE]).unwrap();
    assert_eq!(minutes(), vec![(ann.0, Some(3)), (bob.0, Some(6)), (cy.0, Some(9))], "moved on");
}
