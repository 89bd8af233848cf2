//! The ceiling every figure is divided by: a bare HTTP server of Switchboard's own
//! stack (axum on tokio) answering a small JSON POST the way the Send API answers,
//! with no store, no auth and no webhooks. Prints `listening on <addr>`; stops on
//! SIGTERM or when its standard input closes.

use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

/// Parses the body as the Send API would, answers its shape.
async fn send(Json(body): Json<Value>) -> Json<Value> {
    let recipient = body["recipient"]["id"].as_str().unwrap_or("0").to_string();
    Json(json!({"recipient_id": recipient, "message_id": "m_baseline"}))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let listen = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("listening on {}", listener.local_addr()?);
    let app = Router::new().route("/v21.0/me/messages", post(send));
    // Stop when the parent goes away (its pipe to our stdin closes).
    let stdin_closed = async {
        let mut line = String::new();
        let _ = tokio::io::AsyncBufReadExt::read_line(&mut tokio::io::BufReader::new(tokio::io::stdin()), &mut line).await;
    };
    axum::serve(listener, app).with_graceful_shutdown(stdin_closed).await?;
    Ok(())
}
