//! The `switchboard` binary as an operator runs it: operator commands printing JSON,
//! `serve` stopping cleanly on SIGTERM, and the demo with the example bot.

use futures_util::StreamExt;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

fn run_json(data: &Path, args: &[&str]) -> Value {
    let output = std::process::Command::new(BIN).args(args).arg("--data").arg(data).output().expect("the binary runs");
    assert!(output.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {}", String::from_utf8_lossy(&output.stdout)))
}

/// Starts `switchboard <args>` and reads stdout until a line starting with `marker`.
async fn start(args: &[&str], marker: &str) -> (Child, Lines<BufReader<ChildStdout>>, String) {
    let mut child = Command::new(BIN).args(args).stdout(Stdio::piped()).stderr(Stdio::null()).kill_on_drop(true).spawn().expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let line = lines.next_line().await.unwrap().expect("the process printed its address");
            if let Some(rest) = line.trim_start().strip_prefix(marker) {
                return rest.trim().to_string();
            }
        }
    })
    .await
    .expect("the node starts within 20 s");
    (child, lines, line)
}

fn terminate(child: &Child) {
    let pid = child.id().expect("running").to_string();
    let status = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn operator_commands_print_json_and_serve_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let person = run_json(data, &["person", "create", "--name", "Olga Owner", "--login", "olga", "--password", "olga-password"]);
    let person_id = person["id"].as_i64().unwrap().to_string();
    let page = run_json(data, &["page", "create", "--name", "Olga's", "--username", "olgas", "--admin", &person_id]);
    let app = run_json(data, &["app", "create", "--name", "Olga bot", "--admin", &person_id]);
    assert_eq!(app["mode"], "development");
    assert_eq!(app["secret"].as_str().unwrap().len(), 32);
    let shown = run_json(data, &["app", "show", "--app", app["id"].as_str().unwrap()]);
    assert_eq!((&shown["secret"], &shown["policy"]), (&app["secret"], &json!("clear")));
    let app_id = app["id"].as_str().unwrap();
    let blocked = run_json(data, &["app", "policy", "--app", app_id, "--action", "block", "--reason", "Spam"]);
    assert_eq!(blocked, json!({"id": app_id, "policy": "blocked"}));
    let again = std::process::Command::new(BIN).args(["app", "policy", "--app", app_id, "--action", "block", "--reason", "x", "--data"]).arg(data).output().unwrap();
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("blocked already"), "{again:?}");
    assert_eq!(run_json(data, &["app", "policy", "--app", app_id, "--action", "unblock"])["policy"], "clear");
    let grant = run_json(data, &["page", "grant", "--page", page["id"].as_str().unwrap(), "--app", app["id"].as_str().unwrap(), "--person", &person_id]);
    let page_token = grant["access_token"].as_str().unwrap().to_string();
    let failed = std::process::Command::new(BIN).args(["page", "create", "--name", "dup", "--username", "olgas", "--data"]).arg(data).output().unwrap();
    assert!(!failed.status.success());
    assert!(String::from_utf8_lossy(&failed.stderr).contains("taken"));

    let data_arg = data.to_str().unwrap();
    let (child, _lines, url) = start(&["serve", "--data", data_arg, "--listen", "127.0.0.1:0"], "Switchboard is listening on").await;
    let http = reqwest::Client::new();
    let me: Value = http.get(format!("{url}/v21.0/me")).bearer_auth(&page_token).send().await.unwrap().json().await.unwrap();
    assert_eq!(me, json!({"name": "Olga's", "id": page["id"]}));
    terminate(&child);
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output()).await.expect("stops within 20 s").unwrap().status;
    assert!(status.success(), "a clean exit on SIGTERM: {status:?}");
}

#[tokio::test]
async fn settings_come_from_a_file_the_environment_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("switchboard.toml");
    std::fs::write(&config, format!("data = {:?}\nlisten = \"127.0.0.1:1\"\n", dir.path().join("from-file"))).unwrap();
    // The file names the data directory; the environment overrides the listen address; flags win over both.
    let mut child = Command::new(BIN)
        .args(["serve", "--config", config.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .env("SWITCHBOARD_LISTEN", "127.0.0.1:2")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await.unwrap().unwrap().unwrap();
        if let Some(url) = line.strip_prefix("Switchboard is listening on ") {
            break url.to_string();
        }
    };
    assert!(!url.ends_with(":1") && !url.ends_with(":2"), "{url}");
    assert!(dir.path().join("from-file").join("switchboard.db").exists());
    assert!(dir.path().join("from-file").join("master.key").exists());
    terminate(&child);
    child.wait().await.unwrap();
}

#[tokio::test]
async fn the_demo_chats_with_the_example_bot() {
    let bot = Path::new(BIN).with_file_name(format!("echo-bot{}", std::env::consts::EXE_SUFFIX));
    assert!(bot.exists(), "build the example bot first: cargo build --workspace --bins ({} is missing)", bot.display());
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let (child, mut lines, url) = start(&["demo", "--data", data, "--listen", "127.0.0.1:0"], "Switchboard demo is up at").await;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let info: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("demo.json")).unwrap()).unwrap();
    for key in ["graph_url", "app_id", "app_secret", "verify_token", "page_id", "page_access_token", "person_login", "person_password", "person_psid", "person_api_url"] {
        assert!(info[key].as_str().is_some_and(|v| !v.is_empty()), "demo.json lacks {key}: {info}");
    }
    assert_eq!(info["graph_url"], format!("{url}/v21.0"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("demo.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "demo.json holds secrets: owner-only");
    }

    let http = reqwest::Client::new();
    let person_api = info["person_api_url"].as_str().unwrap();
    let login: Value = http
        .post(format!("{person_api}/login"))
        .json(&json!({"login": info["person_login"], "password": info["person_password"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap();
    let events = http.get(format!("{person_api}/events")).bearer_auth(token).send().await.unwrap();
    let mut stream = events.bytes_stream();
    let started = Instant::now();
    let sent = http.post(format!("{person_api}/threads/demo/messages")).bearer_auth(token).json(&json!({"text": "ping"})).send().await.unwrap();
    assert_eq!(sent.status(), 200);
    let mut seen = String::new();
    tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(chunk)) = stream.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("echo: ping") {
                return;
            }
        }
    })
    .await
    .expect("the echo arrives");
    assert!(started.elapsed() < Duration::from_secs(1), "the echo arrived within a second ({:?})", started.elapsed());

    // The bot set its Messenger Profile: Get Started answers with quick replies, the
    // "Show a card" quick reply with a card, and the card's postback button with a text.
    let call = |method: reqwest::Method, path: String, body: Value| {
        let request = http.request(method, format!("{person_api}{path}")).bearer_auth(token).json(&body);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let welcome = call(reqwest::Method::GET, "/pages/demo/welcome".into(), Value::Null).await;
    assert_eq!(welcome["get_started"], true, "{welcome}");
    assert!(welcome["greeting"].as_str().unwrap().starts_with("Hello "), "{welcome}");
    assert_eq!(welcome["ice_breakers"].as_array().map(Vec::len), Some(2), "{welcome}");
    let latest_from_page = |expect: &'static str| {
        let call = &call;
        async move {
            for _ in 0..100 {
                let thread = call(reqwest::Method::GET, "/threads/demo/messages".into(), Value::Null).await;
                let last = thread["messages"].as_array().unwrap().last().cloned().unwrap();
                if last["from"] == "page" && last.to_string().contains(expect) {
                    return last;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("the bot did not answer with {expect}");
        }
    };
    call(reqwest::Method::POST, "/threads/demo/get-started".into(), json!({})).await;
    let offer = latest_from_page("Show a card").await;
    let tap = json!({"quick_reply": {"mid": offer["mid"], "index": 0}});
    call(reqwest::Method::POST, "/threads/demo/messages".into(), tap).await;
    let card = latest_from_page("Say hi").await;
    let tap = json!({"mid": card["mid"], "button": "/elements/0/buttons/0"});
    call(reqwest::Method::POST, "/threads/demo/postbacks".into(), tap).await;
    latest_from_page("You tapped").await;

    // The Page token in demo.json works on the Graph API, and the PSID is the person's.
    let me: Value = http.get(format!("{}/me", info["graph_url"].as_str().unwrap())).bearer_auth(info["page_access_token"].as_str().unwrap()).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["id"], info["page_id"]);
    let sent: Value = http
        .post(format!("{}/me/messages", info["graph_url"].as_str().unwrap()))
        .bearer_auth(info["page_access_token"].as_str().unwrap())
        .json(&json!({"recipient": {"id": info["person_psid"]}, "message": {"text": "by hand"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sent["recipient_id"], info["person_psid"]);
    terminate(&child);
    child.wait_with_output().await.unwrap();
}
