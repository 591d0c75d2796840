//! Three replicas on one PostgreSQL with the fake Discord: one gateway session, a
//! takeover when its holder is killed, every deadline enforced once, no email sent twice,
//! verifications answered by every replica throughout.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Replica, eventually, people_csv};
use crate::fake_discord::FakeDiscord;
use crate::fakes::fake_sendgrid::FakeSendGrid;
use crate::helpers::Backend;

/// Small, so the test sees a takeover quickly.
const TAKEOVER_SECS: u64 = 3;
/// A member's time to verify: long enough to span the takeover.
const TIMEOUT_SECS: u64 = 5;
const PATIENCE: Duration = Duration::from_secs(40);

/// The pid of the replica holding the leader lock, read from PostgreSQL itself: the
/// granted advisory lock of doorman's class and the application name of its session.
async fn leader_pid(pool: &sqlx::PgPool, ours: &[u32]) -> Option<u32> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 1685024626",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let holders: Vec<u32> = names
        .iter()
        .filter_map(|n| n.strip_prefix("doorman leader ")?.parse().ok())
        .filter(|pid| ours.contains(pid))
        .collect();
    assert!(holders.len() <= 1, "two leaders at once: {holders:?}");
    holders.first().copied()
}

/// How many of `ours` have a leader connection open (holding the lock or trying it).
async fn contenders(pool: &sqlx::PgPool, ours: &[u32]) -> usize {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT application_name FROM pg_stat_activity WHERE application_name LIKE 'doorman leader %'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    names
        .iter()
        .filter_map(|n| n.strip_prefix("doorman leader ")?.parse::<u32>().ok())
        .filter(|pid| ours.contains(pid))
        .count()
}

/// Imports `{prefix}0..count@example.org`; their ids.
async fn upload(replica: &Replica, prefix: &str, count: usize) -> Vec<i64> {
    let report = replica.upload_csv(people_csv(prefix, 0..count)).await;
    crate::email::added_ids(&report)
}

/// Queues invitations for `ids` through `replica`, and waits until every email is
/// recorded as sent; then each address must have received exactly one.
async fn send_all(replica: &Replica, sendgrid: &FakeSendGrid, ids: &[i64], addresses: &[String]) {
    let response = replica
        .post("/api/send-emails")
        .json(&json!({ "user_ids": ids }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    eventually("every email to be recorded as sent", PATIENCE, || async {
        let page = replica.get_json("/api/emails?status=queued").await;
        page["emails"].as_array().is_some_and(Vec::is_empty)
            && addresses
                .iter()
                .all(|a| !sendgrid.received_by(a).is_empty())
    })
    .await;
    for address in addresses {
        assert_eq!(
            sendgrid.received_by(address).len(),
            1,
            "{address} exactly once"
        );
    }
}

fn token_of(sendgrid: &FakeSendGrid, address: &str) -> String {
    let email = &sendgrid.received_by(address)[0];
    crate::email::token_in(email.text.as_deref().expect("a text body"))
}

/// Timeout kicks recorded in the event log, per Discord user.
async fn recorded_kicks(replica: &Replica) -> HashMap<String, usize> {
    let body: Value = replica
        .get_json("/api/events?kind=discord_kicked_for_timeout&limit=1000")
        .await;
    let mut kicks = HashMap::new();
    for event in body["events"].as_array().unwrap() {
        let user = event["detail"]["user_id"].as_str().unwrap_or_default();
        *kicks.entry(user.to_owned()).or_default() += 1;
    }
    kicks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_share_the_work_and_survive_losing_the_gateway_holder() {
    if !Backend::Postgres.available().await {
        return;
    }
    let discord = FakeDiscord::start().await;
    discord.add_role("member", 1);
    discord.add_role("unverified", 1);
    let sendgrid = FakeSendGrid::start_with_delay(Duration::from_millis(20)).await;
    let dir = tempfile::tempdir().unwrap();
    let database_url = Backend::Postgres.fresh_database_url(dir.path()).await;
    let mut env = vec![("DATABASE_URL", database_url.clone())];
    env.extend(discord.bot_settings());
    env.extend(sendgrid.env());
    env.extend([
        ("LEADER_TAKEOVER_SECS", TAKEOVER_SECS.to_string()),
        ("VERIFICATION_TIMEOUT", TIMEOUT_SECS.to_string()),
        ("EMAIL_POLL_INTERVAL_MS", "50".to_owned()),
        ("EMAIL_BATCH_SIZE", "2".to_owned()),
        ("EMAIL_CONCURRENCY", "1".to_owned()),
        ("EMAIL_SEND_WAIT_SECONDS", "0".to_owned()),
    ]);
    let mut replicas: Vec<Replica> = (0..3).map(|_| Replica::start(&env)).collect();
    let pids: Vec<u32> = replicas.iter().map(Replica::pid).collect();
    let pg = sqlx::PgPool::connect(&database_url).await.unwrap();

    // Exactly one gateway session, and it stays one while all three compete.
    discord
        .wait_until("a gateway session", PATIENCE, |d| {
            (d.connected_sessions() == 1).then_some(())
        })
        .await;
    eventually("all three to compete for the lock", PATIENCE, || async {
        contenders(&pg, &pids).await == 3
    })
    .await;
    let first_leader = leader_pid(&pg, &pids).await.expect("a leader");
    // Each of the others tries the lock five times in this while.
    tokio::time::sleep(Duration::from_secs(TAKEOVER_SECS)).await;
    assert_eq!(discord.identifies(), 1, "only the leader connects");
    assert_eq!(discord.connected_sessions(), 1);
    assert_eq!(leader_pid(&pg, &pids).await, Some(first_leader));
    // Each replica says which part it plays: the holder is connected, the others wait.
    let mut bots = Vec::new();
    for replica in &replicas {
        let health = replica.get_json("/health").await;
        bots.push(
            health["discord_bot"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    bots.sort();
    assert_eq!(bots, ["connected", "standby", "standby"]);

    // Emails queued through one replica are sent by all of them, each once.
    let ids = upload(&replicas[0], "p", 30).await;
    let first_batch: Vec<String> = (0..30).map(|i| format!("p{i}@example.org")).collect();
    send_all(&replicas[1], &sendgrid, &ids, &first_batch).await;
    assert!(sendgrid.requests() >= 15, "two recipients per request");
    for (i, replica) in replicas.iter().enumerate() {
        let address = &first_batch[i];
        let answer = replica.verify(address, &token_of(&sendgrid, address)).await;
        assert_eq!(answer["success"], true, "through replica {i}: {answer}");
    }

    // A deadline that passes under the first leader is enforced by it.
    const EARLY: u64 = 900_000_000_000_000_001;
    discord.member_join(EARLY, "early").await;
    discord
        .wait_until("the early member's kick", PATIENCE, |d| {
            d.kicks().iter().any(|(u, _)| *u == EARLY).then_some(())
        })
        .await;

    // Members whose deadlines are pending when the leader dies.
    let pending: Vec<u64> = (2..5).map(|i| 900_000_000_000_000_000 + i).collect();
    for user in &pending {
        discord.member_join(*user, "pending").await;
    }
    discord
        .wait_until("the prompts", PATIENCE, |d| {
            pending
                .iter()
                .all(|u| !d.dms_to(*u).is_empty())
                .then_some(())
        })
        .await;

    // SIGKILL the gateway holder.
    let holder = replicas
        .iter()
        .position(|r| r.pid() == first_leader)
        .unwrap();
    let killed_at = Instant::now();
    replicas[holder].kill();
    replicas.remove(holder);
    let survivors: Vec<u32> = replicas.iter().map(Replica::pid).collect();

    // Verifications keep working through the survivors while the lock changes hands.
    for (i, replica) in replicas.iter().enumerate() {
        let address = &first_batch[10 + i];
        let answer = replica.verify(address, &token_of(&sendgrid, address)).await;
        assert_eq!(answer["success"], true, "{answer}");
    }
    // Someone joins while nobody holds the gateway; the new leader catches up with them.
    const DURING: u64 = 900_000_000_000_000_009;
    discord.member_join(DURING, "during").await;

    eventually("another replica to take the lock", PATIENCE, || async {
        leader_pid(&pg, &survivors).await.is_some()
    })
    .await;
    let took = killed_at.elapsed();
    assert!(
        took <= Duration::from_secs(TAKEOVER_SECS),
        "takeover took {took:?}"
    );
    discord
        .wait_until("the new leader's gateway session", PATIENCE, |d| {
            (d.identifies() == 2 && d.connected_sessions() == 1).then_some(())
        })
        .await;

    // Every pending deadline is enforced, once.
    let everyone: Vec<u64> = [EARLY]
        .into_iter()
        .chain(pending.iter().copied())
        .chain([DURING])
        .collect();
    discord
        .wait_until("every deadline's kick", PATIENCE, |d| {
            let kicked: Vec<u64> = d.kicks().iter().map(|(u, _)| *u).collect();
            everyone.iter().all(|u| kicked.contains(u)).then_some(())
        })
        .await;
    eventually("every kick to be recorded", PATIENCE, || async {
        recorded_kicks(&replicas[0]).await.len() == everyone.len()
    })
    .await;
    let kicks = discord.kicks();
    let recorded = recorded_kicks(&replicas[1]).await;
    for user in &everyone {
        let times = kicks.iter().filter(|(u, _)| u == user).count();
        assert_eq!(times, 1, "user {user} kicked once in Discord");
        assert_eq!(recorded.get(&user.to_string()), Some(&1), "{recorded:?}");
    }

    // Emails after the failover: still each exactly once.
    let ids = upload(&replicas[1], "q", 10).await;
    let second_batch: Vec<String> = (0..10).map(|i| format!("q{i}@example.org")).collect();
    send_all(&replicas[0], &sendgrid, &ids, &second_batch).await;
    assert_eq!(sendgrid.received().len(), 40, "no email went twice");
    for (i, replica) in replicas.iter().enumerate() {
        let address = &second_batch[i];
        let answer = replica.verify(address, &token_of(&sendgrid, address)).await;
        assert_eq!(answer["success"], true, "{answer}");
    }

    // Still one session: the survivor that did not take over never connected.
    assert_eq!(discord.identifies(), 2);
    assert_eq!(discord.connected_sessions(), 1);
    pg.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_loses_the_lock_closes_its_gateway_session_at_once() {
    if !Backend::Postgres.available().await {
        return;
    }
    let world =
        crate::discord::World::start(Backend::Postgres, &[("LEADER_TAKEOVER_SECS", "2")]).await;
    assert_eq!(world.discord.identifies(), 1);
    // The server ends the lock's session, as it does when it loses sight of the holder.
    world
        .app
        .sql(
            "SELECT CAST(pg_terminate_backend(pid) AS TEXT) FROM pg_locks \
             WHERE locktype = 'advisory' AND classid = 1685024626 \
             AND objid = CAST(hashtext(current_schema()) AS oid)",
        )
        .await;
    // The replica notices at its next look and ends its session for good (1000)...
    world
        .discord
        .wait_until("the session to be closed", PATIENCE, |d| {
            let first = d.gateway_connections().into_iter().next()?;
            (first.3 == Some(1000) && d.connected_sessions() == 0).then_some(())
        })
        .await;
    // ...and, the lock being free, takes it again and opens a new one.
    world
        .discord
        .wait_until("a new session", PATIENCE, |d| {
            (d.identifies() == 2 && d.connected_sessions() == 1).then_some(())
        })
        .await;
    assert_eq!(
        world.discord.resumes(),
        0,
        "a fresh session, not a resumed one"
    );
}
