//! The fault runner's installation, built through the APIs like any client's: Pages
//! with one live bot each (its webhook a [`WebhookReceiver`] that verifies both
//! signatures and records every POST it acknowledged, its own echoes included), and
//! persons who wrote to every Page once, so that every (Page, person) thread has a
//! PSID and an open 24-hour window. The nodes serving it come and go; the load reads
//! their current addresses from [`Nodes`].

use serde_json::Value;
use std::sync::RwLock;
use std::time::Instant;
use switchboard_testkit::{Bot, TestServer, ALL_CORE_FIELDS};

/// One conversation the load writes to, from both sides, one write at a time.
pub struct Thread {
    pub page: usize,
    pub page_username: String,
    pub psid: String,
    /// The person's session token (valid on every node of the installation).
    pub session: String,
}

pub struct World {
    pub bots: Vec<Bot>,
    pub threads: Vec<Thread>,
}

impl World {
    /// Builds `pages` bots and `persons` persons through the node at `url`.
    pub async fn build(url: &str, operator: &str, pages: usize, persons: usize) -> World {
        let server = TestServer::external(url, operator);
        let mut bots = Vec::new();
        for n in 0..pages {
            bots.push(server.bot(&format!("fault{n}"), ALL_CORE_FIELDS).await);
        }
        let mut threads = Vec::new();
        for n in 0..persons {
            let person = server.person(&format!("fault-person-{n}")).await;
            let client = server.sign_in(&person).await;
            for (page, bot) in bots.iter().enumerate() {
                let hello = format!("hello from {}", person.login);
                client.send(&bot.page.username, &hello).await;
                let event = bot.receiver.wait_for("the person's first message", |e| e["message"]["text"] == hello.as_str()).await;
                let psid = event["sender"]["id"].as_str().expect("a PSID").to_string();
                threads.push(Thread { page, page_username: bot.page.username.clone(), psid, session: client.token.clone() });
            }
        }
        World { bots, threads }
    }

    /// Every acknowledged `messaging` event with a `mid` (persons' messages and the
    /// bots' echoes) with when it arrived, per bot, in the order its receiver got them.
    pub fn arrivals(&self) -> Vec<Vec<(Instant, Value)>> {
        self.bots.iter().map(|bot| bot.receiver.acknowledged_events_at().into_iter().filter(|(_, e)| e["message"]["mid"].is_string()).collect()).collect()
    }
}

/// The base URLs of an installation's nodes, `None` while a node is down, and how
/// many times each node went down or came back (its *epoch*), so that a call can
/// tell whether its node met a fault while it waited.
#[derive(Default)]
pub struct Nodes {
    urls: RwLock<Vec<(Option<String>, u64)>>,
}

/// The node a call went to.
pub struct Picked {
    pub url: String,
    node: usize,
    epoch: u64,
}

impl Nodes {
    pub fn new(urls: Vec<String>) -> Self {
        Self { urls: RwLock::new(urls.into_iter().map(|url| (Some(url), 0)).collect()) }
    }

    /// The node a request of `turn` goes to: node `turn % n`, or the next one up.
    pub fn pick(&self, turn: usize) -> Option<Picked> {
        let urls = self.urls.read().unwrap();
        (0..urls.len()).map(|k| (turn + k) % urls.len()).find_map(|node| {
            let (url, epoch) = &urls[node];
            url.clone().map(|url| Picked { url, node, epoch: *epoch })
        })
    }

    pub fn set(&self, node: usize, url: Option<String>) {
        let mut urls = self.urls.write().unwrap();
        urls[node] = (url, urls[node].1 + 1);
    }

    /// Whether the picked node went down (or was paused) since it was picked.
    pub fn faulted_since(&self, picked: &Picked) -> bool {
        self.urls.read().unwrap()[picked.node].1 != picked.epoch
    }
}
