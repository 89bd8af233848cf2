//! The suite's report: a JSON document with every figure, a Markdown page with the
//! figures, the ratios to the bare server and each target's verdict, and two charts
//! drawn by hand as SVG (a plotting crate would be the suite's heaviest dependency):
//! the latency distributions by percentile, and the per-second timeline of every
//! paced run, where a stall shows as a spike at the second it began.
//!
//! Every latency row shows p50, p99, p99.9 and max, and every target is a ratio
//! within this one run (the bare server's figures move by a third between runs on
//! this VM, so an absolute number would judge the VM, not the code).

use crate::load::{LoadResult, Paired};
use crate::nodes::PhaseMemory;
use crate::roundtrip::{RoundTrip, ThroughListeners};
use crate::stats::{self, Latencies, Second, Tail};
use crate::{peak, Args, Measured, WARMUP};
use serde::Serialize;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::Path;

/// A node should stay under this much resident memory.
const MEMORY_TARGET_MIB: f64 = 200.0;
/// Delivery through a listener should add less than this to the webhook leg's p50.
const LISTENER_TARGET_MS: f64 = 2.0;

// ---------------------------------------------------------------- the page

/// The Markdown page and the JSON document of one run.
pub fn describe(args: &Args, m: &Measured, total: f64) -> (String, Value) {
    let mut md = String::new();
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let _ = writeln!(md, "# Benchmark report\n");
    let _ = writeln!(
        md,
        "One run of `bench/run.sh` on this machine ({cpus} cores; the load generator, the servers, PostgreSQL and the webhook receiver all share them), {} s per measured run, release builds. Closed-loop runs (each connection sends its next request when the last is answered) start after {} s of warm-up. Open-loop runs send at a fixed rate and time each request from when it was due, so that a stall counts for every request it held up; each is followed by the bare server at the same rate and connections. {} Pages with one live bot each, {} persons who each wrote to every Page; Send API calls go to every (Page, person) pair in turn. The bots take `messages`, deliveries, reads and postbacks (not their own echoes). SQLite: `synchronous=FULL`, group commit: every acknowledged message was fsync'd before its answer. Suite time: {total:.0} s.\n",
        args.seconds,
        WARMUP.as_secs(),
        args.pages,
        args.persons
    );

    send_api_section(&mut md, m);
    pairs_section(&mut md, m);
    if !timeline_panels(m).is_empty() {
        let _ = writeln!(
            md,
            "## Per-second timeline\n\nEvery paced run (the open-loop runs above and each rate of the round trips below), second by second: the p99 and the max of the requests *due* in that second, so a stall shows as a spike at the second it began. Grey: the bare server at the same rate.\n\n![p99 and max per second of each paced run](timeline.svg)\n"
        );
    }
    roundtrip_section(
        &mut md,
        "Person → bot → person (SQLite, 1 node)",
        "A person's message through the person API, its webhook to the bot, the bot's Send API answer, and the answer arriving on the person's live stream; timed from when each message was due (open loop).",
        &m.roundtrip,
    );
    listener_section(&mut md, m.listener.as_ref());
    roundtrip_section(
        &mut md,
        "Person → bot → person (PostgreSQL, 2 nodes)",
        "The same with both nodes serving: person n writes and listens on node a or b by turn, the bots answer through either node by turn, and the webhooks leave from whichever node's dispatcher claimed them.",
        &m.postgres_roundtrip,
    );
    delivery_section(&mut md, &m.delivery);
    super::convos::section(&mut md, &m.convos);
    memory_section(&mut md, m);

    let checks = targets(m);
    let _ = writeln!(md, "## Targets\n\nThe Send API and latency targets are ratios within this run, the listener's a difference within this run, the memory and delivery ones absolute; \"not measured\" where the part was skipped.\n\n| target | measured | verdict |\n|---|---|---|");
    for c in &checks {
        let verdict = if c.verdict == "missed" { "**missed**" } else { c.verdict };
        let _ = writeln!(md, "| {} | {} | {verdict} |", c.target, c.measured);
    }
    let held = |results: &[RoundTrip]| results.iter().filter(|r| r.held).map(|r| r.offered_rate).reduce(f64::max);
    if let Some(rate) = held(&m.roundtrip) {
        let _ = writeln!(md, "\nPerson → bot → person, highest rate held: {rate:.0}/s on SQLite.");
    }
    if let Some(rate) = held(&m.postgres_roundtrip) {
        let _ = writeln!(md, "\nPerson → bot → person, highest rate held: {rate:.0}/s on PostgreSQL with 2 nodes.");
    }

    let document = json!({
        "machine": {"cores": cpus},
        "seconds_per_run": args.seconds,
        "warmup_seconds": WARMUP.as_secs(),
        "world": {"pages": args.pages, "persons": args.persons},
        "baseline": m.baseline,
        "sqlite": m.sqlite,
        "sqlite_half_peak": m.sqlite_half,
        "roundtrip": m.roundtrip,
        "webhook_through_listener": m.listener.as_ref().map(|l| json!({"target_added_p50_ms": LISTENER_TARGET_MS, "run": l})),
        "scale": m.scale,
        "scale_half_peak": m.scale_half,
        "preload": m.preload,
        "migrate": m.migrate,
        "postgres_one_node": m.postgres_one,
        "postgres_half_peak": m.postgres_half,
        "postgres_two_nodes": m.postgres_two,
        "postgres_roundtrip_two_nodes": m.postgres_roundtrip,
        "memory": {"phases": m.memory, "target_mib": MEMORY_TARGET_MIB, "store_mib": {"sqlite": m.sqlite_store_mib, "scale": m.scale_store_mib}},
        "delivery": m.delivery,
        "convos": m.convos,
        "targets": checks,
        "suite_seconds": total,
    });
    (md, document)
}

/// `p50 | p99 | p99.9 | max`, the cells of every latency row.
fn tail_cells(t: &Tail) -> String {
    format!("{:.2} | {:.2} | {:.2} | {:.1}", t.p50_ms, t.p99_ms, t.p999_ms, t.max_ms)
}

/// A second of a timeline as the page names it.
fn second_text(s: Option<&Second>) -> String {
    let Some(s) = s else { return "–".into() };
    let failed = if s.failed > 0 { format!(", {} failed", s.failed) } else { String::new() };
    format!("{}–{} s: max {:.1} ms, p99 {:.2} ms ({} requests{failed})", s.second, s.second + 1, s.max_ms, s.p99_ms, s.count)
}

fn send_api_section(md: &mut String, m: &Measured) {
    let _ = writeln!(md, "## Send API throughput and latency\n");
    let _ = writeln!(md, "| run | connections | requests/s | of baseline | p50 ms | p99 ms | p99.9 ms | max ms | errors |\n|---|---|---|---|---|---|---|---|---|");
    let at = |c: usize| m.baseline.iter().find(|r| r.connections == c).map(|r| r.requests_per_second);
    let mut row = |label: &str, r: &LoadResult, of_baseline: bool| {
        let ratio = at(r.connections).filter(|b| of_baseline && *b > 0.0).map(|b| format!("{:.0} %", 100.0 * r.requests_per_second / b)).unwrap_or_else(|| "–".into());
        let _ = writeln!(md, "| {label} | {} | {:.0} | {ratio} | {} | {} |", r.connections, r.requests_per_second, tail_cells(&r.tail), r.errors);
    };
    let open = |p: &Paired| format!("{}, open loop at {:.0}/s", p.label, p.run.offered_rate.unwrap_or(0.0));
    for r in &m.baseline {
        row("bare axum (baseline)", r, false);
    }
    for r in &m.sqlite {
        row("SQLite", r, true);
    }
    if let Some(p) = &m.sqlite_half {
        row(&open(p), &p.run, false);
    }
    for r in &m.scale {
        row("SQLite, large store", r, true);
    }
    if let Some(p) = &m.scale_half {
        row(&open(p), &p.run, false);
    }
    for r in &m.postgres_one {
        row("PostgreSQL, 1 node", r, true);
    }
    if let Some(p) = &m.postgres_half {
        row(&open(p), &p.run, false);
    }
    for r in &m.postgres_two {
        row("PostgreSQL, 2 nodes", r, true);
    }
    let _ = writeln!(md, "\n![Send API latency by percentile](latency.svg)\n");
}

fn pairs(m: &Measured) -> impl Iterator<Item = &Paired> {
    [&m.sqlite_half, &m.scale_half, &m.postgres_half].into_iter().flatten()
}

fn pairs_section(md: &mut String, m: &Measured) {
    if pairs(m).next().is_none() {
        return;
    }
    let _ = writeln!(md, "## Open loop beside the bare server\n\nEach open-loop run, then the bare server at the same offered rate over as many connections: the floor this machine gives at that load. The worst second is the one whose requests had the highest max.\n");
    let _ = writeln!(md, "| run | server | offered /s | connections | p50 ms | p99 ms | p99.9 ms | max ms | p99 ÷ bare | max ÷ bare | worst second |\n|---|---|---|---|---|---|---|---|---|---|---|");
    for p in pairs(m) {
        let rate = p.run.offered_rate.unwrap_or(0.0);
        let _ = writeln!(
            md,
            "| {} | Switchboard | {rate:.0} | {} | {} | {:.1}× | {:.1}× | {} |",
            p.label,
            p.run.connections,
            tail_cells(&p.run.tail),
            p.p99_ratio,
            p.max_ratio,
            second_text(p.worst_second.as_ref())
        );
        let _ = writeln!(md, "| | bare axum | {rate:.0} | {} | {} | – | – | {} |", p.bare.connections, tail_cells(&p.bare.tail), second_text(p.bare_worst_second.as_ref()));
    }
    md.push('\n');
}

fn roundtrip_section(md: &mut String, title: &str, intro: &str, results: &[RoundTrip]) {
    if results.is_empty() {
        return;
    }
    let _ = writeln!(md, "## {title}\n\n{intro}\n");
    let _ = writeln!(md, "| offered /s | answered | answered /s | p50 ms | p99 ms | p99.9 ms | max ms | worst second | held |\n|---|---|---|---|---|---|---|---|---|");
    for r in results {
        let worst = second_text(stats::worst(&r.timeline));
        let _ = writeln!(md, "| {:.0} | {}/{} | {:.0} | {} | {worst} | {} |", r.offered_rate, r.answered, r.sent, r.answered_rate, tail_cells(&r.tail), if r.held { "yes" } else { "no" });
    }
    let _ = writeln!(md, "\nBy leg, each timed from when the message was due: (a) the person API answered the person's write, (b) the webhook reached the bot, (c) the bot's Send API call answered, (d) the answer reached the person's live stream (the round trip above).\n");
    let _ = writeln!(md, "| offered /s | leg | reached | p50 ms | p99 ms | p99.9 ms | max ms |\n|---|---|---|---|---|---|---|");
    for r in results {
        for (n, leg) in r.legs.iter().enumerate() {
            let letter = ['a', 'b', 'c', 'd'].get(n).copied().unwrap_or('?');
            let _ = writeln!(md, "| {:.0} | ({letter}) {} | {}/{} | {} |", r.offered_rate, leg.leg, leg.measured, r.sent, tail_cells(&leg.tail));
        }
    }
    let failures: usize = results.iter().map(|r| r.bot_failures).sum();
    if failures > 0 {
        let _ = writeln!(md, "\nThe Send API refused or failed {failures} of the bots' answers.");
    }
    md.push('\n');
}

fn listener_section(md: &mut String, l: Option<&ThroughListeners>) {
    let Some(l) = l else { return };
    let rate = l.offered_rate;
    let _ = writeln!(md, "## Webhook through a listener\n");
    let capped = if l.pages < l.world_pages { format!(" (of the world's {}: one listener per app, at most {})", l.world_pages, l.listeners) } else { String::new() };
    let _ = writeln!(
        md,
        "The round trip on SQLite at {rate:.0}/s twice, back to back: first with the bots' webhooks POSTed by the node to their callback URL, then with a `switchboard listen` process per app ({} listeners) holding the app's stream and forwarding each delivery, body and signatures, to the same receiver (the bots), which answers the same way; each run follows one second at the same rate, not counted (the listeners were ready before theirs). Persons write to {} Pages{capped}. Leg (b), the webhook reaching the bot, is timed from when the message was due; the target is that the listeners add under {LISTENER_TARGET_MS:.0} ms to its p50.\n",
        l.listeners, l.pages
    );
    let _ = writeln!(md, "| delivery | leg | reached | p50 ms | p99 ms | p99.9 ms | max ms |\n|---|---|---|---|---|---|---|");
    let mut row = |path: &str, leg: &crate::roundtrip::Leg, r: &RoundTrip, letter: char| {
        let _ = writeln!(md, "| {path} | ({letter}) {} | {}/{} | {} |", leg.leg, leg.measured, r.sent, tail_cells(&leg.tail));
    };
    row("direct callbacks", &l.webhook_direct, &l.direct, 'b');
    row("through listeners", &l.webhook_through_listeners, &l.through_listeners, 'b');
    for (path, r) in [("direct callbacks", &l.direct), ("through listeners", &l.through_listeners)] {
        if let Some(whole) = r.legs.last() {
            row(path, whole, r, 'd');
        }
    }
    let _ = writeln!(
        md,
        "\nAdded by the listeners to the webhook at the bot: p50 {:+.2} ms, p99 {:+.2} ms. The listeners forwarded {} events in their run ({} not answered with a 2xx); the largest listener process peaked at {:.0} MiB resident.",
        l.added_p50_ms, l.added_p99_ms, l.forwarded, l.forwarded_failed, l.listener_peak_mib
    );
    let failures = l.direct.bot_failures + l.through_listeners.bot_failures;
    if failures > 0 {
        let _ = writeln!(md, "\nThe Send API refused or failed {failures} of the bots' answers.");
    }
    md.push('\n');
}

fn delivery_section(md: &mut String, delivery: &Value) {
    if delivery.is_null() {
        return;
    }
    let _ = writeln!(md, "## Webhook fan-out and recovery\n");
    let _ = writeln!(md, "| apps | events | seconds | events/s | duplicates |\n|---|---|---|---|---|");
    for f in delivery["fanout"].as_array().into_iter().flatten() {
        let _ = writeln!(md, "| {} | {} | {:.2} | {:.0} | {} |", f["apps"], f["events"], f["seconds"].as_f64().unwrap_or(0.0), f["events_per_second"].as_f64().unwrap_or(0.0), f["duplicates"]);
    }
    let r = &delivery["recovery"];
    if !r.is_null() {
        let _ = writeln!(
            md,
            "\nRecovery: {} events over {} threads queued while the receiver was down (filled in {:.1} s); drained {:.1} s after it came back, {:.0} events/s (retries from {} ms backing off to {} ms), {} duplicates; peak resident memory of the node {:.0} MiB (of deliverybench, which holds the receiver, the tally and the setup's allocations, {:.0} MiB).",
            r["events"],
            r["threads"],
            r["fill_seconds"].as_f64().unwrap_or(0.0),
            r["drain_seconds"].as_f64().unwrap_or(0.0),
            r["events_per_second"].as_f64().unwrap_or(0.0),
            r["retry_initial_ms"],
            r["retry_max_ms"],
            r["duplicates"],
            r["node_vm_hwm_mb"].as_f64().unwrap_or(0.0),
            r["vm_hwm_mb"].as_f64().unwrap_or(0.0)
        );
    }
    let b = &delivery["backlog"];
    if !b.is_null() {
        let _ = writeln!(
            md,
            "\nOne thread's backlog: {} events of one conversation queued while the receiver was down; drained {:.1} s after it came back, {:.0} events/s in {} POSTs, {} duplicates, {} out of order.",
            b["events"],
            b["drain_seconds"].as_f64().unwrap_or(0.0),
            b["events_per_second"].as_f64().unwrap_or(0.0),
            b["posts"],
            b["duplicates"],
            b["out_of_order"]
        );
    }
    md.push('\n');
}

/// The recovery node's peak (a `switchboard serve` process started for the outage
/// and the drain), as one more row of the memory table.
fn delivery_memory(delivery: &Value) -> Option<PhaseMemory> {
    let peak = delivery["recovery"]["node_vm_hwm_mb"].as_f64()?;
    Some(PhaseMemory {
        node: "SQLite (deliverybench's node)".into(),
        phase: format!("recovery of {} events: outage and drain", delivery["recovery"]["events"]),
        peak_mib: peak,
        resident_mib: f64::NAN,
        phase_own_peak: true,
    })
}

fn memory_section(md: &mut String, m: &Measured) {
    let rows: Vec<PhaseMemory> = m.memory.iter().cloned().chain(delivery_memory(&m.delivery)).collect();
    if rows.is_empty() && m.sqlite.is_empty() {
        return;
    }
    let _ = writeln!(md, "## Memory and store size\n");
    if !rows.is_empty() {
        let _ = writeln!(md, "Peak resident MiB by phase: each node's peak (`VmHWM`) during the phase, which is reset as each phase ends. Target: a node stays under {MEMORY_TARGET_MIB:.0} MiB.\n");
        let _ = writeln!(md, "| node | phase | peak resident MiB | resident at its end MiB | under {MEMORY_TARGET_MIB:.0} MiB |\n|---|---|---|---|---|");
        for r in &rows {
            let since = if r.phase_own_peak { "" } else { " (since the node started)" };
            let resident = if r.resident_mib.is_nan() { "–".into() } else { format!("{:.0}", r.resident_mib) };
            let _ = writeln!(md, "| {} | {} | {:.0}{since} | {resident} | {} |", r.node, r.phase, r.peak_mib, if r.peak_mib < MEMORY_TARGET_MIB { "yes" } else { "**no**" });
        }
        md.push('\n');
    }
    if !m.sqlite.is_empty() {
        let _ = writeln!(md, "Store: SQLite {:.1} MiB after its runs.", m.sqlite_store_mib);
    }
    if !m.scale.is_empty() {
        let _ = writeln!(md, "Large store: {:.1} MiB after its runs. Preload: `{}`", m.scale_store_mib, m.preload);
    }
    if let (Some(seconds), Some(rows)) = (m.migrate["seconds"].as_f64(), m.migrate["rows"].as_u64()) {
        let _ = writeln!(
            md,
            "\nMoving up: `switchboard migrate-data` copied the large store to PostgreSQL, {rows} rows verified, in {seconds:.1} s ({:.0} rows/s).",
            rows as f64 / seconds.max(f64::MIN_POSITIVE)
        );
    }
    md.push('\n');
}

// ---------------------------------------------------------------- the targets

/// One target's verdict.
#[derive(Serialize)]
struct Check {
    target: String,
    measured: String,
    /// "met", "missed" or "not measured".
    verdict: &'static str,
}

fn check(target: &str, outcome: Option<(String, bool)>) -> Check {
    let (measured, verdict) = match outcome {
        Some((measured, true)) => (measured, "met"),
        Some((measured, false)) => (measured, "missed"),
        None => ("–".into(), "not measured"),
    };
    Check { target: target.into(), measured, verdict }
}

/// The round trip at a rate: run, or not reached because a lower rate was not held.
enum AtRate<'a> {
    Ran(&'a RoundTrip),
    StoppedAt(&'a RoundTrip),
    NotRun,
}

fn at_rate(results: &[RoundTrip], rate: f64) -> AtRate<'_> {
    if let Some(r) = results.iter().find(|r| (r.offered_rate - rate).abs() < 0.5) {
        return AtRate::Ran(r);
    }
    match results.last() {
        Some(last) if !last.held && last.offered_rate < rate => AtRate::StoppedAt(last),
        _ => AtRate::NotRun,
    }
}

/// A round-trip target judged by `judge` where the rate ran and was held (a rate not
/// held can be uniformly slow, its tail no worse than its middle: that is no pass);
/// missed where the rates stopped below it.
fn roundtrip_outcome(results: &[RoundTrip], rate: f64, judge: impl Fn(&RoundTrip) -> (String, bool)) -> Option<(String, bool)> {
    match at_rate(results, rate) {
        AtRate::Ran(r) => {
            let (measured, ok) = judge(r);
            let not_held = if r.held { "" } else { "; not held" };
            Some((format!("{measured}{not_held}"), ok && r.held))
        }
        AtRate::StoppedAt(last) => Some((format!("not reached: {:.0}/s was not held", last.offered_rate), false)),
        AtRate::NotRun => None,
    }
}

fn p99_within(r: &RoundTrip) -> (String, bool) {
    let ratio = r.tail.p99_ms / r.tail.p50_ms.max(f64::MIN_POSITIVE);
    (format!("p99 {:.2} ms, p50 {:.2} ms: ×{ratio:.1}", r.tail.p99_ms, r.tail.p50_ms), ratio <= 4.0)
}

fn no_spike(r: &RoundTrip) -> (String, bool) {
    let limit = 10.0 * r.tail.p50_ms;
    let over = r.timeline.iter().filter(|s| s.max_ms > limit).count();
    let measured = match stats::worst(&r.timeline) {
        Some(w) => format!("worst second {}–{} s: max {:.1} ms = ×{:.1} the p50 ({:.2} ms); {over} seconds over", w.second, w.second + 1, w.max_ms, w.max_ms / r.tail.p50_ms.max(f64::MIN_POSITIVE), r.tail.p50_ms),
        None => "no second answered".into(),
    };
    (measured, over == 0 && r.timeline.iter().any(|s| s.count > 0))
}

fn ratio_outcome(part: Option<&LoadResult>, whole: Option<&LoadResult>, least: f64) -> Option<(String, bool)> {
    let (part, whole) = (part?, whole?);
    let ratio = part.requests_per_second / whole.requests_per_second;
    Some((format!("{:.0} / {:.0} req/s = {:.0} %", part.requests_per_second, whole.requests_per_second, 100.0 * ratio), ratio >= least))
}

fn pair_outcome(pair: Option<&Paired>, p99_times: Option<f64>, max_times: Option<f64>) -> Option<(String, bool)> {
    let p = pair?;
    let rate = p.run.offered_rate.unwrap_or(0.0);
    if let Some(limit) = p99_times {
        return Some((format!("p99 {:.2} ms vs bare {:.2} ms at {rate:.0}/s: ×{:.1}", p.run.tail.p99_ms, p.bare.tail.p99_ms, p.p99_ratio), p.p99_ratio <= limit && p.run.errors == 0));
    }
    let limit = max_times?;
    Some((format!("max {:.1} ms vs bare {:.1} ms at {rate:.0}/s: ×{:.1}", p.run.tail.max_ms, p.bare.tail.max_ms, p.max_ratio), p.max_ratio <= limit && p.run.errors == 0))
}

/// The listeners' added p50, where every message's webhook reached the bot through
/// them and the bot answered every delivery.
fn listener_outcome(l: Option<&ThroughListeners>) -> Option<(String, bool)> {
    let l = l?;
    let (direct, through) = (&l.webhook_direct, &l.webhook_through_listeners);
    let sent = l.through_listeners.sent;
    let mut measured = format!(
        "p50 {:.2} ms through {} listeners vs {:.2} ms direct at {:.0}/s: {:+.2} ms",
        through.tail.p50_ms, l.listeners, direct.tail.p50_ms, l.offered_rate, l.added_p50_ms
    );
    if through.measured < sent {
        let _ = write!(measured, "; {} of {sent} webhooks never reached the bot", sent - through.measured);
    }
    if l.forwarded_failed > 0 {
        let _ = write!(measured, "; {} forwards not answered with a 2xx", l.forwarded_failed);
    }
    Some((measured, l.added_p50_ms < LISTENER_TARGET_MS && through.measured == sent && l.forwarded_failed == 0))
}

fn targets(m: &Measured) -> Vec<Check> {
    let mut checks = Vec::new();
    let baseline = peak(&m.baseline);
    checks.push(check("PostgreSQL, 1 node: Send API ≥ 25 % of the bare server (best vs best)", ratio_outcome(peak(&m.postgres_one), baseline, 0.25)));
    checks.push(check("PostgreSQL, 2 nodes: Send API ≥ 1 node's (best vs best)", ratio_outcome(peak(&m.postgres_two), peak(&m.postgres_one), 1.0)));
    checks.push(check(
        "PostgreSQL, 2 nodes: person → bot → person held at 1,000/s (all answered, p99 < 1 s)",
        roundtrip_outcome(&m.postgres_roundtrip, 1000.0, |r| (format!("{}/{} answered, p99 {:.2} ms", r.answered, r.sent, r.tail.p99_ms), true)),
    ));
    let rows: Vec<PhaseMemory> = m.memory.iter().cloned().chain(delivery_memory(&m.delivery)).collect();
    let highest = rows.iter().max_by(|a, b| a.peak_mib.total_cmp(&b.peak_mib)).map(|r| {
        let over = rows.iter().filter(|r| r.peak_mib >= MEMORY_TARGET_MIB).count();
        (format!("highest {:.0} MiB ({}, {}); {over} of {} phases over", r.peak_mib, r.node, r.phase, rows.len()), over == 0)
    });
    checks.push(check(&format!("every node under {MEMORY_TARGET_MIB:.0} MiB peak resident"), highest));
    let large_vs_empty = peak(&m.scale).and_then(|big| {
        let small = m.sqlite.iter().find(|r| r.connections == big.connections)?;
        let ratio = big.requests_per_second / small.requests_per_second;
        Some((format!("{:.0} vs {:.0} req/s at {} connections = {:.0} %", big.requests_per_second, small.requests_per_second, big.connections, 100.0 * ratio), ratio >= 0.8))
    });
    checks.push(check("large store within 20 % of the empty one: throughput", large_vs_empty));
    let large_p99 = match (&m.scale_half, &m.sqlite_half) {
        (Some(big), Some(small)) => {
            let ratio = big.run.tail.p99_ms / small.run.tail.p99_ms.max(f64::MIN_POSITIVE);
            Some((format!("p99 {:.2} ms vs {:.2} ms at {:.0}/s: ×{ratio:.2}", big.run.tail.p99_ms, small.run.tail.p99_ms, big.run.offered_rate.unwrap_or(0.0)), ratio <= 1.2))
        }
        _ => None,
    };
    checks.push(check("large store within 20 % of the empty one: p99 at the same rate", large_p99));
    checks.push(check("SQLite: Send API ≥ 35 % of the bare server (best vs best)", ratio_outcome(peak(&m.sqlite), baseline, 0.35)));
    checks.push(check("SQLite at half its peak: p99 ≤ 3× the bare server's at that rate", pair_outcome(m.sqlite_half.as_ref(), Some(3.0), None)));
    checks.push(check("SQLite at half its peak: max ≤ 5× the bare server's at that rate", pair_outcome(m.sqlite_half.as_ref(), None, Some(5.0))));
    checks.push(check("person → bot → person at 1,000/s (SQLite): p99 ≤ 4× its p50", roundtrip_outcome(&m.roundtrip, 1000.0, p99_within)));
    checks.push(check("person → bot → person at 1,000/s (SQLite): no second's max over 10× the run's p50", roundtrip_outcome(&m.roundtrip, 1000.0, no_spike)));
    checks.push(check(&format!("webhook through a listener adds under {LISTENER_TARGET_MS:.0} ms p50 (webhook at the bot, SQLite, vs direct callbacks)"), listener_outcome(m.listener.as_ref())));
    checks.push(check("PostgreSQL, 1 node, at half its peak: p99 ≤ 3× the bare server's at that rate", pair_outcome(m.postgres_half.as_ref(), Some(3.0), None)));
    checks.push(check("PostgreSQL, 1 node, at half its peak: max ≤ 5× the bare server's at that rate", pair_outcome(m.postgres_half.as_ref(), None, Some(5.0))));
    checks.push(check("person → bot → person at 1,000/s (PostgreSQL, 2 nodes): p99 ≤ 4× its p50", roundtrip_outcome(&m.postgres_roundtrip, 1000.0, p99_within)));
    checks.push(check("person → bot → person at 1,000/s (PostgreSQL, 2 nodes): no second's max over 10× the run's p50", roundtrip_outcome(&m.postgres_roundtrip, 1000.0, no_spike)));
    for apps in [1, 10, 100] {
        let run = m.delivery["fanout"].as_array().into_iter().flatten().find(|f| f["apps"].as_u64() == Some(apps));
        let outcome = run.map(|f| {
            let rate = f["events_per_second"].as_f64().unwrap_or(0.0);
            (format!("{rate:.0} events/s, {} duplicates, {} missing", f["duplicates"], f["missing"]), rate >= 20_000.0)
        });
        checks.push(check(&format!("webhook fan-out ≥ 20,000 events/s with {apps} app{}", if apps == 1 { "" } else { "s" }), outcome));
    }
    let recovery = &m.delivery["recovery"];
    let outcome = recovery["events_per_second"].as_f64().map(|rate| {
        let duplicates = recovery["duplicates"].as_u64().unwrap_or(u64::MAX);
        (format!("{rate:.0} events/s over {} events, {duplicates} duplicates", recovery["events"]), rate >= 15_000.0 && duplicates == 0)
    });
    checks.push(check("recovery of 1M events ≥ 15,000 events/s with 0 duplicates", outcome));
    let backlog = &m.delivery["backlog"];
    let outcome = backlog["events_per_second"].as_f64().map(|rate| {
        let (duplicates, out_of_order) = (backlog["duplicates"].as_u64().unwrap_or(u64::MAX), backlog["out_of_order"].as_u64().unwrap_or(u64::MAX));
        let text = format!("{rate:.0} events/s over {} events, {duplicates} duplicates, {out_of_order} out of order", backlog["events"]);
        (text, rate >= 10_000.0 && duplicates == 0 && out_of_order == 0)
    });
    checks.push(check("one thread's backlog ≥ 10,000 events/s, in order, with 0 duplicates", outcome));
    let target = format!("`switchboard test`: 200 conversations of 10 steps in under {:.0} s, start-up included", super::convos::TARGET_SECONDS);
    checks.push(check(&target, super::convos::outcome(&m.convos)));
    checks
}

// ---------------------------------------------------------------- the charts

/// One line of the latency chart: a name and its sorted latencies (ms).
pub struct Series<'a> {
    pub name: String,
    pub latencies: &'a Latencies,
}

const COLORS: [&str; 8] = ["#555555", "#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7ea4"];

/// The latency chart's lines: the closed loops at 128 connections and every
/// open-loop run with the bare server at the empty SQLite store's half-peak rate.
pub fn latency_series(m: &Measured) -> Vec<Series<'_>> {
    fn at_128(results: &[LoadResult]) -> Option<&Latencies> {
        results.iter().find(|r| r.connections == 128).map(|r| &r.latencies)
    }
    let mut series = Vec::new();
    if let Some(l) = at_128(&m.baseline) {
        series.push(Series { name: "baseline, 128 conn.".into(), latencies: l });
    }
    if let Some(l) = at_128(&m.sqlite) {
        series.push(Series { name: "SQLite, 128 conn.".into(), latencies: l });
    }
    let rate = |r: &LoadResult| r.offered_rate.unwrap_or(0.0);
    if let Some(p) = &m.sqlite_half {
        series.push(Series { name: format!("SQLite, {:.0}/s", rate(&p.run)), latencies: &p.run.latencies });
        series.push(Series { name: format!("bare, {:.0}/s", rate(&p.bare)), latencies: &p.bare.latencies });
    }
    if let Some(p) = &m.scale_half {
        series.push(Series { name: format!("large store, {:.0}/s", rate(&p.run)), latencies: &p.run.latencies });
    }
    if let Some(l) = at_128(&m.postgres_one) {
        series.push(Series { name: "PostgreSQL, 128 conn.".into(), latencies: l });
    }
    if let Some(p) = &m.postgres_half {
        series.push(Series { name: format!("PostgreSQL, {:.0}/s", rate(&p.run)), latencies: &p.run.latencies });
    }
    series
}

/// Latency by percentile: x is the percentile on a "nines" scale (50, 90, 99, 99.9,
/// 99.99), y the latency in ms on a log scale.
pub fn latency_svg(title: &str, series: &[Series]) -> String {
    let (width, height, left, right, top, bottom) = (760.0, 420.0, 70.0, 190.0, 40.0, 50.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let nines = |p: f64| -(1.0 - p).max(1e-5).log10(); // 0.5 → 0.3, 0.99 → 2
    let (x_min, x_max) = (nines(0.5), nines(0.9999));
    let max_ms = series.iter().filter_map(|s| s.latencies.0.last().copied()).fold(1.0f64, f64::max);
    let min_ms = series.iter().filter_map(|s| s.latencies.0.first().copied()).fold(f64::MAX, f64::min).max(0.01);
    let (y_min, y_max) = (min_ms.log10().floor(), max_ms.log10().ceil());
    let x = |p: f64| left + (nines(p) - x_min) / (x_max - x_min) * plot_w;
    let y = |ms: f64| top + plot_h - (ms.max(10f64.powf(y_min)).log10() - y_min) / (y_max - y_min) * plot_h;
    let mut svg = svg_open(width, height, title);
    let _ = write!(svg, r##"<text x="{left}" y="24" font-size="15">{}</text>"##, escape(title));
    for p in [0.5, 0.9, 0.99, 0.999, 0.9999] {
        let px = x(p);
        let _ = write!(svg, r##"<line x1="{px:.1}" y1="{top}" x2="{px:.1}" y2="{:.1}" stroke="#ddd"/><text x="{px:.1}" y="{:.1}" text-anchor="middle">p{}</text>"##, top + plot_h, top + plot_h + 18.0, p * 100.0);
    }
    let mut decade = y_min;
    while decade <= y_max {
        let ms = 10f64.powf(decade);
        let py = y(ms);
        let _ = write!(svg, r##"<line x1="{left}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{} ms</text>"##, left + plot_w, left - 6.0, py + 4.0, trim(ms));
        decade += 1.0;
    }
    let _ = write!(svg, r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">percentile</text>"##, left + plot_w / 2.0, height - 8.0);
    for (n, s) in series.iter().enumerate() {
        let color = COLORS[n % COLORS.len()];
        let mut points = String::new();
        let count = s.latencies.0.len();
        if count < 2 {
            continue;
        }
        for step in 0..=200 {
            let p = 1.0 - 0.5 * 10f64.powf(-(step as f64) / 50.0); // 0.5 … 0.99995
            if p > 1.0 - 1.0 / count as f64 {
                break;
            }
            let _ = write!(points, "{:.1},{:.1} ", x(p), y(s.latencies.at(p)));
        }
        let _ = write!(svg, r##"<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"/>"##);
        let ly = top + 16.0 * n as f64 + 10.0;
        let _ = write!(svg, r##"<rect x="{:.1}" y="{:.1}" width="14" height="3" fill="{color}"/><text x="{:.1}" y="{:.1}">{}</text>"##, width - right + 12.0, ly - 4.0, width - right + 30.0, ly, escape(&s.name));
    }
    svg.push_str("</svg>");
    svg
}

/// One panel of the timeline: a paced run's seconds, and the bare server's at the
/// same rate where it was paired.
pub struct Panel<'a> {
    pub title: String,
    pub run: &'a [Second],
    pub bare: Option<&'a [Second]>,
}

/// A panel per open-loop run (with its bare server) and per round-trip rate.
pub fn timeline_panels(m: &Measured) -> Vec<Panel<'_>> {
    let mut panels: Vec<Panel> = pairs(m)
        .map(|p| Panel { title: format!("{}, {:.0}/s", p.label, p.run.offered_rate.unwrap_or(0.0)), run: &p.run.timeline, bare: Some(&p.bare.timeline) })
        .collect();
    for (name, results) in [("SQLite", &m.roundtrip), ("PostgreSQL, 2 nodes", &m.postgres_roundtrip)] {
        for r in results {
            panels.push(Panel { title: format!("person → bot → person ({name}), {:.0}/s", r.offered_rate), run: &r.timeline, bare: None });
        }
    }
    panels
}

const P99_COLOR: &str = "#1f6feb";
const MAX_COLOR: &str = "#d1242f";
const BARE_COLOR: &str = "#9a9a9a";

/// The per-second timeline, a panel per paced run in two columns: x is the time in
/// the run (s), y the latency in ms on one log scale for every panel (so panels
/// compare at a glance, and a stall of seconds does not flatten a p99 of a few ms);
/// a line for the p99 and one for the max of the requests due in each second, the
/// worst second marked, seconds with failed requests crossed at the top.
pub fn timeline_svg(title: &str, panels: &[Panel]) -> String {
    let (columns, panel_w, panel_h, header) = (2usize, 440.0, 210.0, 62.0);
    let rows = panels.len().div_ceil(columns).max(1);
    let (width, height) = (panel_w * columns as f64, header + panel_h * rows as f64);
    let answered = || panels.iter().flat_map(|p| p.run.iter().chain(p.bare.into_iter().flatten())).filter(|s| s.count > 0);
    let lowest = answered().map(|s| s.p99_ms).fold(f64::INFINITY, f64::min);
    let highest = answered().map(|s| s.max_ms).fold(0.0f64, f64::max);
    let (lowest, highest) = if lowest.is_finite() { (lowest.max(0.01), highest.max(lowest)) } else { (0.1, 10.0) };
    let (y_min, y_max) = (lowest.log10().floor(), highest.log10().ceil().max(lowest.log10().floor() + 1.0));

    let mut svg = svg_open(width, height, title);
    let _ = write!(svg, r##"<text x="16" y="24" font-size="15">{}</text>"##, escape(title));
    let legend = [(P99_COLOR, "", "p99"), (MAX_COLOR, "", "max"), (BARE_COLOR, "", "bare server, p99"), (BARE_COLOR, r##" stroke-dasharray="4 3""##, "bare server, max")];
    for (n, (color, dash, name)) in legend.iter().enumerate() {
        let lx = 16.0 + 150.0 * n as f64;
        let _ = write!(svg, r##"<line x1="{lx}" y1="44" x2="{:.0}" y2="44" stroke="{color}" stroke-width="2"{dash}/><text x="{:.0}" y="48">{name}</text>"##, lx + 22.0, lx + 28.0);
    }
    if panels.is_empty() {
        let _ = write!(svg, r##"<text x="16" y="{:.0}">No paced run in this run of the suite.</text></svg>"##, header + 30.0);
        return svg;
    }
    for (n, panel) in panels.iter().enumerate() {
        let (ox, oy) = ((n % columns) as f64 * panel_w, header + (n / columns) as f64 * panel_h);
        let (left, right, top, bottom) = (ox + 60.0, ox + panel_w - 16.0, oy + 26.0, oy + panel_h - 34.0);
        let seconds = panel.run.len().max(panel.bare.map_or(0, <[Second]>::len)).max(1) as f64;
        let x = |t: f64| left + t / seconds * (right - left);
        let y = |ms: f64| bottom - (ms.max(10f64.powf(y_min)).log10() - y_min) / (y_max - y_min) * (bottom - top);
        let _ = write!(svg, r##"<text x="{left}" y="{:.1}" font-weight="bold">{}</text>"##, oy + 16.0, escape(&panel.title));
        let _ = write!(svg, r##"<rect x="{left}" y="{top}" width="{:.1}" height="{:.1}" fill="none" stroke="#bbb"/>"##, right - left, bottom - top);
        let mut decade = y_min;
        while decade <= y_max {
            let ms = 10f64.powf(decade);
            let py = y(ms);
            let _ = write!(svg, r##"<line x1="{left}" y1="{py:.1}" x2="{right}" y2="{py:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="10">{} ms</text>"##, left - 4.0, py + 3.0, trim(ms));
            decade += 1.0;
        }
        let step = [1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0].into_iter().find(|s| seconds / s <= 12.0).unwrap_or(120.0);
        let mut t = 0.0;
        while t <= seconds {
            let px = x(t);
            let _ = write!(svg, r##"<line x1="{px:.1}" y1="{bottom}" x2="{px:.1}" y2="{:.1}" stroke="#bbb"/><text x="{px:.1}" y="{:.1}" text-anchor="middle" font-size="10">{t} s</text>"##, bottom + 4.0, bottom + 15.0);
            t += step;
        }
        let line = |seconds: &[Second], value: fn(&Second) -> f64, color: &str, extra: &str| {
            let points: String = seconds.iter().filter(|s| s.count > 0).map(|s| format!("{:.1},{:.1} ", x(s.second as f64 + 0.5), y(value(s)))).collect();
            format!(r##"<polyline fill="none" stroke="{color}" stroke-width="1.8"{extra} points="{points}"/>"##)
        };
        if let Some(bare) = panel.bare {
            svg.push_str(&line(bare, |s| s.p99_ms, BARE_COLOR, ""));
            svg.push_str(&line(bare, |s| s.max_ms, BARE_COLOR, r##" stroke-dasharray="4 3""##));
        }
        svg.push_str(&line(panel.run, |s| s.p99_ms, P99_COLOR, ""));
        svg.push_str(&line(panel.run, |s| s.max_ms, MAX_COLOR, ""));
        for s in panel.run.iter().filter(|s| s.failed > 0) {
            let _ = write!(svg, r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="{MAX_COLOR}" font-weight="bold"><title>{} failed</title>×</text>"##, x(s.second as f64 + 0.5), top + 12.0, s.failed);
        }
        if let Some(w) = stats::worst(panel.run) {
            let (px, py) = (x(w.second as f64 + 0.5), y(w.max_ms));
            let _ = write!(svg, r##"<circle cx="{px:.1}" cy="{py:.1}" r="4" fill="none" stroke="{MAX_COLOR}" stroke-width="1.5"/>"##);
            let label = format!("worst {}–{} s: max {:.1} ms, p99 {:.1} ms", w.second, w.second + 1, w.max_ms, w.p99_ms);
            let _ = write!(svg, r##"<text x="{left}" y="{:.1}" font-size="10" fill="#444">{}</text>"##, bottom + 28.0, escape(&label));
        }
    }
    svg.push_str("</svg>");
    svg
}

fn svg_open(width: f64, height: f64, title: &str) -> String {
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12"><title>{}</title><rect width="100%" height="100%" fill="#fff"/>"##,
        escape(title)
    )
}

/// A decade's label: 100, 10, 1, 0.1, 0.01.
fn trim(ms: f64) -> String {
    if ms >= 1.0 {
        format!("{ms:.0}")
    } else {
        format!("{ms:.3}").trim_end_matches('0').to_string()
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Writes the page, the document and the charts (file name, SVG) into `out`.
pub fn write(out: &Path, markdown: &str, json: &Value, charts: &[(&str, String)]) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("REPORT.md"), markdown)?;
    std::fs::write(out.join("report.json"), serde_json::to_string_pretty(json)?)?;
    for (name, svg) in charts {
        std::fs::write(out.join(name), svg)?;
    }
    Ok(())
}
