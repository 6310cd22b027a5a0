//! What the engine does when things go wrong around it: a clock endpoint that keeps
//! failing, and answers that arrive after logout.

use super::harness::*;
use crate::chat::api::Method;
use crate::client::{ErrorCode, Reply};

/// `GET /time` failing: the timer does not hammer the backend; it waits 5 s, then 10 s, …
#[test]
fn a_failing_clock_sample_is_retried_with_a_growing_wait() {
    let mut sim = Sim::new(Kind::Backend, 30);
    sim.set_time(T0);
    sim.connect();
    sim.settle();
    let samples = |sim: &Sim| sim.requests_to(Method::Get, "/time").len();
    // Age the clock's samples out, so it needs a new one.
    sim.advance(11 * 60_000);
    let mut waits = Vec::new();
    for _ in 0..3 {
        let due = sim
            .engine
            .poll_timeout()
            .expect("a deadline while connected");
        sim.mono = sim.mono.max(due);
        let before = samples(&sim);
        sim.engine.handle_timeout(sim.now());
        sim.pump();
        assert_eq!(samples(&sim), before + 1, "one sample when due");
        let i = sim.find_http("/time").expect("the sample in flight");
        let p = sim.http.remove(i);
        sim.engine.handle_http(
            sim.now(),
            p.id,
            Ok((503, br#"{"code":1,"msg":"down"}"#.to_vec())),
        );
        sim.pump();
        let next = sim.engine.poll_timeout().expect("a retry");
        waits.push(next - sim.mono);
        // A spurious wake-up before then takes no sample.
        sim.engine.handle_timeout(sim.now());
        sim.pump();
        assert_eq!(samples(&sim), before + 1, "nothing before the wait is over");
    }
    assert_eq!(waits, vec![5_000, 10_000, 20_000]);
    // Success clears the wait: the next deadline is the samples' age again.
    let due = sim.engine.poll_timeout().unwrap();
    sim.mono = due;
    sim.engine.handle_timeout(sim.now());
    sim.pump();
    sim.answer_http_path("/time");
    let next = sim.engine.poll_timeout().unwrap();
    assert!(
        next >= sim.mono + 60_000,
        "back to the samples' age: {}",
        next - sim.mono
    );
}

/// Logout while a history page and a catch-up are in flight: their calls settle, and
/// nothing of the user is written after the wipe.
#[test]
fn after_logout_late_answers_change_nothing_and_calls_settle() {
    for kind in KINDS {
        let mut sim = Sim::connected(kind, 5);
        for i in 0..8 {
            sim.advance(1_000);
            let w = sim.server_ms;
            sim.server.post(PEER, c12(), &format!("m{i}"), w);
            sim.deliver_from_server();
        }
        sim.advance(1_000);
        // A page request that will go to storage / the backend, left unanswered.
        let page = sim.cmd();
        let oldest = sim
            .loaded(c12())
            .first()
            .and_then(|m| m.server_id())
            .map(|id| id.to_string());
        sim.engine
            .messages(sim.now(), page, c12(), oldest.as_deref(), Some(5));
        sim.pump();
        let out = sim.cmd();
        sim.engine.logout(sim.now(), out);
        sim.pump();
        // The wipe.
        let wipe = sim
            .storage_ops
            .iter()
            .position(|(_, op)| matches!(op, crate::client::StorageOp::Wipe))
            .expect("a wipe");
        sim.answer_storage(wipe);
        assert_eq!(sim.result(out), &Ok(Reply::Unit), "{kind:?}");
        match sim.result(page) {
            Err(e) => assert_eq!(e.code, ErrorCode::Closed, "{kind:?}"),
            other => panic!("{kind:?}: the page call settles as closed, not {other:?}"),
        }
        // Whatever answers still come, nothing is written or shown.
        let writes_before = sim.writes;
        while !sim.storage_ops.is_empty() {
            sim.answer_storage(0);
        }
        while !sim.http.is_empty() {
            sim.answer_http(0);
        }
        assert_eq!(sim.writes, writes_before, "{kind:?}: nothing written");
        assert!(sim.engine.conversations().is_empty(), "{kind:?}");
        assert!(
            sim.stored(c12()).is_empty(),
            "{kind:?}: storage stays empty"
        );
    }
}
