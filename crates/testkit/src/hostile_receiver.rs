//! Webhook receivers that misbehave on purpose, on raw TCP: each answers the
//! subscription handshake as a bot does, so that an app can be subscribed to it,
//! then treats every POST badly (never answers, answers a byte a second, resets
//! the connection), until it is told to answer again. Each records its
//! connections, when they opened, when their first POST arrived and when they
//! closed, so that a test can measure how long the sender held on.

use crate::receiver::messaging_events;
use crate::{TestApp, TestPage, TestPerson, TestServer};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What a hostile receiver does with a POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Reads the request and never answers; keeps the socket open until the sender
    /// closes it.
    Silent,
    /// Answers a valid `200 OK`, one byte a second: the whole answer takes longer
    /// than any webhook timeout.
    Trickle,
    /// Closes the connection with a TCP reset (`SO_LINGER` 0) once the request is read.
    Reset,
    /// Answers `200 OK` at once, keeping the body: the receiver has healed.
    Answer,
}

/// The answer a trickling receiver sends, byte by byte.
const TRICKLED_ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
/// The largest request head or body read; a webhook POST is far smaller.
const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// One connection the sender opened.
#[derive(Debug, Clone, Copy)]
pub struct Connection {
    pub opened: Instant,
    /// When its first POST had been read whole.
    pub first_post: Option<Instant>,
    pub posts: usize,
    /// When the sender closed it (or this receiver reset it).
    pub closed: Option<Instant>,
}

impl Connection {
    /// How long the sender held the connection after its POST: from the POST read
    /// whole to the close. `None` while it is open or if it carried no POST.
    pub fn held(&self) -> Option<Duration> {
        Some(self.closed?.duration_since(self.first_post?))
    }
}

#[derive(Clone)]
pub struct HostileReceiver {
    url: String,
    shared: Arc<Shared>,
}

/// What the receiver and its connections' tasks share.
struct Shared {
    behaviour: Mutex<Behaviour>,
    verify_token: String,
    connections: Mutex<Vec<Connection>>,
    /// The bodies of the POSTs answered `200 OK`, in order.
    answered: Mutex<Vec<Value>>,
}

impl HostileReceiver {
    /// Starts listening on a port-0 socket of 127.0.0.1.
    pub async fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/webhook", listener.local_addr().expect("addr"));
        let shared = Arc::new(Shared {
            behaviour: Mutex::new(behaviour),
            verify_token: "test-verify-token".to_string(),
            connections: Mutex::default(),
            answered: Mutex::default(),
        });
        let serving = shared.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serving.clone().serve(stream));
            }
        });
        Self { url, shared }
    }

    /// The callback URL to subscribe.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The verify token the handshake expects.
    pub fn verify_token(&self) -> &str {
        &self.shared.verify_token
    }

    /// What the receiver does with the next POSTs.
    pub fn behaviour(&self) -> Behaviour {
        *self.shared.behaviour.lock().unwrap()
    }

    /// Changes what the receiver does with the next POSTs (those held now keep
    /// their treatment): `Behaviour::Answer` heals it.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *self.shared.behaviour.lock().unwrap() = behaviour;
    }

    /// Every connection so far, in the order they opened.
    pub fn connections(&self) -> Vec<Connection> {
        self.shared.connections.lock().unwrap().clone()
    }

    /// Every `messaging` event of the POSTs answered `200 OK`, in arrival order.
    pub fn answered_events(&self) -> Vec<Value> {
        self.shared.answered.lock().unwrap().iter().flat_map(messaging_events).collect()
    }

    /// POSTs received whole.
    pub fn posts(&self) -> usize {
        self.connections().iter().map(|c| c.posts).sum()
    }

    /// How long the sender held each closed connection that carried a POST, in the
    /// order they opened (of a POST answered, the connection's idle time too).
    pub fn holds(&self) -> Vec<Duration> {
        self.connections().iter().filter_map(Connection::held).collect()
    }

    /// When each POST-carrying connection got its first POST, in order: the
    /// attempts as this receiver saw them.
    pub fn attempts(&self) -> Vec<Instant> {
        let mut attempts: Vec<Instant> = self.connections().iter().filter_map(|c| c.first_post).collect();
        attempts.sort();
        attempts
    }
}

/// An app on a Page whose webhook is a hostile receiver.
pub struct HostileBot {
    pub app: TestApp,
    pub page_token: String,
    pub receiver: HostileReceiver,
}

impl TestServer {
    /// An app named `name` on `page` (live, granted by the Page's `admin`),
    /// subscribed through the real handshake to a receiver that treats its POSTs
    /// with `behaviour`, and installed on the Page for `fields`.
    pub async fn hostile_bot(&self, page: &TestPage, admin: &TestPerson, name: &str, behaviour: Behaviour, fields: &str) -> HostileBot {
        let app = self.app(name).await;
        self.go_live(&app).await;
        let page_token = self.grant(page, &app, admin).await;
        let receiver = HostileReceiver::start(behaviour).await;
        self.subscribe_to(&app, receiver.url(), receiver.verify_token(), fields).await;
        self.install(&page_token, page, fields).await;
        HostileBot { app, page_token, receiver }
    }
}

/// A request as far as this receiver cares.
struct Request {
    method: String,
    target: String,
    body: Vec<u8>,
}

impl Shared {
    async fn serve(self: Arc<Self>, mut stream: TcpStream) {
        let index = {
            let mut connections = self.connections.lock().unwrap();
            connections.push(Connection { opened: Instant::now(), first_post: None, posts: 0, closed: None });
            connections.len() - 1
        };
        let mut buffer = Vec::new();
        while let Some(request) = read_request(&mut stream, &mut buffer).await {
            if request.method != "POST" {
                if stream.write_all(&self.handshake_answer(&request.target)).await.is_err() {
                    break;
                }
                continue;
            }
            self.update(index, |c| {
                c.posts += 1;
                c.first_post.get_or_insert_with(Instant::now);
            });
            let behaviour = *self.behaviour.lock().unwrap();
            match behaviour {
                Behaviour::Answer => {
                    self.answered.lock().unwrap().push(serde_json::from_slice(&request.body).unwrap_or(Value::Null));
                    if stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await.is_err() {
                        break;
                    }
                    continue;
                }
                Behaviour::Silent => {
                    // Whatever comes next is read and ignored, until the sender gives up.
                    let mut sink = [0u8; 1024];
                    while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
                }
                Behaviour::Trickle => trickle(&mut stream).await,
                Behaviour::Reset => {
                    let _ = stream.set_zero_linger();
                }
            }
            break;
        }
        drop(stream);
        self.update(index, |c| c.closed = Some(Instant::now()));
    }

    fn update(&self, index: usize, change: impl FnOnce(&mut Connection)) {
        change(&mut self.connections.lock().unwrap()[index]);
    }

    /// The subscription handshake answered as a bot does: the challenge, when the
    /// mode and the verify token are right.
    fn handshake_answer(&self, target: &str) -> Vec<u8> {
        let query = target.split_once('?').map(|(_, query)| query).unwrap_or("");
        let param = |name: &str| query.split('&').filter_map(|pair| pair.split_once('=')).find(|(key, _)| *key == name).map(|(_, value)| value.to_string());
        let (status, body) = match (param("hub.mode").as_deref(), param("hub.challenge"), param("hub.verify_token")) {
            (Some("subscribe"), Some(challenge), Some(token)) if token == self.verify_token => ("200 OK", challenge),
            _ => ("403 Forbidden", "Forbidden".to_string()),
        };
        format!("HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
    }
}

/// Sends the answer a byte a second, while reading whatever the sender says, until
/// the sender closes the connection (or the answer is out, and the sender is waited for).
async fn trickle(stream: &mut TcpStream) {
    let (mut reader, mut writer) = stream.split();
    let dribble = async {
        for byte in TRICKLED_ANSWER {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if writer.write_all(&[*byte]).await.is_err() {
                return;
            }
        }
        std::future::pending::<()>().await
    };
    let mut sink = [0u8; 1024];
    let closed = async { while matches!(reader.read(&mut sink).await, Ok(n) if n > 0) {} };
    tokio::select! {
        _ = dribble => {}
        _ = closed => {}
    }
}

/// Reads one HTTP/1.1 request (head and a `Content-Length` body) from `stream`,
/// keeping any bytes past it in `buffer`. `None` when the connection ends first.
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Request> {
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        fill(stream, buffer).await?;
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut request_line = head.lines().next()?.split(' ');
    let (method, target) = (request_line.next()?.to_string(), request_line.next()?.to_string());
    let length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        fill(stream, buffer).await?;
    }
    let body = buffer.drain(..head_end + length).skip(head_end).collect();
    Some(Request { method, target, body })
}

/// Reads more of the stream into `buffer`; `None` at its end, on an error or past the bound.
async fn fill(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<()> {
    let mut chunk = [0u8; 8192];
    let read = stream.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
    buffer.extend_from_slice(&chunk[..read]);
    (buffer.len() <= MAX_REQUEST_BYTES).then_some(())
}
