//! Where one request's time went. The HTTP face runs each request inside
//! [`measured`]; the hot paths name their slow steps with [`timed`] (an await) or
//! [`record`]; an engine details a step from the inside with [`detail`] (how long
//! a write waited for its group, the group's statements, its commit). A request
//! slower than the node's threshold is logged with its steps, so a slow answer has
//! an address. Outside a measured request the calls cost a failed task-local
//! lookup and nothing is kept.
//!
//! It lives in the store crate so that engines can detail their steps; the app
//! re-exports it.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

tokio::task_local! {
    static STEPS: RefCell<Steps>;
}

/// At most this many steps are kept per request (a batch of Graph calls repeats
/// them): past it, a step is added to the last one of its name, or dropped.
const MAX_STEPS: usize = 32;
/// Room made for a request's steps at once (a Send API call names about ten), so
/// that recording them does not grow the list again and again.
const TYPICAL_STEPS: usize = 16;

#[derive(Debug, Clone, PartialEq)]
struct Step {
    name: &'static str,
    took: Duration,
    /// A part of a step that is counted on its own (not summed again).
    detail: bool,
}

/// The named steps of one request, in the order they ended.
#[derive(Debug, Default, Clone)]
pub struct Steps(Vec<Step>);

impl Steps {
    /// The time the steps account for (details are inside their steps).
    pub fn accounted(&self) -> Duration {
        self.0.iter().filter(|step| !step.detail).map(|step| step.took).sum()
    }

    fn add(&mut self, step: Step) {
        if self.0.len() < MAX_STEPS {
            self.0.push(step);
        } else if let Some(same) = self.0.iter_mut().rev().find(|s| s.name == step.name) {
            same.took += step.took;
        }
    }
}

impl fmt::Display for Steps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, step) in self.0.iter().enumerate() {
            let separator = if n == 0 { "" } else { ", " };
            write!(f, "{separator}{} {:.1} ms", step.name, step.took.as_secs_f64() * 1000.0)?;
        }
        Ok(())
    }
}

/// Runs `future` as one measured request: answers its output, how long it took, and
/// its steps.
pub async fn measured<F: Future>(future: F) -> (F::Output, Duration, Steps) {
    let started = Instant::now();
    let (output, steps) = STEPS
        .scope(RefCell::new(Steps(Vec::with_capacity(TYPICAL_STEPS))), async {
            let output = future.await;
            (output, STEPS.with(|steps| steps.take()))
        })
        .await;
    (output, started.elapsed(), steps)
}

/// Counts `took` as the step `name` of the request being measured, if any.
pub fn record(name: &'static str, took: Duration) {
    let _ = STEPS.try_with(|steps| steps.borrow_mut().add(Step { name, took, detail: false }));
}

/// Counts `took` as a part of a step that is being measured around it (such as
/// `store.queued` within `store`).
pub fn detail(name: &'static str, took: Duration) {
    let _ = STEPS.try_with(|steps| steps.borrow_mut().add(Step { name, took, detail: true }));
}

/// Awaits `future` as the step `name`.
pub async fn timed<F: Future>(name: &'static str, future: F) -> F::Output {
    let started = Instant::now();
    let output = future.await;
    record(name, started.elapsed());
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn steps_are_kept_in_order_details_are_not_summed_twice_and_the_list_is_bounded() {
        let ((), _, steps) = measured(async {
            timed("auth", async {}).await;
            detail("store.queued", Duration::from_millis(2));
            record("store", Duration::from_millis(3));
            for _ in 0..100 {
                record("live", Duration::from_millis(1));
            }
        })
        .await;
        assert_eq!(steps.0.len(), MAX_STEPS);
        assert_eq!(steps.0[0].name, "auth");
        assert_eq!(steps.0[2], Step { name: "store", took: Duration::from_millis(3), detail: false });
        assert_eq!(steps.accounted() - steps.0[0].took, Duration::from_millis(3 + 100));
        assert!(steps.to_string().starts_with("auth 0.0 ms, store.queued 2.0 ms, store 3.0 ms, live 1.0 ms"), "{steps}");
    }

    #[tokio::test]
    async fn outside_a_measured_request_nothing_is_kept() {
        record("store", Duration::from_millis(1));
        assert_eq!(timed("auth", async { 7 }).await, 7);
    }
}
